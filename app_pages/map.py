"""Map: every face (or image) as a point in 2-D (UMAP), coloured by label, verdict or flag; lasso to act."""

import streamlit as st

from curation.ui.context import require_annotator, require_store
from curation.ui.map import choose_model, map_section

store = require_store()
who = require_annotator()
st.title("Map")
st.caption("Alike pictures sit together (one person's faces, one class's images). Hover a point to see what it "
           "is; click it, or lasso or box a region, to label, flag or tag what is in it.")
model = choose_model(store)
if model:
    map_section(store, model, who)
