"""Faces: find every face (MTCNN, aligned chips) and compute embeddings, as background jobs."""

import streamlit as st

from curation.ui.context import require_store
from curation.ui.faces import detect_section, embed_section, figures

store = require_store()
st.title("Faces")
figures(store)
detect_section(store)
embed_section(store)
