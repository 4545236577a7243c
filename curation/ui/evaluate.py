"""Evaluate page parts: the run picker, a clickable confusion matrix, galleries, run comparison."""

from __future__ import annotations

import html
from typing import NamedTuple

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ..names import chart_text
from ..store import Store
from ..train.evaluate import (accuracy, confused_pairs, matrix_from_counts, most_confused_labels, per_class,
                              row_normalised)
from .review import action_bar, grid
from .text import md_text

CELL_KEY = "eval-cell"
MATRIX_KEY = "eval-matrix"
SPLITS = {"val": "Validation", "train": "Training", None: "All"}
#: A matrix over more labels than this shows the labels in the most errors (a cell each stays readable
#: and clickable; 500 labels would be 250,000 cells), with the spread of recall over all of them.
MATRIX_LABELS = 20


def finished_runs(store: Store, exclude: int | None = None) -> list[dict]:
    """The runs Evaluate and Audit show, latest first: the latest is shown by default."""
    return [r for r in store.runs() if r["status"] == "done" and r["id"] != exclude]


def warm_evaluate(store: Store) -> None:
    """Compute the tables Evaluate first shows (the latest run's validation images), as a first visit
    would, so that it finds them kept."""
    runs = finished_runs(store)
    if runs:
        tables_of_run(store, runs[0], "val")


def run_picker(store: Store, label: str, key: str, exclude: int | None = None) -> dict | None:
    runs = finished_runs(store, exclude)
    if not runs:
        return None
    return st.selectbox(label, runs, key=key, format_func=lambda r: (
        f"#{r['id']} · {r['arch']} · {r['metrics'].get('accuracy', 0):.1%} · dataset {r['dataset_version']}"))


class RunTables(NamedTuple):
    matrix: pd.DataFrame
    classes: pd.DataFrame  # per-class precision, recall, F1, support
    pairs: pd.DataFrame  # the most confused pairs


def run_matrix(store: Store, run: dict, split: str | None) -> pd.DataFrame:
    return tables_of_run(store, run, split).matrix


def tables_of_run(store: Store, run: dict, split: str | None) -> RunTables:
    return run_tables(str(store.project.root), run["id"], str(run["finished_at"]), split, store)


@st.cache_data(max_entries=16, show_spinner=False)
def run_tables(root: str, run_id: int, finished_at: str, split: str | None, _store: Store) -> RunTables:
    """A finished run's confusion matrix, per-class scores and most confused pairs. Its predictions never
    change once it is done, so they are computed once per (project, run, split) for all sessions; the
    finish time guards against another project at the same folder reusing the run's number."""
    matrix = matrix_from_counts(_store.prediction_counts(run_id, split), _store.run_classes(run_id))
    return RunTables(matrix, per_class(matrix), confused_pairs(matrix))


def headline(run: dict, tables: RunTables) -> None:
    matrix = tables.matrix
    cols = st.columns(4)
    cols[0].metric("Accuracy", f"{accuracy(matrix):.1%}")
    cols[1].metric("Macro F1", f"{tables.classes['f1'].mean():.3f}")
    cols[2].metric("Images", f"{int(matrix.to_numpy().sum()):,}")
    cols[3].metric("Epochs", run["params"].get("epochs", "-"))
    st.caption(f"Weights: {run['weights']} · device: {run['device']} · seed {run['params'].get('seed')}")


def matrix_figure(matrix, normalised: bool, title: str = "", diverging: bool = False,
                  only: list[str] | None = None) -> go.Figure:
    """A heatmap (true labels down, predictions across) with an invisible point on each cell to click;
    `only`: the labels to draw (rows normalised over all predictions all the same)."""
    shown = row_normalised(matrix) if normalised else matrix
    if only is not None:
        shown = shown.loc[only, only]
    labels = [chart_text(label) for label in shown.index]
    text = [[f"{v:.0%}" if normalised else str(v) for v in row] for row in shown.to_numpy()]
    fig = go.Figure(go.Heatmap(z=shown.to_numpy(), x=labels, y=labels, text=text, texttemplate="%{text}",
                               colorscale="RdBu" if diverging else "Blues", zmid=0 if diverging else None,
                               hoverinfo="skip"))
    xs = [p for _ in labels for p in labels]
    ys = [t for t in labels for _ in labels]
    cells = [v for row in text for v in row]
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers", marker=dict(size=44, opacity=0.02, symbol="square"),
                             customdata=cells, showlegend=False,
                             hovertemplate="true %{y}<br>predicted %{x}<br>%{customdata}<extra></extra>"))
    fig.update_layout(title=title, height=140 + 56 * len(labels), margin=dict(l=10, r=10, t=40, b=10),
                      xaxis_title="predicted", yaxis_title="true label", yaxis_autorange="reversed",
                      clickmode="event+select", dragmode=False)
    return fig


