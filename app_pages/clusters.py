"""Clusters: clean noisy identities (Ng & Winkler) and decide the suggestions, one by one or all at once."""

import streamlit as st

from curation.ui.clusters import choose_identity, clean_section, identity_section
from curation.ui.context import require_annotator, require_store
from curation.ui.discover import discover_section

store = require_store()
who = require_annotator()
st.title("Clusters")
st.caption("Per identity, the faces that are that person (decided over every label at once, at most one face per "
           "photo) and those suggested for removal or relabelling. Nothing changes until you accept.")
if clean_section(store, who):
    label = choose_identity(store)
    if label:
        identity_section(store, label, who)
discover_section(store, who)
