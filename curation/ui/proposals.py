"""Audit page, proposals: after a few tags, propose an attribute's value for the untagged images (a
job), then confirm the confident ones in bulk, leaving out any that look wrong. Confirming writes
ordinary tags (one undoable batch); nothing is tagged without a person pressing Confirm."""

from __future__ import annotations

import streamlit as st

from ..accounts import PermissionDenied
from ..embed import EMBEDDERS
from ..jobs import JobError, start_job
from ..store import EditError, Store
from .jobs import job_status
from .pictures import show_gallery
from .review import flash, undo
from .signin import refusal

SHOWN = 60
#: In bench/attributes.py (lfw10, orl39) 97-100% of the proposals at or above 0.55 were right once 16 or
#: more images were tagged, and a quarter to nearly all cleared it; at 0.65 all were right but few cleared it
#: (none of lfw10's group attribute from 20 tags), too few for a bulk queue. A person may raise it.
DEFAULT_CONFIDENCE = 0.55


def propose_controls(store: Store, names: list[str], who: str) -> str:
    name_col, model_col, button_col = st.columns([2, 2, 1], vertical_alignment="bottom")
    name = name_col.selectbox("Attribute", names, key="propose-attribute")
    models = [m for m in store.embedding_counts() if m in EMBEDDERS]
    model = model_col.selectbox("From the embeddings", models, key="propose-model") if models else None
    why = refusal("propose") or (None if model else "Compute embeddings first (Faces page).")
    if button_col.button("Propose values", key="propose-run", icon=":material/auto_awesome:", disabled=bool(why),
                         help=why or "Propose a value for every untagged image from the tagged ones"):
        try:
            start_job(store, "propose", {"attribute": name, "model": model}, who)
        except (JobError, PermissionDenied) as exc:
            st.error(str(exc))
    job_status(store, "propose", unit="steps")
    return name


def confirm(store: Store, name: str, ids: list[int], who: str) -> None:
    left_out = set(st.session_state.get("propose-leave-out") or [])
    try:
        done = store.confirm_proposals([i for i in ids if i not in left_out], name, who)
    except (EditError, PermissionDenied) as exc:
        flash(str(exc), "error")
        return
    flash(f"Confirmed {done} proposed value{'s' * (done != 1)} of {name}: they are tags now (Undo reverts them).")
    st.session_state.pop("propose-leave-out", None)


def proposals_section(store: Store, names: list[str], who: str) -> None:
    st.subheader("Proposed values")
    st.caption("Tag a few images per value on Review (T), then propose the rest from the embeddings: each "
               "untagged image gets the value of the nearest tagged ones, with a confidence. Proposals count "
               "nowhere until confirmed.")
    name = propose_controls(store, names, who)
    rows = store.open_proposals(name) if store.has_proposals() else None  # its join costs 0.1 s at 1.2M images
    if rows is None or rows.empty:
        st.info(f"No open proposal of {name}.")
        return
    at_least = st.slider("Confidence at least", 0.5, 1.0, DEFAULT_CONFIDENCE, 0.01, key="propose-confidence")
    chosen = rows[rows["confidence"] >= at_least]
    counts = ", ".join(f"{value} {n}" for value, n in chosen["value"].value_counts().items())
    st.markdown(f"**{len(chosen)} of {len(rows)}** open proposals of {name} at that confidence"
                + (f": {counts}" if counts else "; lower it, or tag more images and propose again."))
    shown = chosen.head(SHOWN)
    show_gallery(store, [store.project.thumb_path(sha) for sha in shown["sha256"]],
                 [f"#{i} · {value} · {c:.2f}" for i, value, c in zip(shown["image_id"], shown["value"],
                                                                      shown["confidence"])], width=110)
    ids = [int(i) for i in chosen["image_id"]]
    pick, go, back = st.columns([3, 1, 1], vertical_alignment="bottom")
    pick.multiselect("Leave these out (wrong)", ids, key="propose-leave-out", format_func=lambda i: f"#{i}")
    why = refusal("tag")
    go.button(f"Confirm {len(ids)}", key="propose-confirm", type="primary", on_click=confirm,
              args=(store, name, ids, who), disabled=bool(why) or not ids, help=why)
    back.button("Undo", key="propose-undo", icon=":material/undo:", on_click=undo, args=(store, who),
                help="Undo your last change")