def clickable_matrix(tables: RunTables, normalised: bool) -> None:
    """Draw the matrix (beyond MATRIX_LABELS labels, those in the most errors, and recall's spread over
    all); a click on a cell chooses it (kept in CELL_KEY)."""
    matrix = tables.matrix
    only = most_confused_labels(matrix, MATRIX_LABELS) if len(matrix) > MATRIX_LABELS else None
    if only is not None:
        st.caption(f"The {MATRIX_LABELS} labels in the most errors, of {len(matrix)}; any cell can be chosen "
                   "below, and the per-class table covers them all.")
    event = st.plotly_chart(matrix_figure(matrix, normalised, only=only), key=MATRIX_KEY, on_select="rerun",
                            selection_mode=("points",))
    if only is not None:
        recall_spread(tables.classes["recall"])
    points = (event or {}).get("selection", {}).get("points", [])
    if points:
        chosen = (html.unescape(points[0]["y"]), html.unescape(points[0]["x"]))
        if st.session_state.get("eval-last-click") != chosen:
            st.session_state["eval-last-click"] = chosen
            choose_cell(*chosen)


def recall_spread(recall: pd.Series) -> None:
    fig = go.Figure(go.Histogram(x=recall, nbinsx=40, hovertemplate="recall %{x}: %{y} labels<extra></extra>"))
    fig.update_layout(title=f"Recall per label, all {len(recall)} labels", height=260, bargap=0.05,
                      margin=dict(l=10, r=10, t=40, b=10), xaxis_title="recall", yaxis_title="labels",
                      xaxis_tickformat=".0%")
    st.plotly_chart(fig, key="eval-recall-spread")


def choose_cell(label: str, predicted: str) -> None:
    st.session_state[CELL_KEY] = (label, predicted)
    st.session_state["eval-true"], st.session_state["eval-pred"] = label, predicted
    st.session_state["eval-view"] = "Selected cell"


def cell_pickers(matrix) -> None:
    """The same choice without a mouse: two selects."""
    labels = list(matrix.index)
    left, right, button = st.columns([2, 2, 1], vertical_alignment="bottom")
    left.selectbox("True label", labels, key="eval-true")
    right.selectbox("Predicted", labels, key="eval-pred")
    button.button("Show cell", key="eval-show", shortcut="Enter",
                  on_click=lambda: choose_cell(st.session_state["eval-true"], st.session_state["eval-pred"]))


def scores(tables: RunTables) -> None:
    left, right = st.columns([3, 2])
    with left:
        st.markdown("**Per class**")
        st.dataframe(tables.classes, hide_index=True, width="stretch", column_config={
            c: st.column_config.NumberColumn(format="%.3f") for c in ("precision", "recall", "f1")})
    with right:
        st.markdown("**Most confused pairs**")
        pairs = tables.pairs
        if pairs.empty:
            st.caption("No confusion: every image was predicted as its label.")
        for row in pairs.itertuples():
            st.button(f"{md_text(row.label)} → {md_text(row.predicted)}: {row.count}", key=f"pair-{row.label}-{row.predicted}",
                      on_click=choose_cell, args=(row.label, row.predicted))


def gallery(store: Store, frame, who: str, caption) -> None:
    """Images of a predictions frame as the Review grid, with its bulk actions, and a line each."""
    if frame.empty:
        st.info("No image here.")
        return
    items = store.grid_items([int(i) for i in frame["image_id"]])
    action_bar(store, items, who)
    grid(store, items, {int(r.image_id): caption(r) for r in frame.itertuples()})


def compare(store: Store, run: dict, split: str | None, normalised: bool) -> dict | None:
    other = run_picker(store, "Compare with run", "eval-other", exclude=run["id"])
    if other is None:
        st.caption("Train another run to compare two runs.")
        return None
    mine, theirs = run_matrix(store, run, split), run_matrix(store, other, split)
    labels = sorted(set(mine.index) | set(theirs.index))
    mine, theirs = mine.reindex(labels, columns=labels, fill_value=0), theirs.reindex(labels, columns=labels, fill_value=0)
    cols = st.columns(3)
    a, b = accuracy(theirs), accuracy(mine)
    cols[0].metric(f"Accuracy, run #{run['id']}", f"{b:.1%}", delta=f"{(b - a) * 100:+.1f} points vs #{other['id']}")
    fa, fb = per_class(theirs)["f1"].mean(), per_class(mine)["f1"].mean()
    cols[1].metric("Macro F1", f"{fb:.3f}", delta=f"{fb - fa:+.3f}")
    cols[2].metric("Dataset", run["dataset_version"], delta="same data" if run["dataset_version"] ==
                   other["dataset_version"] else "different data", delta_color="off")
    diff = (row_normalised(mine) - row_normalised(theirs)) if normalised else (mine - theirs)
    only = None
    if len(diff) > MATRIX_LABELS:
        changed = diff.abs().sum(axis=1) + diff.abs().sum(axis=0)
        only = [label for label in diff.index if label in set(changed.nlargest(MATRIX_LABELS).index)]
        st.caption(f"The {MATRIX_LABELS} labels whose cells changed most, of {len(diff)}.")
    st.plotly_chart(matrix_figure(diff, False, f"Run #{run['id']} minus run #{other['id']}", diverging=True,
                                  only=only), key="eval-diff")
    return other
