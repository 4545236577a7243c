"""Clusters page parts: run a cleaning, pick an identity, and decide its suggestions.

The identity's faces are split as the cleaning saw them: the next open suggestion on its own
(Y accepts, N rejects), the rest of the open ones as a grid with a button each and all at once,
then the core (weakest matches first: the ones worth a look), what was decided, and bystanders.
An ambiguous identity (two people in it, close in number, neither another label's) first asks
which of them it is, the candidate groups side by side; one click decides and its suggestions
follow. Every decision goes through the store as one undoable batch (Ctrl+Z).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ..accounts import PermissionDenied
from ..embed import EMBEDDERS
from ..jobs import JobError, start_job
from ..store import EditError, Store
from .review import flash, show_flash, undo
from .jobs import job_status
from .pictures import show_gallery, show_picture
from .signin import refusal
from .text import md_inline, md_text

IDENTITY_KEY = "clusters-identity"
GRID_COLUMNS = 6
CORE_SHOWN = 60
#: Open suggestions drawn as tiles (a picture and two buttons each): a hundred of them take seconds to draw.
OPEN_SHOWN = 12
READING_SHOWN = 12


def clean_section(store: Store, who: str) -> str | None:
    """The model to judge by and the Clean button; the chosen model, or None when nothing is embedded."""
    models = [name for name in store.embedding_counts() if name in EMBEDDERS]
    if not models:
        st.info("No embeddings yet: detect faces and compute embeddings on the Faces page first "
                "(dlib-resnet34 works offline; hog for images without faces).")
        return None
    model_col, label_col, button_col = st.columns([2, 2, 1], vertical_alignment="bottom")
    model = model_col.selectbox("Judge by", models, key="clean-model",
                                format_func=lambda m: f"{m} ({EMBEDDERS[m].subject} vectors)")
    label = label_col.selectbox("Identities", [None, *store.label_names()], key="clean-label",
                                format_func=lambda v: "every label" if v is None else v)
    why = refusal("clean")
    if button_col.button("Clean", key="clean-run", type="primary", icon=":material/cleaning_services:",
                         disabled=bool(why), help=why):
        try:
            start_job(store, "clean", {"model": model, "label": label}, who)
        except (JobError, PermissionDenied) as exc:
            st.error(md_inline(exc))
    job_status(store, "clean", unit="steps")
    latest = store.clean_runs(1)
    if len(latest):
        run = latest.iloc[0]
        st.caption(f"Latest cleaning: run #{run['id']} by {md_text(run['model'])}; same person under "
                   f"{run['same_person']:.3f} ({md_text(run['same_person_source'])}).")
    return model


def choose_identity(store: Store) -> str | None:
    overview = store.identity_overview()
    cleaned = overview[overview["run_id"].notna()]
    if cleaned.empty:
        st.info("No identity has been cleaned yet: press Clean above.")
        return None
    st.dataframe(overview.drop(columns=["run_id"]), hide_index=True, key="identity-table",
                 column_config={"label": "identity", "kept": "kept", "remove": "to remove",
                                "relabel": "to relabel", "merge": "merges", "ambiguous": "ambiguous"})
    labels = list(cleaned["label"])
    by_label = cleaned.set_index("label")
    todo = by_label[["remove", "relabel", "merge"]].sum(axis=1)
    unsure = by_label["ambiguous"].fillna(False).astype(bool)
    if st.session_state.get(IDENTITY_KEY) not in labels:
        first = unsure.idxmax() if unsure.any() else todo.idxmax() if todo.max() > 0 else labels[0]
        st.session_state[IDENTITY_KEY] = first
    return st.selectbox("Identity", labels, key=IDENTITY_KEY,
                        format_func=lambda name: f"{name} (ambiguous: choose who it is)" if unsure[name]
                        else f"{name} ({int(todo[name])} open)")


def picture(store: Store, row) -> str:
    """The face's aligned chip, or the image's thumbnail for a whole-image model."""
    if isinstance(row.chip, str) and row.chip:
        return str(store.project.root / row.chip)
    return str(store.project.thumb_path(row.sha256))


def verdict_text(row) -> str:
    if row.action == "relabel":
        return f"relabel → {row.target_label} · {row.score:.2f}"
    if row.action == "remove":
        return f"not {row.label} · {row.score:.2f}"
    return f"match {row.score:.2f}"


def decide(store: Store, ids: list[int], accept: bool, who: str) -> None:
    try:
        done, skipped = store.decide_suggestions(ids, accept, who)
    except PermissionDenied as exc:
        flash(str(exc), "error")
        return
    verb = "Accepted" if accept else "Rejected"
    text = f"{verb} {done} suggestion{'s' * (done != 1)}."
    if skipped:
        text += f" {skipped} left open: their image was relabelled since the cleaning."
    flash(text, "success" if done else "warning")


def next_up(store: Store, row, who: str) -> None:
    """The first open suggestion, large, with the keyboard's Y and N."""
    with st.container(border=True):
        st.markdown("**Next suggestion** · Y accepts, N rejects, Ctrl+Z undoes")
        left, right = st.columns([1, 3], vertical_alignment="center")
        with left:
            show_picture(store, picture(store, row), width=160, alt=f"image #{row.image_id}")
        with right:
            st.subheader(md_text(verdict_text(row)), anchor=False)
            st.caption(f"Image #{row.image_id}, labelled {md_text(row.image_label or 'nothing')}; "
                       f"suggestion #{row.id} of cleaning run #{row.run_id}")
            accept, reject, back = st.columns(3)
            why = refusal("review_suggestion")
            accept.button("Accept", key="accept-next", shortcut="Y", type="primary", icon=":material/check:",
                          disabled=bool(why), help=why, on_click=decide, args=(store, [int(row.id)], True, who))
            reject.button("Reject", key="reject-next", shortcut="N", icon=":material/close:",
                          disabled=bool(why), help=why, on_click=decide, args=(store, [int(row.id)], False, who))
            back.button("Undo", key="undo-clusters", shortcut="Ctrl+Z", icon=":material/undo:",
                        on_click=undo, args=(store, who))


