"""Team mode in a real browser: nothing shows before sign-in, roles refuse what they should, and two
annotators relabelling the same images at once both leave their events."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from streamlit.runtime.memory_media_file_storage import _calculate_file_id

from curation.accounts import PermissionDenied
from curation.jobs import start_job
from curation.store import open_store

from .grid import label_by_search, select, tile, tiles
from .harness import screenshot, served, wait_for_app

pytestmark = pytest.mark.e2e

PASSWORD = "correct-horse-battery"
SAMPLE_LABELS = ("circle", "square", "triangle", "star")
APP_FILE = Path(__file__).resolve().parents[2] / "streamlit_app.py"
ANNOTATOR_REFUSED_TRAIN = "Signed in as an annotator, ann may not train a model; ask a reviewer or an admin."
ANNOTATOR_REFUSED_DECIDE = ("Signed in as an annotator, ann may not accept or reject cleaning suggestions; "
                            "ask a reviewer or an admin.")


def url_paths() -> list[str]:
    """Every page's url_path, read from streamlit_app.py so that a new page is covered too."""
    paths = re.findall(r'url_path="([^"]+)"', APP_FILE.read_text())
    assert len(paths) >= 10, paths
    return paths


def team_project(root: Path, annotators: tuple[str, ...] = ("ann",)) -> list[int]:
    """Team mode on, with an admin and the annotators (all with PASSWORD); the first usable image ids.
    The store is closed after, so that the served app can own the database."""
    store = open_store(root)
    try:
        store.add_user("boss", "admin", PASSWORD, "cli")
        for name in annotators:
            store.add_user(name, "annotator", PASSWORD, "cli")
        store.set_team_mode(True, "cli")
        return [r[0] for r in store.query("SELECT id FROM images WHERE status = 'ok' ORDER BY id LIMIT 3")]
    finally:
        store.close()


def first_thumbnail(root: Path) -> Path:
    """The thumbnail of the first usable image: the first one the Review grid shows."""
    store = open_store(root)
    try:
        sha = store.query("SELECT sha256 FROM images WHERE status = 'ok' ORDER BY id LIMIT 1")[0][0]
        return store.project.thumb_path(sha)
    finally:
        store.close()


def sign_in(page, url: str, path: str, name: str) -> None:
    """Open `path`, meet the sign-in form, sign in as `name`: the page then draws for that user."""
    page.goto(f"{url}/{path}")
    wait_for_app(page)
    page.locator(".st-key-sign-in-name input").fill(name)
    page.locator(".st-key-sign-in-password input").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text(f"Signed in as {name}").wait_for()
    wait_for_app(page)


def test_signed_out_every_page_shows_no_data(project_copy, browser, tmp_path):
    team_project(project_copy)
    paths = url_paths()
    with served(project_copy, tmp_path / "serve.log") as url:
        for n, path in enumerate(paths):
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            try:
                page = context.new_page()
                page.goto(f"{url}/{path}")
                wait_for_app(page)
                main = page.locator("[data-testid='stMain']")
                assert main.get_by_role("heading", name="Sign in").is_visible(), path
                assert page.locator(".st-key-sign-in-name input").is_visible(), path
                assert page.locator(".st-key-sign-in-password input").is_visible(), path
                assert page.locator("img[src*='/media/']").count() == 0, path
                assert page.locator("[data-testid='stDataFrame']").count() == 0, path
                text = main.inner_text().lower()
                shown = [label for label in SAMPLE_LABELS if label in text]
                assert not shown, f"{path} shows {shown} before sign-in"
                if n == paths.index("review"):
                    screenshot(page, "team-signed-out-review")
            finally:
                context.close()


def test_an_annotator_is_refused_a_reviewers_action(project_copy, page, tmp_path):
    ids = team_project(project_copy)
    with served(project_copy, tmp_path / "serve.log") as url:
        sign_in(page, url, "review", "ann")
        select(page, [ids[0]])
        label_by_search(page, "hexagon")
        assert page.get_by_text("Labelled 1 image 'hexagon'.").is_visible()

        page.locator("[data-testid='stSidebarNavLink'][href$='/train']").click()  # a goto would sign out
        wait_for_app(page)
        assert page.get_by_role("heading", name="Train").is_visible()
        button = page.get_by_role("button", name="Start training")
        assert button.is_disabled()
        button.hover(force=True)
        tooltip = page.locator("[data-testid='stTooltipContent']")
        tooltip.wait_for()
        assert tooltip.inner_text().strip() == ANNOTATOR_REFUSED_TRAIN
        screenshot(page, "team-annotator-refused-train")

    store = open_store(project_copy)
    try:
        assert store.team_mode()
        with pytest.raises(PermissionDenied) as refused:
            start_job(store, "train", {"arch": "linear", "epochs": 1}, actor="ann")
        assert str(refused.value) == ANNOTATOR_REFUSED_TRAIN
        with pytest.raises(PermissionDenied) as refused:
            store.decide_suggestions([1], True, "ann")
        assert str(refused.value) == ANNOTATOR_REFUSED_DECIDE
        events = store.query("SELECT actor, action, image_id FROM events ORDER BY id")
        jobs = store.query("SELECT count(*) FROM jobs")[0][0]
        label = store.query("SELECT label FROM images WHERE id = ?", [ids[0]])[0][0]
    finally:
        store.close()
    assert events == [("ann", "label", ids[0])]
    assert label == "hexagon" and jobs == 0


