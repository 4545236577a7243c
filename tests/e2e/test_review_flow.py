"""A user's session in a real browser: label, flag, undo, reload, and see what persisted; the grid
from the keyboard; the detail view's label-and-advance."""

from __future__ import annotations

import json

import pytest

from curation.store import open_store

from .grid import grid, label_by_search, select, selected_ids, settle, tile
from .harness import screenshot, served, wait_for_app

pytestmark = pytest.mark.e2e


def first_usable_ids(root, n: int) -> list[int]:
    store = open_store(root)
    try:
        return [r[0] for r in store.query("SELECT id FROM images WHERE status = 'ok' ORDER BY id LIMIT ?", [n])]
    finally:
        store.close()


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
    select(page, ids[:3])
    assert page.get_by_text("3 selected").is_visible()
    label_by_search(page, "hexagon")
    assert page.get_by_text("Labelled 3 images 'hexagon'.").is_visible()
    assert selected_ids(page) == [], "an applied label clears the selection"

    tile(page, ids[3]).click()
    page.keyboard.press("f")
    settle(page)
    assert page.get_by_text("Flagged 1 image as Failed.").is_visible()
    tile(page, ids[3]).get_by_text("Failed").wait_for()
    screenshot(page, "review-after-flag")

    page.keyboard.press("Control+z")
    settle(page)
    assert page.get_by_text("Undid flag on 1 image.").is_visible()

    page.reload()
    wait_for_app(page)
    for image_id in ids[:3]:
        assert tile(page, image_id).get_attribute("aria-label") == f"#{image_id} hexagon"
    assert tile(page, ids[3]).get_by_text("Failed").count() == 0
    screenshot(page, "review-grid")

    page.goto(f"{url}/home")
    wait_for_app(page)
    screenshot(page, "home")


@pytest.fixture
def app_and_ids(project_copy, tmp_path):
    """The first 25 usable ids (read before the app opens the project), and the served app."""
    ids = first_usable_ids(project_copy, 25)
    with served(project_copy, tmp_path / "serve.log") as url:
        yield url, ids


def test_select_twenty_by_click_and_shift_click_and_label_with_one_key(app_and_ids, page):
    url, ids = app_and_ids
    ids = ids[3:23]
    page.goto(f"{url}/review?who=e2e-keys")
    wait_for_app(page)
    legend = page.locator("[aria-keyshortcuts='2']")
    assert legend.inner_text().endswith("square")
    tile(page, ids[0]).click()
    tile(page, ids[-1]).click(modifiers=["Shift"])
    assert selected_ids(page) == ids
    page.keyboard.press("2")
    settle(page)
    assert page.get_by_text("Labelled 20 images 'square'.").is_visible()
    for image_id in ids:
        assert tile(page, image_id).get_attribute("aria-label") == f"#{image_id} square"
    screenshot(page, "review-grid-labelled")


def test_arrow_keys_move_the_focus_and_enter_opens(app_and_ids, page):
    url, ids = app_and_ids
    page.goto(f"{url}/review?who=e2e-keys")
    wait_for_app(page)
    start, end = tile(page, ids[0]).bounding_box(), tile(page, ids[2]).bounding_box()
    page.mouse.move(start["x"] + 10, start["y"] + 10)
    page.mouse.down()
    page.mouse.move(end["x"] + 20, end["y"] + 20, steps=8)
    page.mouse.up()
    assert selected_ids(page) == ids[:3], "a dragged rectangle selects what it touches"
    page.keyboard.press("Control+a")
    assert len(selected_ids(page)) == 96
    tile(page, ids[0]).click()
    page.keyboard.press("Escape")
    assert selected_ids(page) == []
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowLeft")
    focused = grid(page).locator(".cg-focus").get_attribute("aria-label")
    assert focused.startswith(f"#{ids[1]} ")
    page.keyboard.press("ArrowDown")
    below = grid(page).locator(".cg-focus").get_attribute("aria-label")
    top = tile(page, ids[0]).bounding_box()["y"]
    per_row = sum(1 for i in ids if tile(page, i).bounding_box()["y"] == top)
    assert below.startswith(f"#{ids[1 + per_row]} "), (below, per_row)
    page.keyboard.press("Enter")
    settle(page)
    assert page.get_by_role("heading", name=f"#{ids[1 + per_row]}").is_visible()


def test_detail_labels_and_moves_on(app_and_ids, page):
    url, ids = app_and_ids
    page.goto(f"{url}/review?who=e2e-keys")
    wait_for_app(page)
    tile(page, ids[0]).dblclick()
    settle(page)
    assert page.get_by_role("heading", name=f"#{ids[0]}").is_visible()
    page.keyboard.press("3")
    wait_for_app(page)
    assert page.get_by_text(f"Labelled #{ids[0]} 'star'.").is_visible()
    assert page.get_by_role("heading", name=f"#{ids[1]}").is_visible(), "a label key moves to the next image"
    page.locator(".st-key-detail-stay label").click()
    wait_for_app(page)
    page.keyboard.press("4")
    wait_for_app(page)
    assert page.get_by_role("heading", name=f"#{ids[1]}").is_visible(), "the setting keeps it on the image"
    page.locator(".st-key-detail-more label").click()
    wait_for_app(page)
    page.locator("[data-testid='stDataFrame']").last.wait_for()
    screenshot(page, "review-detail")

    page.goto(f"{url}/failed")
    wait_for_app(page)
    assert page.get_by_text("7 files could not be used").is_visible()
    screenshot(page, "failed-files")
