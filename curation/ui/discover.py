"""Clusters page, discovery section: group the faces of unlabelled images into proposed people (a
job), then name each group (its images are labelled, through the ordinary label events, so Ctrl+Z
on Review undoes it) or tick several groups that are one person and name them together (merge).
A name may be an existing label: the group then joins that identity."""

from __future__ import annotations

import streamlit as st

from ..accounts import PermissionDenied
from ..embed import EMBEDDERS
from ..jobs import JobError, start_job
from ..store import EditError, Store
from .jobs import job_status
from .pictures import show_gallery
from .review import flash, show_flash, undo
from .signin import refusal

GROUPS_SHOWN = 20
FACES_SHOWN = 12


def run_discovery(store: Store, who: str) -> None:
    models = [name for name in store.embedding_counts() if name in EMBEDDERS and EMBEDDERS[name].subject == "face"]
    if not models:
        st.info("No face embeddings yet: detect faces and embed them on the Faces page first.")
        return
    model_col, button_col = st.columns([3, 1], vertical_alignment="bottom")
    model = model_col.selectbox("Group by", models, key="discover-model")
    why = refusal("discover")
    if button_col.button("Discover people", key="discover-run", icon=":material/group_add:", disabled=bool(why),
                         help=why):
        try:
            start_job(store, "discover", {"model": model}, who)
        except (JobError, PermissionDenied) as exc:
            st.error(str(exc))
    job_status(store, "discover", unit="steps")


def name_groups(store: Store, groups: dict[int, list[int]], chosen: list[int], name: str | None, who: str) -> None:
    images = sorted({image for group in chosen for image in groups[group]})
    try:
        done = store.set_label(images, name or "", who)
    except (EditError, PermissionDenied) as exc:
        flash(str(exc), "error")
        return
    flash(f"Labelled {done} image{'s' * (done != 1)} '{name}'.")
    for group in chosen:
        st.session_state.pop(f"discover-tick-{group}", None)


def name_one(store: Store, groups: dict[int, list[int]], group: int, who: str) -> None:
    name_groups(store, groups, [group], st.session_state.get(f"discover-name-{group}"), who)


def merge_ticked(store: Store, groups: dict[int, list[int]], who: str) -> None:
    ticked = [g for g in groups if st.session_state.get(f"discover-tick-{g}")]
    if len(ticked) < 2:
        flash("Tick two or more groups that are one person first.", "warning")
        return
    name_groups(store, groups, ticked, st.session_state.get("discover-merge-name"), who)


def group_card(store: Store, number: int, group: int, faces, labels: list[str], groups: dict[int, list[int]],
               who: str, why: str | None) -> None:
    with st.container(border=True):
        head, tick = st.columns([4, 1])
        head.markdown(f"**Proposed person {number}** · {len(faces)} face{'s' * (len(faces) != 1)} in "
                      f"{len(groups[group])} image{'s' * (len(groups[group]) != 1)}")
        tick.checkbox("Merge", key=f"discover-tick-{group}", help="Tick the groups that are one person, then "
                      "name them together below")
        shown = faces.head(FACES_SHOWN)
        show_gallery(store, [str(store.project.root / chip) for chip in shown["chip"]],
                     [f"#{image}" for image in shown["image_id"]], width=88)
        name_col, button_col = st.columns([3, 1], vertical_alignment="bottom")
        name_col.selectbox("Name this person", labels, key=f"discover-name-{group}", index=None,
                           accept_new_options=True, placeholder="Choose a label or type a new name")
        button_col.button("Name", key=f"discover-label-{group}", on_click=name_one, args=(store, groups, group, who),
                          disabled=bool(why), help=why)


def discover_section(store: Store, who: str) -> None:
    st.header("Discover people")
    st.caption("Faces of images without a label, grouped into proposed people (groups of near neighbours join "
               "when they are as close as their own faces are to each other, never beyond a little over the model's "
               "same-person distance; one face per photo). Name a group to label its images.")
    show_flash()
    run_discovery(store, who)
    run = store.latest_discovery()
    if run is None:
        return
    rows = store.discovered_groups(int(run["id"]))
    if rows.empty:
        st.info(f"Discovery #{run['id']} ({run['model']}) left no unnamed group.")
        return
    groups = {int(g): sorted(set(rows.loc[rows["grp"] == g, "image_id"].astype(int))) for g in rows["grp"].unique()}
    st.markdown(f"**{len(groups)} proposed people** still unnamed from discovery #{run['id']} ({run['model']}, "
                f"groups joined up to {run['cut']:.3f} apart).")
    labels, why = store.label_names(), refusal("label")
    for number, group in enumerate(list(groups)[:GROUPS_SHOWN], start=1):
        group_card(store, number, group, rows[rows["grp"] == group], labels, groups, who, why)
    if len(groups) > GROUPS_SHOWN:
        st.caption(f"The {GROUPS_SHOWN} largest of {len(groups)} groups are shown.")
    with st.container(border=True):
        name_col, merge_col, undo_col = st.columns([3, 1, 1], vertical_alignment="bottom")
        name_col.selectbox("Name the ticked groups as one person (merge)", labels, key="discover-merge-name",
                           index=None, accept_new_options=True, placeholder="Choose a label or type a new name")
        merge_col.button("Merge and name", key="discover-merge", on_click=merge_ticked, args=(store, groups, who),
                         disabled=bool(why), help=why)
        undo_col.button("Undo", key="discover-undo", icon=":material/undo:", on_click=undo, args=(store, who),
                        help="Undo your last change")
