"""Audit: who is in the dataset, how well a run serves each subgroup, and which attributes are audited."""

import streamlit as st

from curation.clean.audit import (audit_figures, disparities, per_label_rates, representation, representation_figure,
                                  source_skew, subgroup_metrics)
from curation.ui.audit import (accuracy_section, attributes_editor, audit_controls, audit_frame, disparity_section,
                               disparity_threshold, downloads, only_set, rates_section, representation_section,
                               skew_section, tag_coverage, tag_sources)
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
coverage = store.tag_coverage()
tag_coverage(coverage)
tag_sources(store.proposal_overview())
run, intersections, chosen = audit_controls(store, names)
frame = audit_frame(store, run)
shares = representation(frame, names, intersections)
if shares.empty:
    st.info("No labelled image to audit yet.")
    proposals_section(store, names, who)
    st.stop()
representation_section(only_set(shares, chosen))
tables = {"Tag coverage": coverage, "Representation": shares}
figures = {"Representation by subgroup": representation_figure(shares)}
if run is not None:
    metrics = subgroup_metrics(frame, names, intersections)
    accuracy_section(only_set(metrics, chosen))
    rates = per_label_rates(frame, names, intersections)
    rates_section(only_set(rates, chosen))
    st.subheader("Disparities")
    threshold, min_n = disparity_threshold()
    gaps = disparities(metrics, threshold, min_n)
    disparity_section(only_set(gaps, chosen))
    tables |= {"Subgroup accuracy": metrics, "Error rates per label": rates, "Disparities": gaps}
    figures = audit_figures(shares, metrics)
skew = source_skew(frame)
skew_section(skew)
tables["Source skew"] = skew
st.caption("To mark images as biased, select them on the Review page and use Flag as → Biased.")
audited = f"run #{run['id']}" if run else "the dataset"
downloads(store, tables, figures, f"Bias audit of {store.project.root.name}, {audited}")
proposals_section(store, names, who)
