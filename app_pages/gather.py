"""Gather: search the web for images, one query per label, and download them as a background job."""

import streamlit as st

from curation.ui.context import require_store
from curation.ui.gather import failures, gather_form, gather_status, licences

store = require_store()
st.title("Gather")
st.caption("Search the web for images, one query per label. Every image is downloaded, verified, deduplicated "
           "and labelled, with where it came from and its licence. The work goes on if you close the browser.")
gather_form(store)
gather_status(store)
failures(store)
licences(store)
