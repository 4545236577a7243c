"""Which project a session works on, its cached store, and who the annotator is (in team mode: who signed in)."""

from __future__ import annotations

import os

import streamlit as st

from ..project import ProjectError
from ..store import Store, open_store
from .signin import require_user, signed_in

PROJECT_KEY = "project"
ANNOTATOR_KEY = "annotator"


@st.cache_resource(show_spinner=False)
def cached_store(root: str) -> Store:
    """One store per project for the whole app; jobs a dead process left running end as failed."""
    store = open_store(root)
    store.fail_orphaned_jobs()
    return store


def project_root() -> str | None:
    return st.session_state.get(PROJECT_KEY) or os.environ.get("CURATION_PROJECT") or None


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
    """The session's project behind the sign-in gate; None, with the error shown, when there is no
    project or it cannot be opened (Home still offers to open another)."""
    root = project_root()
    if not root:
        return None
    try:
        store = use_project(root)
    except ProjectError as exc:
        st.error(str(exc))
        return None
    principal = require_user(store)
    if principal is not None:
        st.session_state[ANNOTATOR_KEY] = principal.name
    return store


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
            st.caption(f"Signed as **{name}**: every change you make is recorded with this name.")
        return name
    with st.form("who"):
        st.subheader("Who is reviewing?")
        typed = st.text_input("Your name", placeholder="e.g. Ada", help="Recorded on every change you make.")
        if st.form_submit_button("Start reviewing", type="primary") and typed.strip():
            st.session_state[ANNOTATOR_KEY] = typed.strip()[:64]
            st.query_params["who"] = st.session_state[ANNOTATOR_KEY]
            st.rerun()
    st.stop()
