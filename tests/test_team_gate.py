"""The team-mode gate cannot be walked around (issue 12, item 1): Home's project picker and
everything else stay behind sign-in whenever the served project is (or may be) in team mode, and a
served project is fixed: no visitor can point the server at another folder."""

from __future__ import annotations

import subprocess
import sys

import pytest
from test_team_pages import PASSWORD, assert_sign_in_form_only, on_page, sign_in

from curation.store import open_store

HOLD = "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print('held', flush=True); time.sleep(120)"


@pytest.fixture
def held_team_project(project_copy):
    """A team project whose database another process holds, as `curation user add` does while it waits."""
    make_team(project_copy)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(project_copy / "project.duckdb")],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    yield project_copy
    holder.kill()
    holder.wait()


def make_team(root) -> None:
    store = open_store(root)
    for name, role in (("adm", "admin"), ("ann", "annotator")):
        store.add_user(name, role, PASSWORD, "setup")
    store.set_team_mode(True, "setup")
    store.close()


@pytest.mark.parametrize("page", ["app_pages/home.py", "app_pages/review.py", "app_pages/failed_files.py"])
def test_a_held_team_project_shows_only_the_sign_in_form(held_team_project, monkeypatch, page):
    monkeypatch.setenv("CURATION_PROJECT", str(held_team_project))
    at = on_page(page)
    assert_sign_in_form_only(at)
    assert not [b for b in at.button if b.label in ("Open", "Create")]
    assert len(at.error) == 1 and "cannot be opened right now" in at.error[0].value
    assert str(held_team_project) not in at.error[0].value
    sign_in(at, "adm", PASSWORD)
    assert_sign_in_form_only(at)


def test_a_served_project_offers_no_picker_even_in_single_user_mode(project_copy, monkeypatch):
    monkeypatch.setenv("CURATION_PROJECT", str(project_copy))
    at = on_page("app_pages/home.py", who="tester")
    assert not at.exception and at.metric
    assert not [t for t in at.text_input if t.key == "project-path"]


def test_a_served_project_ignores_a_project_set_in_the_session(project_copy, tmp_path, monkeypatch):
    other = tmp_path / "other"
    open_store(project_copy).close()
    from curation.store import init_project

    init_project(other).close()
    monkeypatch.setenv("CURATION_PROJECT", str(project_copy))
    at = on_page("app_pages/home.py", who="tester")
    at.session_state["project"] = str(other)
    at.run()
    assert {m.label: m.value for m in at.metric}["Verify"] != "0"


def test_on_a_bare_server_only_an_admin_of_a_team_project_may_switch(project_copy, monkeypatch):
    make_team(project_copy)
    monkeypatch.delenv("CURATION_PROJECT", raising=False)
    at = on_page("app_pages/home.py")
    assert [t.key for t in at.text_input] == ["project-path"], "a bare server with no project offers the picker"
    at.session_state["project"] = str(project_copy)
    at.run()
    assert_sign_in_form_only(at)
    sign_in(at, "ann", PASSWORD)
    assert not at.exception and at.metric
    assert not [t for t in at.text_input if t.key == "project-path"]
    next(b for b in at.sidebar.button if b.label == "Sign out").click().run()
    sign_in(at, "adm", PASSWORD)
    assert [t for t in at.text_input if t.key == "project-path"]
