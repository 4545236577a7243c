"""Team mode in the app under AppTest: the sign-in gate on every page, roles in the widgets, the Team page."""

from __future__ import annotations

import json

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block

from curation.store import open_store

ROOT = Path(__file__).resolve().parents[1]
ENTRY = ROOT / "streamlit_app.py"
PAGES = re.findall(r'st\.Page\("([^"]+)"', ENTRY.read_text())
PASSWORD = "correct horse battery"
WRONG = "Wrong user name or password."
SIGN_IN_ELEMENTS = {"title", "caption", "text_input", "button", "error"}


@pytest.fixture
def team_project(project_copy, monkeypatch):
    """The sample project in team mode, with an admin, a reviewer and an annotator; the app's store."""
    monkeypatch.setenv("CURATION_PROJECT", str(project_copy))
    store = open_store(project_copy)
    for name, role in (("adm", "admin"), ("rev", "reviewer"), ("ann", "annotator")):
        store.add_user(name, role, PASSWORD, "setup")
    store.set_team_mode(True, "setup")
    return store


def on_page(page: str, who: str | None = None) -> AppTest:
    """The whole app (its navigation) opened on `page`, optionally with a typed name in the URL."""
    at = AppTest.from_file(str(ENTRY), default_timeout=60)
    if who:
        at.query_params["who"] = who
    return at.switch_page(page).run()


def sign_in(at: AppTest, name: str, password: str) -> AppTest:
    at.text_input(key="sign-in-name").set_value(name)
    at.text_input(key="sign-in-password").set_value(password)
    return next(b for b in at.button if b.label == "Sign in").click().run()


def element_types(block) -> set[str]:
    return {node.type for node in block if not isinstance(node, Block)}


def assert_sign_in_form_only(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert [t.value for t in at.title] == ["Sign in"]
    assert [t.label for t in at.text_input] == ["User name", "Password"]
    assert element_types(at.main) <= SIGN_IN_ELEMENTS, element_types(at.main)
    assert not [b for b in at.sidebar.button if b.label == "Sign out"]


def test_the_app_lists_the_team_page_after_home():
    assert PAGES[:2] == ["app_pages/home.py", "app_pages/team.py"] and len(PAGES) >= 9


@pytest.mark.parametrize("page", PAGES)
def test_every_page_shows_the_sign_in_form_and_no_data(team_project, page):
    at = on_page(page, who="adm")
    assert_sign_in_form_only(at)
    assert "principal" not in at.session_state


def test_a_wrong_password_and_an_unknown_name_get_the_same_sentence(team_project):
    at = on_page("app_pages/review.py")
    for name, password in (("ann", "not it at all"), ("nobody", PASSWORD), ("ann", "")):
        sign_in(at, name, password)
        assert [e.value for e in at.error] == [WRONG]
        assert_sign_in_form_only(at)


def test_an_annotator_sees_data_labels_as_themselves_and_may_not_press_reviewer_buttons(team_project):
    at = sign_in(on_page("app_pages/review.py", who="adm"), "ann", PASSWORD)
    assert not at.exception and not at.error
    assert "Signed in as **ann** · annotator" in [c.value for c in at.sidebar.caption]
    tiles = json.loads(at.get("bidi_component")[0].proto.json)["tiles"]
    assert len(tiles) == 96
    at.session_state["detail"] = tiles[0]["id"]
    at.run()
    at.button(key="quick-3").click().run()
    assert at.success[0].value == f"Labelled #{tiles[0]['id']} 'star'."
    assert team_project.query("SELECT actor FROM events") == [("ann",)]
    at.session_state["detail"] = None

    at.switch_page("app_pages/gather.py").run()
    start = next(b for b in at.button if b.label == "Start gathering")
    assert start.disabled and "ann may not gather images from the web" in start.help
    at.switch_page("app_pages/home.py").run()
    assert at.metric, "Home shows the pipeline"
    ingest = next(b for b in at.button if b.label == "Ingest")
    assert ingest.disabled and "ask an admin" in ingest.help
    at.switch_page("app_pages/team.py").run()
    assert at.button(key="team-mode").disabled
    assert next(b for b in at.button if b.label == "Add user").disabled


def test_a_reviewer_may_gather_but_not_ingest(team_project):
    at = sign_in(on_page("app_pages/gather.py"), "rev", PASSWORD)
    assert not next(b for b in at.button if b.label == "Start gathering").disabled
    at.switch_page("app_pages/home.py").run()
    assert next(b for b in at.button if b.label == "Ingest").disabled


def test_sign_out_ends_the_session(team_project):
    at = sign_in(on_page("app_pages/home.py"), "adm", PASSWORD)
    token = at.session_state["session-tokens"][str(team_project.project.root)]
    assert team_project.principal_for(token).name == "adm" and at.metric
    at.sidebar.button(key="sign-out").click().run()
    assert_sign_in_form_only(at)
    assert team_project.principal_for(token) is None


def test_an_admin_adds_a_user_changes_their_role_and_deactivates_them(team_project):
    at = sign_in(on_page("app_pages/team.py"), "adm", PASSWORD)
    at.text_input(key="new-user-name").set_value("zed")
    at.selectbox(key="new-user-role").set_value("reviewer")
    at.text_input(key="new-user-password").set_value("zeds password")
    next(b for b in at.button if b.label == "Add user").click().run()
    assert at.success[0].value == "Added zed as reviewer."
    assert "zed" in list(at.dataframe[0].value["name"])
    at.selectbox(key="manage-user").set_value("zed")
    at.selectbox(key="manage-role").set_value("admin")
    at.button(key="change-role").click().run()
    assert at.success[0].value == "zed is now admin."
    at.selectbox(key="manage-user").set_value("zed")
    at.button(key="deactivate-user").click().run()
    assert at.success[0].value == "Deactivated zed."
    assert team_project.query("SELECT role, active FROM users WHERE name = 'zed'") == [("admin", False)]
    at.selectbox(key="manage-user").set_value("adm")
    at.button(key="deactivate-user").click().run()
    assert "at least one active admin" in at.error[0].value


def test_team_mode_is_switched_on_from_the_team_page(project_copy, monkeypatch):
    monkeypatch.setenv("CURATION_PROJECT", str(project_copy))
    at = on_page("app_pages/team.py", who="tester")
    assert not at.exception and "Team mode is off" in at.info[0].value
    at.button(key="team-mode").click().run()
    assert "Add an active admin" in at.error[0].value
    at.text_input(key="new-user-name").set_value("boss")
    at.selectbox(key="new-user-role").set_value("admin")
    at.text_input(key="new-user-password").set_value("boss password")
    next(b for b in at.button if b.label == "Add user").click().run()
    at.button(key="team-mode").click().run()
    assert_sign_in_form_only(at)
    sign_in(at, "boss", "boss password")
    assert "Team mode is on" in at.success[-1].value


def test_signed_in_review_sends_pictures_inline_and_registers_no_media(team_project):
    at = sign_in(on_page("app_pages/review.py"), "ann", PASSWORD)
    assert not at.exception and not at.error
    tiles = json.loads(at.get("bidi_component")[0].proto.json)["tiles"]
    assert len(tiles) == 96 and all(t["src"].startswith("data:image/jpeg;base64,") for t in tiles)
    assert not at.get("image"), "no st.image: it would put the picture behind a /media/ URL"
    at.session_state["detail"] = tiles[0]["id"]
    at.run()
    assert not at.exception and not at.get("image")
    zoom = [json.loads(c.proto.json) for c in at.get("bidi_component")]
    assert len(zoom) == 1 and zoom[0]["src"].startswith("data:image/jpeg;base64,")
