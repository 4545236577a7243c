"""Audit page parts: the audited attributes, tag coverage, the run, the audit tables and charts, downloads."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ..accounts import PermissionDenied
from ..clean.audit import (ATTRIBUTE_JOIN, accuracy_figure, attribute_sets, audit_figures, audit_html, disparities,
                           per_label_rates, representation, representation_figure, source_skew, subgroup_metrics,
                           tag_coverage)
from ..export import csv_text
from ..store import EditError, Store
from ..store.audit import AUDIT_BASE_COLUMNS
from .downloads import download
from .evaluate import finished_runs
from .kept import KeptPerStore
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
        st.progress(share, text=f"{row.tagged:,} of {row.images:,} images tagged for {row.attribute}")


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
    runs = finished_runs(store)
    return st.selectbox("Run", [None, *runs], index=1 if runs else 0, key="audit-run", format_func=_run_title,
                        help="Accuracy is measured on the run's validation images.")


def _run_title(run: dict | None) -> str:
    if run is None:
        return "No run: representation only"
    accuracy = run["metrics"].get("accuracy", 0)
    return f"#{run['id']} · {run['arch']} · {accuracy:.1%} · dataset {run['dataset_version']}"


class AuditData(NamedTuple):
    """What the Audit page draws from the audited frame as a whole, and the store's revision it was read at."""

    revision: int
    frame: pd.DataFrame
    coverage: pd.DataFrame
    proposals: pd.DataFrame | None  # None when no proposal is stored
    skew: pd.DataFrame


class SetTables(NamedTuple):
    """The tables of some attribute sets; `metrics` and `rates` are None without a run."""

    representation: pd.DataFrame
    metrics: pd.DataFrame | None
    rates: pd.DataFrame | None


#: What is computed for the Audit page, for every session, once per revision of the data: every widget on
#: the page reruns the script, and at 1.2M images the frame's query and the tables take a second or more.
KEPT = KeptPerStore(8)


def audit_data(store: Store, run: dict | None, names: list[str]) -> AuditData:
    """The audited frame of `run` (or of the dataset) and what comes of it whole, once per revision."""
    revision = store.revision
    return KEPT.get(store, ("data", revision, _run_id(run), tuple(names)), partial(_read, store, revision, run, names))


def set_tables(data: AuditData, store: Store, run: dict | None, names: list[str],
               sets: list[tuple[str, ...]]) -> SetTables:
    """The representation, accuracy and error-rate tables of these attribute sets, once per revision."""
    key = ("sets", data.revision, _run_id(run), tuple(names), tuple(sets))
    return KEPT.get(store, key, partial(_tables_of, data.frame, names, sets, run is not None))


def warm_audit(store: Store) -> None:
    """Compute what the Audit page first shows (the latest run, every attribute, the first set), as a
    first visit would, so that it finds it kept."""
    names = store.attribute_names()
    if names:
        runs = finished_runs(store)
        run = runs[0] if runs else None
        set_tables(audit_data(store, run, names), store, run, names, attribute_sets(names, True)[:1])


def _run_id(run: dict | None) -> int | None:
    return None if run is None else run["id"]


def _read(store: Store, revision: int, run: dict | None, names: list[str]) -> AuditData:
    try:
        frame = store.audit_frame(_run_id(run))
    except EditError as exc:
        st.error(md_inline(exc))
        st.stop()
    return AuditData(revision, frame, tag_coverage(frame, names),
                     store.proposal_overview() if store.has_proposals() else None, source_skew(frame))


def _tables_of(frame: pd.DataFrame, names: list[str], sets: list[tuple[str, ...]], evaluated: bool) -> SetTables:
    return SetTables(representation(frame, names, only=sets),
                     subgroup_metrics(frame, names, only=sets) if evaluated else None,
                     per_label_rates(frame, names, only=sets) if evaluated else None)


def audit_controls(store: Store, names: list[str]) -> tuple[dict | None, list[tuple[str, ...]], list[tuple[str, ...]]]:
    """The run, every attribute set audited (with intersections or not), and those to show: one row."""
    run_col, set_col, cross_col = st.columns([5, 5, 2], vertical_alignment="bottom")
    with run_col:
        run = run_choice(store)
    intersections = cross_col.toggle("Intersections", value=True, key="audit-intersections",
                                     help="Also audit every combination of attributes (e.g. gender × skin type)")
    sets = {ATTRIBUTE_JOIN.join(combo): combo for combo in attribute_sets(names, intersections)}
    chosen = set_col.selectbox("Show", [*sets, ALL_SETS], key="audit-set",
                               help="One attribute, or an intersection of attributes; downloads hold them all.")
    every = list(sets.values())
    return run, every, every if chosen == ALL_SETS else [sets[chosen]]


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


class Report(NamedTuple):
    """What the downloads hold: every attribute set's tables, whatever the page shows."""

    tables: dict[str, pd.DataFrame]
    figures: dict[str, go.Figure]


def full_report(tables: Callable[[], SetTables], data: AuditData, gaps: tuple[float, int] | None) -> Report:
    """The downloads' tables (disparities at the page's threshold and smallest size) and charts."""
    every = tables()
    report = {"Tag coverage": data.coverage, "Representation": every.representation}
    if every.metrics is None:
        figures = {"Representation by subgroup": representation_figure(every.representation)}
    else:
        report |= {"Subgroup accuracy": every.metrics, "Error rates per label": every.rates,
                   "Disparities": disparities(every.metrics, *gaps)}
        figures = audit_figures(every.representation, every.metrics)
    return Report(report | {"Source skew": data.skew}, figures)


def report_zip(report: Callable[[], Report]) -> bytes:
    return tables_zip(report().tables)


def report_html(report: Callable[[], Report], title: str) -> str:
    made = report()
    return audit_html(made.tables, made.figures, title)


def downloads(store: Store, report: Callable[[], Report], title: str) -> None:
    """The tables as CSVs in a zip, and the whole audit as one HTML file that opens offline; both are
    made when asked for (the attribute sets the page does not show too)."""
    st.subheader("Download")
    row = st.container(horizontal=True)
    download(store, "Tables (CSV, zip)", partial(report_zip, report), "audit-tables.zip", "application/zip",
             "audit-csv", row)
    download(store, "Report (HTML)", partial(report_html, report, title), "audit-report.html", "text/html",
             "audit-html", row)
