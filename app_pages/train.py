"""Train: choose what to train, start it, watch epochs live; every run is kept."""

import streamlit as st

from curation.ui.context import require_annotator, require_store
from curation.ui.jobs import job_status
from curation.ui.train import augmentation_preview, dataset_summary, job_curves, run_form, runs_table, weights_notice

store = require_store()
who = require_annotator()
st.title("Train")
dataset_summary(store.training_label_counts(), store.left_out_of_training())
weights_notice()
run_form(store)
job_status(store, "train", unit="epochs", details=job_curves)
with st.expander("Preview augmentation (flip, rotation, perspective, brightness, contrast)", key="train-preview",
                 on_change="rerun") as preview:
    if preview.open:
        augmentation_preview(store, store.training_sample(4), st.session_state.get("train-size", 64))
st.subheader("Runs")
runs_table(store)
