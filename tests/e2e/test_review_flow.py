"""A user's session in a real browser: label, flag, undo, reload, and see what persisted."""

from __future__ import annotations

import json

import pytest

from curation.store import open_store

from .harness import screenshot, served, wait_for_app

pytestmark = pytest.mark.e2e


def first_usable_ids(root, n: int) -> list[int]:
    store = open_store(root)
    try:
        return [r[0] for r in store.query("SELECT id FROM images WHERE status = 'ok' ORDER BY id LIMIT ?", [n])]
    finally:
        store.close()


def click(page, key: str) -> None:
    page.locator(f".st-key-{key} button").first.click()
    wait_for_app(page)


def tick(page, image_id: int) -> None:
    page.locator(f".st-key-sel-{image_id} label").click()
    wait_for_app(page)


def caption(page, image_id: int):
    return page.locator("[data-testid='stMarkdownContainer'] p", has_text=f"· #{image_id}").first


def test_label_flag_undo_reload(project_copy, page, tmp_path):
    root = project_copy
    ids = first_usable_ids(root, 4)
    with served(root, tmp_path / "serve.log") as url:
        label_flag_undo_reload(page, url, ids)
    store = open_store(root)
    events = store.query("SELECT actor, action, image_id, before, after FROM events ORDER BY id")
    labels = dict(store.query("SELECT id, label FROM images WHERE id IN (SELECT unnest(?))", [ids]))
    active = store.query("SELECT count(*) FROM flags WHERE image_id = ? AND active", [ids[3]])[0][0]
    kept = store.query("SELECT count(*) FROM flags WHERE image_id = ? AND NOT active", [ids[3]])[0][0]
    store.close()
    assert [(a, act) for a, act, *_ in events] == [("e2e-annotator", "label")] * 3 + [
        ("e2e-annotator", "flag"), ("e2e-annotator", "undo")]
    assert [json.loads(e[4])["label"] for e in events[:3]] == ["hexagon"] * 3
    assert [labels[i] for i in ids[:3]] == ["hexagon"] * 3
    assert (active, kept) == (0, 1)


def label_flag_undo_reload(page, url: str, ids: list[int]) -> None:
    page.goto(f"{url}/review?who=e2e-annotator")
    wait_for_app(page)
    for image_id in ids[:3]:
        tick(page, image_id)
    page.locator(".st-key-bulk-label input").fill("hexagon")
    page.keyboard.press("Enter")
    wait_for_app(page)
    click(page, "apply-label")
    assert page.get_by_text("Labelled 3 images 'hexagon'.").is_visible()

    tick(page, ids[3])
    click(page, "apply-flag")
    assert page.get_by_text("Flagged 1 image as Failed.").is_visible()
    assert "Failed" in caption(page, ids[3]).inner_text()
    screenshot(page, "review-after-flag")

    click(page, "undo")
    assert page.get_by_text("Undid flag on 1 image.").is_visible()

    page.reload()
    wait_for_app(page)
    for image_id in ids[:3]:
        assert "hexagon" in caption(page, image_id).inner_text()
    assert "Failed" not in caption(page, ids[3]).inner_text()
    screenshot(page, "review-grid")

    page.goto(f"{url}/home")
    wait_for_app(page)
    screenshot(page, "home")


def test_detail_keyboard_and_history(app, page):
    url, root = app
    ids = first_usable_ids(root, 2)
    page.goto(f"{url}/review?who=e2e-keys")
    wait_for_app(page)
    click(page, f"open-{ids[0]}")
    assert page.get_by_role("heading", name=f"#{ids[0]}").is_visible()
    page.keyboard.press("ArrowRight")
    wait_for_app(page)
    assert page.get_by_role("heading", name=f"#{ids[1]}").is_visible()
    page.keyboard.press("2")
    wait_for_app(page)
    assert page.get_by_text(f"Labelled #{ids[1]}").is_visible()
    history = page.locator("[data-testid='stDataFrame']").last
    history.wait_for()
    screenshot(page, "review-detail")

    page.goto(f"{url}/failed")
    wait_for_app(page)
    assert page.get_by_text("7 files could not be used").is_visible()
    screenshot(page, "failed-files")
