"""Audit page parts: the audited attributes, tag coverage, the run, the audit tables and charts, downloads."""

from __future__ import annotations

import io
import threading
import weakref
import zipfile
from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ..accounts import PermissionDenied
from ..clean.audit import (ATTRIBUTE_JOIN, accuracy_figure, attribute_sets, audit_figures, audit_html,
                           per_label_rates, representation, representation_figure, source_skew, subgroup_metrics,
                           tag_coverage)
from ..export import csv_text
from ..store import EditError, Store
from ..store.audit import AUDIT_BASE_COLUMNS
from .downloads import download
from .review import flash
from .text import md_inline

#: Attribute definitions offered as a start. Skin type follows Fitzpatrick (I-VI) or the Monk Skin
#: Tone scale (1-10); gender is as perceived by the annotator, never inferred.
PRESETS: dict[str, list[str]] = {
    "perceived_gender": ["female", "male", "unsure"],
    "fitzpatrick_skin_type": ["I", "II", "III", "IV", "V", "VI"],
    "monk_skin_tone": [str(n) for n in range(1, 11)],
    "age_group": ["0-17", "18-29", "30-44", "45-64", "65+"],
    "pose": ["frontal", "three-quarter", "profile"],
    "lighting": ["even", "dim", "harsh", "backlit"],
}
PERCENT_COLUMNS = ("share_of_label", "accuracy", "accuracy_low", "accuracy_high", "fnr", "fnr_low", "fnr_high",
                   "fpr", "fpr_low", "fpr_high", "best_accuracy", "worst_accuracy", "gap")
ALL_SETS = "All attributes"
FLAGGED_STYLE = "background-color: #fde0dc"


def attributes_editor(store: Store, who: str) -> None:
    """Define an attribute, or redefine one, from scratch, a preset, or its current definition.

    Folded away once attributes exist: the audit below is then what the page is for.
    """
    attributes = store.attributes()
    with st.expander("Attributes: define or redefine", expanded=not attributes, icon=":material/label:"):
        _attribute_form(store, who, attributes)


def _attribute_form(store: Store, who: str, attributes: dict[str, list[str]]) -> None:
    if attributes:
        allowed = [", ".join(values) for values in attributes.values()]
        st.dataframe(pd.DataFrame({"attribute": list(attributes), "allowed values": allowed}), hide_index=True,
                     width="stretch")
    starts = {**PRESETS, **attributes}
    start_col, name_col, values_col, save_col = st.columns([2, 2, 4, 1], vertical_alignment="bottom")
    start_col.selectbox("Start from", list(starts), key="attr-start", index=None,
                        placeholder="a preset or an attribute", on_change=_fill_attribute, args=(starts,),
                        format_func=lambda n: f"{n} (defined)" if n in attributes else f"{n} (preset)")
    name_col.text_input("Name", key="attr-name", placeholder="e.g. perceived_gender")
    values_col.text_input("Allowed values, comma-separated", key="attr-values", placeholder="e.g. female, male, unsure")
    save_col.button("Save", key="save-attribute", type="primary", on_click=_save_attribute, args=(store, who))
    st.caption("Saving an existing name redefines its values; tags already given keep their value. "
               "Tag images on the Review page: select them and use the Tag row (T), or set tags in an image's detail.")


def _fill_attribute(starts: dict[str, list[str]]) -> None:
    name = st.session_state.get("attr-start")
    if name is not None:
        st.session_state["attr-name"], st.session_state["attr-values"] = name, ", ".join(starts[name])


def _save_attribute(store: Store, who: str) -> None:
    name = st.session_state.get("attr-name", "").strip()
    values = [v.strip() for v in st.session_state.get("attr-values", "").split(",") if v.strip()]
    if name in AUDIT_BASE_COLUMNS:
        flash(f"'{name}' names a column of the audit; choose another name.", "error")
        return
    try:
        store.define_attribute(name, values, who)
    except (EditError, PermissionDenied) as exc:
        flash(str(exc), "error")
        return
    flash(f"Saved {name}: {', '.join(values)}.")
    st.session_state["attr-name"], st.session_state["attr-values"] = "", ""


def coverage_bars(coverage: pd.DataFrame) -> None:
    """One bar per attribute: how many of the labelled images carry a tag."""
    for row in coverage.itertuples():
        share = row.tagged / row.images if row.images else 0.0
        st.progress(share, text=f"{row.tagged} of {row.images} images tagged for {row.attribute}")


