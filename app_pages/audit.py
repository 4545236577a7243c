"""Audit: who is in the dataset, how well a run serves each subgroup, and which attributes are audited."""

from functools import partial

import streamlit as st

from curation.clean.audit import disparities
from curation.ui.audit import (accuracy_section, attributes_editor, audit_controls, audit_tables, coverage_bars,
                               disparity_section, disparity_threshold, downloads, only_set, rates_section,
                               report_figures, representation_section, skew_section, tag_sources)
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
run, intersections, chosen = audit_controls(store, names)
audit = audit_tables(store, run, names, intersections)
with coverage_area:
    coverage_bars(audit.coverage)
    tag_sources(audit.proposals)
shares = audit.representation
if shares.empty:
    st.info("No labelled image to audit yet.")
    proposals_section(store, names, who)
    st.stop()
representation_section(only_set(shares, chosen))
tables = {"Tag coverage": audit.coverage, "Representation": shares}
if run is not None:
    accuracy_section(only_set(audit.metrics, chosen))
    rates_section(only_set(audit.rates, chosen))
    st.subheader("Disparities")
    threshold, min_n = disparity_threshold()
    gaps = disparities(audit.metrics, threshold, min_n)
    disparity_section(only_set(gaps, chosen))
    tables |= {"Subgroup accuracy": audit.metrics, "Error rates per label": audit.rates, "Disparities": gaps}
skew_section(audit.skew)
tables["Source skew"] = audit.skew
st.caption("To mark images as biased, select them on the Review page and use Flag as → Biased.")
audited = f"run #{run['id']}" if run else "the dataset"
downloads(store, tables, partial(report_figures, audit), f"Bias audit of {store.project.root.name}, {audited}")
proposals_section(store, names, who)
