"""Discovery and quality checks in a real browser: propose people among unlabelled lfw10 faces and name
one; run the quality checks on the sample project and flag the suggested."""

from __future__ import annotations

import re
import shutil

import pytest

from curation.store import open_store

from .harness import screenshot, served, wait_for_app

pytestmark = pytest.mark.e2e


@pytest.fixture
def half_unlabelled_lfw(lfw_project, tmp_path):
    """lfw10 with the labels of five of its ten people removed."""
    root = tmp_path / "project"
    shutil.copytree(lfw_project[0], root)
    store = open_store(root)
    with store.transaction() as cur:
        cur.execute("UPDATE images SET label = NULL WHERE label IN (SELECT name FROM labels ORDER BY name LIMIT 5)")
    store.close()
    return root


def test_discover_and_name_a_person(half_unlabelled_lfw, page, tmp_path):
    root = half_unlabelled_lfw
    with served(root, tmp_path / "serve.log") as url:
        page.goto(f"{url}/clusters?who=e2e-reviewer")
        wait_for_app(page)
        page.locator(".st-key-discover-run button").click()
        page.get_by_text("Discover #").first.wait_for(timeout=120_000)
        wait_for_app(page)
        page.get_by_text("Proposed person").first.wait_for()
        screenshot(page, "clusters-discovery")
        page.locator("[class*='st-key-discover-name-'] input").first.fill("Someone_New")
        page.keyboard.press("Enter")
        wait_for_app(page)
        page.locator("[class*='st-key-discover-label-'] button").first.click()
        page.get_by_text("'Someone_New'").first.wait_for()
        wait_for_app(page)
        screenshot(page, "clusters-discovery-named")
    store = open_store(root)
    try:
        assert store.query("SELECT count(*) FROM images WHERE label = 'Someone_New'")[0][0] >= 5
    finally:
        store.close()


def test_quality_checks_and_flag(app, page):
    url, root = app
    page.goto(f"{url}/quality?who=e2e-reviewer")
    wait_for_app(page)
    page.locator(".st-key-quality-run button").click()
    page.get_by_text("finished").first.wait_for(timeout=120_000)
    wait_for_app(page)
    screenshot(page, "quality")


@pytest.fixture
def tagged_lfw(lfw_project, tmp_path):
    """lfw10 with an attribute 'group' (first five people A, the rest B), two images of each person tagged."""
    root = tmp_path / "project"
    shutil.copytree(lfw_project[0], root)
    store = open_store(root)
    people = store.label_names()
    store.define_attribute("group", ["A", "B"], "admin")
    for index, person in enumerate(people):
        ids = [i for i, in store.query("SELECT id FROM images WHERE label = ? ORDER BY id LIMIT 2", [person])]
        store.tag_images(ids, "group", "A" if index < 5 else "B", "tagger")
    store.close()
    return root


def test_propose_and_confirm_attribute_values(tagged_lfw, page, tmp_path):
    with served(tagged_lfw, tmp_path / "serve.log") as url:
        page.goto(f"{url}/audit?who=e2e-reviewer")
        wait_for_app(page)
        page.get_by_role("button", name="Propose values").click()
        page.get_by_text("Propose #").first.wait_for(timeout=120_000)
        wait_for_app(page)
        page.get_by_text("await confirmation").first.wait_for()
        wait_for_app(page)
        page.get_by_role("button", name="Propose values").scroll_into_view_if_needed()
        screenshot(page, "audit-proposals")
        page.get_by_role("button", name=re.compile(r"^Confirm \d+")).click()
        page.get_by_text("Confirmed").first.wait_for()
        wait_for_app(page)
        screenshot(page, "audit-proposals-confirmed")