def tag_sources(overview: pd.DataFrame | None) -> None:
    """Which figures rest on what: the audit counts confirmed tags only; open proposals are shown apart."""
    proposed = int(overview["proposed"].sum()) if overview is not None and not overview.empty else 0
    if not proposed:
        st.caption("Every figure below rests on confirmed tags (typed or confirmed by a person).")
        return
    st.caption(f"Every figure below rests on confirmed tags only; {proposed} proposed values await confirmation "
               "and are counted nowhere until then (Proposed values, at the end of the page):")
    st.dataframe(overview, hide_index=True, key="tag-sources",
                 column_config={"confirmed": "confirmed tags", "proposed": "proposed, not yet confirmed"})


def run_choice(store: Store) -> dict | None:
    """A finished run to audit (the latest by default), or None for the dataset alone."""
    runs = [r for r in store.runs() if r["status"] == "done"]
    return st.selectbox("Run", [None, *runs], index=1 if runs else 0, key="audit-run", format_func=_run_title,
                        help="Accuracy is measured on the run's validation images.")


def _run_title(run: dict | None) -> str:
    if run is None:
        return "No run: representation only"
    accuracy = run["metrics"].get("accuracy", 0)
    return f"#{run['id']} · {run['arch']} · {accuracy:.1%} · dataset {run['dataset_version']}"


class AuditTables(NamedTuple):
    """What the Audit page shows that the project's data decides; `metrics` and `rates` are None without a run."""

    coverage: pd.DataFrame
    proposals: pd.DataFrame | None  # None when no proposal is stored
    representation: pd.DataFrame
    metrics: pd.DataFrame | None
    rates: pd.DataFrame | None
    skew: pd.DataFrame


#: Audits computed per store, for every session: at most KEPT_AUDITS of them (runs, with or without
#: intersections), each under the store's revision it was computed at.
_AUDITS: weakref.WeakKeyDictionary[Store, dict[tuple, AuditTables]] = weakref.WeakKeyDictionary()
_AUDITS_LOCK = threading.Lock()
KEPT_AUDITS = 4


def audit_tables(store: Store, run: dict | None, names: list[str], intersections: bool) -> AuditTables:
    """The audit of `run` (or of the dataset), computed once per revision of the project's data.

    Every widget on the page reruns it, and at 1.2M images the frame's query and the tables take a
    second or more; any write to the project (a tag, a label, a finished run) changes the revision."""
    key = (store.revision, None if run is None else run["id"], tuple(names), intersections)
    with _AUDITS_LOCK:
        found = _AUDITS.get(store, {}).get(key)
    if found is None:
        found = _audit(store, run, names, intersections)
        with _AUDITS_LOCK:
            kept = _AUDITS.setdefault(store, {})
            kept[key] = found
            for stale in list(kept)[:-KEPT_AUDITS]:
                del kept[stale]
    return found


def _audit(store: Store, run: dict | None, names: list[str], intersections: bool) -> AuditTables:
    try:
        frame = store.audit_frame(None if run is None else run["id"])
    except EditError as exc:
        st.error(md_inline(exc))
        st.stop()
    return AuditTables(
        coverage=tag_coverage(frame, names),
        proposals=store.proposal_overview() if store.has_proposals() else None,
        representation=representation(frame, names, intersections),
        metrics=None if run is None else subgroup_metrics(frame, names, intersections),
        rates=None if run is None else per_label_rates(frame, names, intersections),
        skew=source_skew(frame),
    )


def audit_controls(store: Store, names: list[str]) -> tuple[dict | None, bool, str]:
    """The run, whether to audit intersections, and which attribute set to show: one row."""
    run_col, set_col, cross_col = st.columns([5, 5, 2], vertical_alignment="bottom")
    with run_col:
        run = run_choice(store)
    intersections = cross_col.toggle("Intersections", value=True, key="audit-intersections",
                                     help="Also audit every combination of attributes (e.g. gender × skin type)")
    sets = [ATTRIBUTE_JOIN.join(combo) for combo in attribute_sets(names, intersections)]
    chosen = set_col.selectbox("Show", [*sets, ALL_SETS], key="audit-set",
                               help="One attribute, or an intersection of attributes; downloads hold them all.")
    return run, intersections, chosen


def only_set(table: pd.DataFrame, chosen: str) -> pd.DataFrame:
    return table if chosen == ALL_SETS else table[table["attributes"] == chosen]


