"""Audit: who is in the dataset, how well a run serves each subgroup, and which attributes are audited."""

from functools import partial

import streamlit as st

from curation.clean.audit import disparities
from curation.ui.audit import (accuracy_section, attributes_editor, audit_controls, audit_data, coverage_bars,
                               disparity_section, disparity_threshold, downloads, full_report, rates_section,
                               representation_section, set_tables, skew_section, tag_sources)
from curation.ui.agreement import agreement_section
from curation.ui.context import require_annotator, require_store
from curation.ui.proposals import proposals_section
from curation.ui.review import show_flash

store = require_store()
who = require_annotator()
st.title("Audit")
show_flash()
agreement_section(store, who)
attributes_editor(store, who)
names = store.attribute_names()
if not names:
    st.info("No attribute is defined yet: define one above (a preset is a good start), then tag images with it "
            "on the Review page.")
    st.stop()

st.subheader("Tag coverage")
coverage_area = st.container()
run, every_set, shown_sets = audit_controls(store, names)
data = audit_data(store, run, names)
with coverage_area:
    coverage_bars(data.coverage)
    tag_sources(data.proposals)
shown = set_tables(data, store, run, names, shown_sets)
if shown.representation.empty:
    st.info("No labelled image to audit yet.")
    proposals_section(store, names, who)
    st.stop()
representation_section(shown.representation)
gaps = None
if run is not None:
    accuracy_section(shown.metrics)
    rates_section(shown.rates)
    st.subheader("Disparities")
    gaps = disparity_threshold()
    disparity_section(disparities(shown.metrics, *gaps))
skew_section(data.skew)
st.caption("To mark images as biased, select them on the Review page and use Flag as → Biased.")
audited = f"run #{run['id']}" if run else "the dataset"
every = partial(set_tables, data, store, run, names, every_set)
downloads(store, partial(full_report, every, data, gaps), f"Bias audit of {store.project.root.name}, {audited}")
proposals_section(store, names, who)
