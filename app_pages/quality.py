"""Quality: blurred, dark, bright, nearly blank, odd-shaped, odd-sized, grey and outlying images, suggested for flags."""

import streamlit as st

from curation.ui.context import require_annotator, require_store
from curation.ui.quality import quality_page

store = require_store()
who = require_annotator()
st.title("Quality")
st.caption("Every usable image scored by each check (a background job); the suspects are suggestions: "
           "leave out the fine ones and flag the rest, and Review's flag filter finds them.")
quality_page(store, who)
