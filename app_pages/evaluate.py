"""Evaluate: a run's confusion matrix, the images behind each cell, scores, top losses, comparison."""

import streamlit as st

from curation.ui.context import require_annotator, require_store
from curation.ui.evaluate import (CELL_KEY, SPLITS, cell_pickers, clickable_matrix, compare, gallery, headline,
                                  run_picker, scores, tables_of_run)
from curation.ui.review import DETAIL_KEY, show_flash
from curation.ui.text import md_text

store = require_store()
who = require_annotator()
if st.session_state.get(DETAIL_KEY) is not None:
    st.switch_page("app_pages/review.py")
st.title("Evaluate")
run = run_picker(store, "Run", "eval-run")
if run is None:
    st.info("No finished run yet: train one on the Train page.")
    st.stop()
split = st.segmented_control("Images", list(SPLITS), default="val", key="eval-split", format_func=SPLITS.get)
normalised = st.toggle("Row-normalised", key="eval-normalised", help="Each row shows shares of that true label")
tables = tables_of_run(store, run, split)
headline(run, tables)
show_flash()
clickable_matrix(tables, normalised)
cell_pickers(tables.matrix)
scores(tables)

st.session_state.setdefault("eval-view", "Top losses")
view = st.segmented_control("Show", ["Selected cell", "Top losses", "Changed vs another run"], key="eval-view")
if view == "Selected cell" and st.session_state.get(CELL_KEY):
    label, predicted = st.session_state[CELL_KEY]
    st.subheader(f"True {md_text(label)}, predicted {md_text(predicted)}")
    frame = store.cell_predictions(run["id"], label, predicted, split)
    gallery(store, frame, who, lambda r: f"{r.confidence:.0%} sure · loss {r.loss:.2f} · {r.split}")
elif view == "Selected cell":
    st.caption("Click a cell of the matrix, a confused pair, or choose a cell above.")
elif view == "Top losses":
    frame = store.top_losses(run["id"], split)
    gallery(store, frame, who, lambda r: f"predicted {r.predicted} · {r.confidence:.0%} · loss {r.loss:.2f}")
else:
    other = compare(store, run, split, normalised)
    if other is not None:
        frame = store.changed_predictions(other["id"], run["id"])
        st.subheader(f"{len(frame)} images whose prediction changed")
        gallery(store, frame, who, lambda r: f"#{other['id']}: {r.before} → #{run['id']}: {r.after}")
