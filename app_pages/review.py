"""Review: browse, filter, label, flag and undo, as a keyboard-first grid or one image at a time."""

import streamlit as st

from curation.ui.context import require_annotator, require_store
from curation.ui.review import (DETAIL_KEY, adjudication_view, detail_view, pager, queue_strip, review_filter,
                                review_grid, show_flash)

store = require_store()
who = require_annotator()
flt = review_filter(store)
page_size = st.sidebar.select_slider("Thumbnails per page", [24, 48, 96, 192], value=96, key="page-size")
show_flash()

if st.session_state.get(DETAIL_KEY) is not None:
    detail_view(store, flt, st.session_state[DETAIL_KEY], who, page_size)
else:
    total = store.count_images(flt)
    st.title("Review")
    queue_strip(store, who)
    st.caption(f"{total} images match the filters")
    page = pager(total, page_size, keys=False)
    items = store.page_images(flt, page, page_size)
    if items and flt.queue == "disagreements":
        adjudication_view(store, items, who)
    elif items:
        review_grid(store, items, who, page)
    else:
        st.info("No image matches these filters.")