def open_grid(store: Store, rows: pd.DataFrame, who: str) -> None:
    ids = [int(i) for i in rows["id"]]
    head, accept_all, reject_all = st.columns([3, 1, 1], vertical_alignment="bottom")
    head.subheader(f"Suggested for removal or relabelling ({len(rows)})")
    why = refusal("review_suggestion")
    accept_all.button(f"Accept all {len(ids)}", key="accept-all", disabled=bool(why), help=why,
                      on_click=decide, args=(store, ids, True, who))
    reject_all.button(f"Reject all {len(ids)}", key="reject-all", disabled=bool(why), help=why,
                      on_click=decide, args=(store, ids, False, who))
    records = list(rows.head(OPEN_SHOWN).itertuples())
    for start in range(0, len(records), GRID_COLUMNS):
        for column, row in zip(st.columns(GRID_COLUMNS), records[start:start + GRID_COLUMNS]):
            with column.container(border=True):
                show_picture(store, picture(store, row), alt=f"image #{row.image_id}")
                st.caption(md_text(verdict_text(row)))
                yes, no = st.columns(2)
                yes.button("", key=f"accept-{row.id}", icon=":material/check:", help=why or "Accept",
                           disabled=bool(why), on_click=decide, args=(store, [int(row.id)], True, who))
                no.button("", key=f"reject-{row.id}", icon=":material/close:", help=why or "Reject",
                          disabled=bool(why), on_click=decide, args=(store, [int(row.id)], False, who))
    if len(rows) > OPEN_SHOWN:
        st.caption(f"The first {OPEN_SHOWN} of {len(rows)} are shown: the next appear as these are decided "
                   "(the buttons above decide all of them).")


def gallery(store: Store, rows: pd.DataFrame, limit: int = CORE_SHOWN, which: str = "first") -> None:
    shown = rows.head(limit)
    show_gallery(store, [picture(store, row) for row in shown.itertuples()],
                 [verdict_text(row) if row.status != "kept" else f"{row.score:.2f}" for row in shown.itertuples()], 96)
    if len(rows) > limit:
        st.caption(f"The {limit} {which} of {len(rows)} are shown.")


def merges(store: Store, rows: pd.DataFrame, who: str) -> None:
    why = refusal("review_suggestion")
    for row in rows.itertuples():
        with st.container(border=True):
            text, yes, no = st.columns([4, 1, 1], vertical_alignment="center")
            text.markdown(f"**{md_text(row.label)}** and **{md_text(row.target_label)}** look like one person "
                          f"(score {row.score:.2f}): accepting relabels every image of {md_text(row.label)}.")
            yes.button("Merge", key=f"accept-{row.id}", disabled=bool(why), help=why,
                       on_click=decide, args=(store, [int(row.id)], True, who))
            no.button("Keep apart", key=f"reject-{row.id}", disabled=bool(why), help=why,
                      on_click=decide, args=(store, [int(row.id)], False, who))


