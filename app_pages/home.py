"""Home: open or create a project, the pipeline at a glance, add images."""

import streamlit as st

from curation.ui.context import may_switch_project, open_project_store, project_root
from curation.ui.home import (add_images, check_banner, clients_help, label_chart, label_renames, pipeline, production_loop,
                              project_picker, recent_activity)
from curation.ui.text import md_text

store = open_project_store()
st.title("Curation Studio")
if may_switch_project():
    project_picker(project_root())
if store is not None:
    st.caption(f"Project: {md_text(store.project.root)}")
    label_renames(store)
    check_banner(store)
    report = store.report()
    pipeline(report)
    chart, add = st.columns([3, 2])
    with chart:
        label_chart(report)
    with add:
        add_images(store)
    production_loop(store)
    recent_activity(store)
    clients_help(store)