def test_two_annotators_relabel_the_same_images_at_once(project_copy, browser, tmp_path):
    ids = team_project(project_copy, ("ann", "bea"))
    chosen = {"ann": "hexagon", "bea": "pentagon"}
    contexts = {name: browser.new_context(viewport={"width": 1400, "height": 1000}) for name in chosen}
    try:
        pages = {name: context.new_page() for name, context in contexts.items()}
        with served(project_copy, tmp_path / "serve.log") as url:
            for name, page in pages.items():
                sign_in(page, url, "review", name)
                select(page, ids)
                assert page.get_by_text("3 selected").is_visible()
                page.keyboard.press("/")
                page.keyboard.type(chosen[name])
            for page in pages.values():  # back to back: both runs are in flight together
                page.keyboard.press("Enter")
            for name, page in pages.items():
                page.get_by_text(f"Labelled 3 images '{chosen[name]}'.").wait_for()
                wait_for_app(page)
            screenshot(pages["bea"], "team-two-annotators-applied")

            shown = {}
            for name, page in pages.items():
                page.reload()
                wait_for_app(page)
                # the session lives in the page's Streamlit session only: a reload signs out
                assert page.locator(".st-key-sign-in-name input").is_visible()
                sign_in(page, url, "review", name)
                shown[name] = [tile(page, image_id).get_attribute("aria-label") for image_id in ids]
            screenshot(pages["ann"], "team-two-annotators-reloaded")
    finally:
        for context in contexts.values():
            context.close()

    store = open_store(project_copy)
    try:
        events = store.query("SELECT id, actor, action, image_id, before, after FROM events ORDER BY id")
        labels = dict(store.query("SELECT id, label FROM images WHERE id IN (SELECT unnest(?))", [ids]))
    finally:
        store.close()
    assert len(events) == 6 and {e[2] for e in events} == {"label"}
    by_actor = {name: [e for e in events if e[1] == name] for name in chosen}
    for name, label in chosen.items():
        assert sorted(e[3] for e in by_actor[name]) == sorted(ids)
        assert all(json.loads(e[5]) == {"label": label} for e in by_actor[name])
    for image_id in ids:
        history = [e for e in events if e[3] == image_id]  # ordered by id
        assert [e[1] for e in history] in (["ann", "bea"], ["bea", "ann"])
        first, later = (json.loads(e[5])["label"] for e in history)
        assert {first, later} == set(chosen.values())
        assert json.loads(history[1][4]) == {"label": first}  # the later relabel saw the earlier one
        assert labels[image_id] == later
    latest = [labels[image_id] for image_id in ids]
    for name, texts in shown.items():
        assert [label in text for label, text in zip(latest, texts)] == [True] * 3, (name, texts, latest)
    assert shown["ann"] == shown["bea"]


def media_url(url: str, thumb: Path) -> str:
    """The /media/ URL st.image gives a thumbnail: Streamlit names a file by its bytes' hash."""
    return f"{url}/media/{_calculate_file_id(thumb.read_bytes(), 'image/jpeg')}.jpg"


def test_pictures_reach_only_the_signed_in_session(project_copy, page, tmp_path):
    thumb = first_thumbnail(project_copy)
    team_project(project_copy)
    with served(project_copy, tmp_path / "serve.log") as url:
        sign_in(page, url, "review", "ann")
        pictures = tiles(page).locator("img")
        pictures.nth(95).wait_for()  # the sign-in rerun may still be drawing the grid
        sources = pictures.evaluate_all("els => els.map(e => e.getAttribute('src'))")
        assert len(sources) == 96 and all(s.startswith("data:image/jpeg;base64,") for s in sources)
        assert pictures.first.evaluate("e => e.complete && e.naturalWidth > 0")
        assert page.locator("img[src*='/media/']").count() == 0
        screenshot(page, "team-review-grid")
        response = httpx.get(media_url(url, thumb))
        assert response.status_code == 404 and not response.content.startswith(b"\xff\xd8")
