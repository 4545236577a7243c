"""Which project a session works on, its cached store, and who the annotator is (in team mode: who signed in)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import streamlit as st

from ..project import DB_NAME, ProjectError
from ..store import Store, open_store
from .text import md_text
from .signin import busy_sign_in_form, require_user, signed_in
from .warm import warm_pages

log = logging.getLogger("curation.app")

PROJECT_KEY = "project"
ANNOTATOR_KEY = "annotator"


@st.cache_resource(show_spinner=False)
def cached_store(root: str) -> Store:
    """One store per project for the whole app; jobs a dead process left running end as failed; the
    heaviest pages' first reads start in the background."""
    store = open_store(root)
    store.fail_orphaned_jobs()
    warm_pages(store)
    return store


def served_project() -> str | None:
    """The project `curation serve DIR` (CURATION_PROJECT) fixed at start; None for a bare server."""
    return os.environ.get("CURATION_PROJECT") or None


def project_root() -> str | None:
    """The served project, always; on a server started without one, the project this session opened."""
    return served_project() or st.session_state.get(PROJECT_KEY) or None


def may_switch_project() -> bool:
    """Whether this session may open or create another project folder: never on a served project
    (a visitor could otherwise point the server at any folder on its disk), and on a bare server
    only in single-user mode or as a signed-in admin of the session's current project."""
    if served_project():
        return False
    principal = signed_in()
    return principal is None or principal.role == "admin"


def use_project(root: str) -> Store:
    store = cached_store(str(root))
    st.session_state[PROJECT_KEY] = str(store.project.root)
    return store


def require_store() -> Store:
    """The session's store, or a message pointing at the home page and a stop; in team mode also a
    signed-in user (else the sign-in form and a stop), who is then the annotator of every change."""
    if not project_root():
        st.info("No project is open: open or create one on the Home page.")
        st.stop()
    store = open_project_store()
    if store is None:
        st.stop()
    return store


def open_project_store() -> Store | None:
    """The session's project behind the sign-in gate; None when there is none, or, on a bare server,
    when the one this session chose cannot be opened (Home then offers to open another)."""
    root = project_root()
    if not root:
        return None
    try:
        store = use_project(root)
    except ProjectError as exc:
        unavailable(root, exc)
        return None
    principal = require_user(store)
    if principal is not None:
        st.session_state[ANNOTATOR_KEY] = principal.name
    return store


def unavailable(root: str, exc: ProjectError) -> None:
    """A project that cannot be opened, told without a server path; the reason goes to the log.

    Whether it is in team mode cannot be read while it is closed to us, so a project that exists
    is treated as if it were: the visitor sees the sign-in form and nothing else (fail closed)."""
    log.warning("Cannot open the project at %s: %s", root, exc)
    if (Path(root).expanduser() / DB_NAME).is_file():
        busy_sign_in_form("The project cannot be opened right now: another process (a command, or another app) "
                          "has it open, or its database cannot be read. Try again once that process is done.")
        st.stop()
    if served_project():
        st.error("This server's project folder holds no project: run `curation init` on it, then restart the "
                 "server.")
        st.stop()
    st.error("There is no project in that folder any more: open or create another one.")
    st.session_state.pop(PROJECT_KEY, None)


def annotator() -> str | None:
    name = st.session_state.get(ANNOTATOR_KEY) or st.query_params.get("who")
    if name:
        st.session_state[ANNOTATOR_KEY] = name
        st.query_params["who"] = name
    return name


def require_annotator() -> str:
    """The annotator's name, asked once per browser session and kept in the URL across reloads; in
    team mode, the signed-in user's (call `require_store` first)."""
    principal = signed_in()
    if principal is not None:
        return principal.name
    name = annotator()
    if name:
        with st.sidebar:
            st.caption(f"Signed as **{md_text(name)}**: every change you make is recorded with this name.")
        return name
    with st.form("who"):
        st.subheader("Who is reviewing?")
        typed = st.text_input("Your name", placeholder="e.g. Ada", help="Recorded on every change you make.")
        if st.form_submit_button("Start reviewing", type="primary") and typed.strip():
            st.session_state[ANNOTATOR_KEY] = typed.strip()[:64]
            st.query_params["who"] = st.session_state[ANNOTATOR_KEY]
            st.rerun()
    st.stop()
