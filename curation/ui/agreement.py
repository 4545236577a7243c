"""The Audit page's agreement section: the overlap share (admin), and how often annotators agree."""

from __future__ import annotations

import math

import streamlit as st

from ..accounts import PermissionDenied
from ..agreement import alpha, disagreement_by_subgroup, pairwise_kappa, per_annotator, per_label
from ..store import EditError, Store


def agreement_section(store: Store, who: str) -> None:
    st.subheader("Agreement between annotators")
    share = store.overlap_share()
    _overlap_form(store, who, share)
    blind, gold = store.blind_labels(), store.gold_labels()
    counts = blind.groupby("image_id").size() if not blind.empty else None
    figures = st.columns(4)
    figures[0].metric("Overlap share", f"{share:.0%}")
    figures[1].metric("Images with 2+ blind labels", 0 if counts is None else int((counts > 1).sum()))
    value = alpha(blind) if not blind.empty else math.nan
    figures[2].metric("Krippendorff's alpha", "—" if math.isnan(value) else f"{value:.3f}",
                      help="Over every annotator, nominal labels; 1 is perfect agreement, 0 is chance.")
    figures[3].metric("Open disagreements", store.open_disagreements(),
                      help="Settle them on Review, work queue Disagreements (reviewers and admins).")
    if blind.empty:
        st.caption("No blind label yet: set an overlap share above; annotators then label those images blind "
                   "in Review, and an admin marks gold images there (G).")
        return
    pairs, labels, annotators = st.tabs(["Pairs (Cohen's kappa)", "Per label", "Per annotator (gold accuracy)"])
    pairs.dataframe(pairwise_kappa(blind), hide_index=True, width="stretch", key="agreement-pairs")
    labels.dataframe(per_label(blind), hide_index=True, width="stretch", key="agreement-labels")
    annotators.dataframe(per_annotator(blind, gold), hide_index=True, width="stretch", key="agreement-annotators")
    by_subgroup = disagreement_by_subgroup(blind, store.agreement_tags())
    st.markdown("**Disagreement by subgroup** (tagged overlap images with two or more blind labels)")
    if by_subgroup.empty:
        st.caption("No tagged image has two blind labels yet.")
    else:
        st.dataframe(by_subgroup, hide_index=True, width="stretch", key="agreement-subgroups")


def _overlap_form(store: Store, who: str, share: float) -> None:
    try:
        store.require(who, "settings")
        refused = None
    except PermissionDenied as exc:
        refused = str(exc)
    with st.container(horizontal=True, vertical_alignment="bottom"):
        st.number_input("Overlap share (%)", 0, 100, int(round(share * 100)), key="overlap-share", width=200,
                        disabled=refused is not None,
                        help="This share of the images get a second, blind label: nobody sees another's label.")
        st.button("Save overlap", key="save-overlap", disabled=refused is not None, help=refused,
                  on_click=_save_overlap, args=(store, who))


def _save_overlap(store: Store, who: str) -> None:
    from .review import flash

    try:
        store.set_overlap_share(st.session_state["overlap-share"] / 100, who)
        flash(f"Overlap share set to {st.session_state['overlap-share']}%.")
    except (EditError, PermissionDenied) as exc:
        flash(str(exc), "error")
