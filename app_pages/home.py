"""Home: open or create a project, the pipeline at a glance, add images."""

import streamlit as st

from curation.ui.context import open_project_store, project_root
from curation.ui.home import add_images, label_chart, pipeline, project_picker, recent_activity
from curation.ui.text import md_text

root = project_root()
store = open_project_store()
st.title("Curation Studio")
project_picker(root)
if store is not None:
    st.caption(f"Project: `{md_text(store.project.root)}`")
    report = store.report()
    pipeline(report)
    chart, add = st.columns([3, 2])
    with chart:
        label_chart(report)
    with add:
        add_images(store)
    recent_activity(store)