def choose(store: Store, run_id: int, label: str, candidate: int, who: str) -> None:
    try:
        decided = store.choose_reading(run_id, label, candidate, who)
    except (PermissionDenied, EditError) as exc:
        flash(str(exc), "error")
        return
    flash(f"Chose reading {candidate + 1} for {label}: {decided} faces decided; its suggestions are below "
          "(Ctrl+Z undoes the choice).")


def reading_outcome(part: pd.DataFrame) -> str:
    """What a reading does, as the page will list it: bystanders are not suggestions."""
    opened = part.loc[part["status"] == "open", "action"].value_counts()
    return (f"keeps {int((part['status'] == 'kept').sum())}, suggests {int(opened.get('remove', 0))} removals "
            f"and {int(opened.get('relabel', 0))} relabels")


def readings_section(store: Store, label: str, readings: pd.DataFrame, who: str) -> None:
    """The candidate people of an ambiguous identity side by side, a button each."""
    run_id = int(readings["run_id"].iloc[0])
    parts = list(readings.groupby("candidate"))
    with st.container(border=True, key="identity-readings"):
        st.subheader(f"Which of these is {md_text(label)}?", anchor=False)
        st.caption(f"The faces of {md_text(label)} hold {len(parts)} people close in number, and no other label "
                   "is either of them, so nothing is suggested for removal until you choose. Your choice is an "
                   "edit (Ctrl+Z undoes it); the suggestions then follow from it.")
        why = refusal("review_suggestion")
        for column, (candidate, part) in zip(st.columns(len(parts)), parts):
            members = part[part["member"]]
            with column.container(border=True):
                st.markdown(f"**Reading {int(candidate) + 1}**: {len(members)} faces alike")
                show_gallery(store, [picture(store, row) for row in members.head(READING_SHOWN).itertuples()],
                             [f"#{row.image_id}" for row in members.head(READING_SHOWN).itertuples()], 80)
                st.caption(f"Choosing it {reading_outcome(part)}.")
                st.button(f"This is {label}", key=f"reading-{int(candidate)}", type="primary",
                          icon=":material/person_check:", disabled=bool(why), help=why,
                          on_click=choose, args=(store, run_id, label, int(candidate), who))
        st.button("Undo my last decision", key="undo-clusters", shortcut="Ctrl+Z", icon=":material/undo:",
                  on_click=undo, args=(store, who))


def identity_section(store: Store, label: str, who: str) -> None:
    show_flash()
    readings = store.identity_readings(label)
    if len(readings):
        readings_section(store, label, readings, who)
        return
    rows = store.identity_suggestions(label)
    merge_rows = rows[rows["action"] == "merge"]
    open_rows = rows[(rows["status"] == "open") & (rows["action"] != "merge")]
    if len(merge_rows[merge_rows["status"] == "open"]):
        merges(store, merge_rows[merge_rows["status"] == "open"], who)
    if open_rows.empty:
        st.success(f"Nothing left to decide for {md_text(label)}.")
        st.button("Undo my last decision", key="undo-clusters", shortcut="Ctrl+Z", icon=":material/undo:",
                  on_click=undo, args=(store, who))
    else:
        next_up(store, next(open_rows.itertuples()), who)
        open_grid(store, open_rows, who)
    core = rows[rows["status"] == "kept"].sort_values("score")
    unit = "faces" if rows["face_id"].notna().any() else "images"
    st.subheader(f"{'The person' if unit == 'faces' else 'The class'}: {len(core)} {unit} kept", anchor=False)
    if len(core):
        gallery(store, core, which="weakest")
    decided = rows[rows["status"].isin(["accepted", "rejected"])]
    # The closed expanders' pictures are drawn only once opened: a page load sends none of them.
    with st.expander(f"Decided ({len(decided)})", key="clusters-decided", on_change="rerun") as shown:
        for status in ("accepted", "rejected") if shown.open else ():
            part = decided[decided["status"] == status]
            if len(part):
                st.markdown(f"**{status.capitalize()}** ({len(part)})")
                gallery(store, part)
    bystanders = rows[rows["status"] == "bystander"]
    if len(bystanders):
        with st.expander(f"Other people in the person's photos ({len(bystanders)}): nothing to do",
                         key="clusters-bystanders", on_change="rerun") as shown:
            if shown.open:
                gallery(store, bystanders)