def show_table(table: pd.DataFrame, key: str) -> None:
    st.dataframe(table, key=key, hide_index=True, width="stretch", column_config={
        c: st.column_config.NumberColumn(format="percent") for c in PERCENT_COLUMNS if c in table})


def show_chart(figure: go.Figure, key: str) -> None:
    """A chart under its section's heading, so without a title of its own (the report keeps them)."""
    figure.update_layout(title_text=None, margin={"t": 10})
    st.plotly_chart(figure, key=key)


def representation_section(representation: pd.DataFrame) -> None:
    st.subheader("Representation")
    show_chart(representation_figure(representation), "audit-representation-chart")
    show_table(representation, "audit-representation")


def accuracy_section(metrics: pd.DataFrame) -> None:
    st.subheader("Accuracy by subgroup")
    st.caption("Validation images only, with 95% Wilson intervals. `n` is how many of the subgroup's images "
               "were evaluated.")
    if not (metrics["n"] > 0).any():
        st.info("None of these images is in the run's validation split.")
    else:
        show_chart(accuracy_figure(metrics), "audit-accuracy-chart")
    show_table(metrics, "audit-metrics")


def rates_section(rates: pd.DataFrame) -> None:
    st.subheader("Error rates per label")
    st.caption("One label against the rest, within a subgroup: FNR is the share of its images predicted as "
               "something else, FPR the share of other images predicted as it.")
    show_table(rates, "audit-rates")


def disparity_threshold() -> tuple[float, int]:
    threshold_col, size_col = st.columns(2)
    threshold = threshold_col.slider("Flag a gap in accuracy above", 0.0, 0.5, 0.05, 0.01, key="audit-threshold",
                                     format="%.2f")
    min_n = size_col.number_input("Smallest subgroup compared (evaluated images)", 1, 1000, 10, key="audit-min-n")
    return threshold, int(min_n)


def disparity_section(disparity: pd.DataFrame) -> None:
    """The best and worst served subgroup per attribute set; rows over the threshold highlighted."""
    if disparity.empty:
        st.caption("No attribute has two tagged subgroups with enough evaluated images to compare.")
        return
    flagged = int(disparity["flagged"].sum())
    if flagged:
        st.warning(f"{flagged} attribute set{'s' * (flagged != 1)} with an accuracy gap above the threshold. "
                   "Where the intervals overlap, the gap may be chance.", icon=":material/balance:")
    styled = disparity.style.apply(lambda row: [FLAGGED_STYLE if row["flagged"] else ""] * len(row), axis=1).format(
        "{:.1%}", subset=["best_accuracy", "worst_accuracy", "gap"])
    st.dataframe(styled, key="audit-disparities", hide_index=True, width="stretch")


def skew_section(skew: pd.DataFrame) -> None:
    st.subheader("Sources")
    st.caption("Where each label's images came from: a label drawn mostly from one provider, site or query "
               "inherits that source's bias.")
    by = st.segmented_control("By", ["provider", "domain", "query"], default="provider", key="audit-skew-by")
    show_table(skew[skew["by"] == by] if by else skew, "audit-skew")


def tables_zip(tables: dict[str, pd.DataFrame]) -> bytes:
    """Every table as a CSV in one zip, named after the table."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, table in tables.items():
            archive.writestr(f"{name.lower().replace(' ', '_')}.csv", csv_text(table))
    return buffer.getvalue()


def report_figures(tables: AuditTables) -> dict[str, go.Figure]:
    """The report's charts: every attribute set's representation, and its accuracy when a run is audited."""
    if tables.metrics is None:
        return {"Representation by subgroup": representation_figure(tables.representation)}
    return audit_figures(tables.representation, tables.metrics)


def report_html(tables: dict[str, pd.DataFrame], figures: Callable[[], dict[str, go.Figure]], title: str) -> str:
    return audit_html(tables, figures(), title)


def downloads(store: Store, tables: dict[str, pd.DataFrame], figures: Callable[[], dict[str, go.Figure]],
              title: str) -> None:
    """The tables as CSVs in a zip, and the whole audit as one HTML file that opens offline; both are
    made when asked for (the report's charts too)."""
    st.subheader("Download")
    row = st.container(horizontal=True)
    download(store, "Tables (CSV, zip)", partial(tables_zip, tables), "audit-tables.zip", "application/zip",
             "audit-csv", row)
    download(store, "Report (HTML)", partial(report_html, tables, figures, title), "audit-report.html", "text/html",
             "audit-html", row)
