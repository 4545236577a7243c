"""Cleaning in a real browser: run the cleaning, accept a suggestion, undo it with the keyboard."""

from __future__ import annotations

import shutil

import pytest

from curation.store import open_store

from .harness import screenshot, served, wait_for_app

pytestmark = pytest.mark.e2e
PERSON = "George_W_Bush"


@pytest.fixture
def noisy_lfw(lfw_project, tmp_path):
    """lfw10 with three photos of Tony Blair relabelled as George W Bush; and their ids."""
    root = tmp_path / "project"
    shutil.copytree(lfw_project[0], root)
    store = open_store(root)
    blair = [i for i, in store.query("SELECT id FROM images WHERE label = 'Tony_Blair' ORDER BY id LIMIT 3")]
    store.set_label(blair, PERSON, "injector")
    store.close()
    return root, blair


def labels_of(root, ids) -> list[str]:
    store = open_store(root)
    try:
        return [store.query("SELECT label FROM images WHERE id = ?", [i])[0][0] for i in ids]
    finally:
        store.close()


def open_heading(page, n: int):
    return page.get_by_text(f"Suggested for removal or relabelling ({n})")


def test_accept_a_suggestion_and_undo_it(noisy_lfw, page, tmp_path):
    root, blair = noisy_lfw
    with served(root, tmp_path / "serve.log") as url:
        page.goto(f"{url}/clusters?who=e2e-reviewer")
        wait_for_app(page)
        page.locator(".st-key-clean-run button").click()
        page.get_by_text("finished").first.wait_for(timeout=120_000)
        wait_for_app(page)
        assert page.get_by_text("relabel → Tony_Blair").first.is_visible()
        screenshot(page, "clusters-suggestions")
        page.locator(".st-key-accept-next button").click()
        page.get_by_text("Accepted 1 suggestion.").wait_for()
        wait_for_app(page)
        assert open_heading(page, 2).is_visible()
        page.locator("body").press("Control+z")
        page.get_by_text("Undid").first.wait_for()
        wait_for_app(page)
        assert open_heading(page, 3).is_visible()
        screenshot(page, "clusters-after-undo")
    assert labels_of(root, blair) == [PERSON] * 3
    store = open_store(root)
    actions = [a for a, in store.query("SELECT action FROM events WHERE actor = 'e2e-reviewer' ORDER BY id")]
    store.close()
    assert actions == ["suggestion", "label", "undo", "undo"]

