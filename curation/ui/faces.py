"""Faces page parts: detection and embedding figures, and the two jobs."""

from __future__ import annotations

import streamlit as st

from ..embed import DEFAULT_EMBEDDER, EMBEDDERS, get_embedder
from ..accounts import PermissionDenied
from ..pipeline import short_count
from ..jobs import OPERATIONS, JobError, start_job
from ..jobs.kinds import DEVICES
from ..store import Store
from .context import ANNOTATOR_KEY
from .jobs import job_status
from .signin import refusal
from .text import md_inline

DETECT = OPERATIONS["detect"].defaults()
EMBED = OPERATIONS["embed"].defaults()


def figures(store: Store) -> None:
    scans, embedded = store.scan_counts(), store.embedding_counts()
    cols = st.columns(5)
    searched = "all" if scans["scanned"] == scans["images"] else short_count(scans["scanned"])
    cols[0].metric(f"Images searched, of {short_count(scans['images'])}", searched,
                   help=f"{scans['scanned']:,} of {scans['images']:,} usable images")
    for column, (label, key) in zip(cols[1:], [("Faces", "faces"), ("Images with faces", "with_faces"),
                                               ("No face", "no_face"), ("Could not be read", "failed")]):
        short = short_count(scans[key])
        column.metric(label, short, help=None if short == str(scans[key]) else f"{scans[key]:,}")
    if embedded:
        st.dataframe({"model": list(embedded), "vectors": list(embedded.values())}, hide_index=True)


def _start(store: Store, kind: str, params: dict) -> None:
    try:
        start_job(store, kind, params, st.session_state.get(ANNOTATOR_KEY))
    except (JobError, PermissionDenied) as exc:
        st.error(md_inline(exc))


def detect_section(store: Store) -> None:
    st.subheader("Detect faces")
    st.caption("MTCNN finds every face of every usable image not searched yet: its box, five landmarks and "
               "probability, and a 150 px chip aligned the way dlib aligns faces.")
    device_col, batch_col, _ = st.columns([1, 1, 2])
    device = device_col.selectbox("Device", DEVICES, key="detect-device")
    batch = batch_col.number_input("Images per batch", 1, 256, DETECT["batch_size"], key="detect-batch")
    why = refusal("detect")
    if st.button("Detect faces", key="detect-faces", type="primary", icon=":material/face:", disabled=bool(why),
                 help=why):
        _start(store, "detect", {"device": device, "batch_size": int(batch)})
    job_status(store, "detect", unit="images")


def _model_title(name: str) -> str:
    return f"{name}: {EMBEDDERS[name].description}"


def embed_section(store: Store) -> None:
    st.subheader("Compute embeddings")
    st.caption("Only the missing vectors are computed; a run that stops keeps what it finished.")
    names = list(EMBEDDERS)
    model = st.selectbox("Model", names, index=names.index(DEFAULT_EMBEDDER), key="embed-model",
                         format_func=_model_title)
    device_col, batch_col, weights_col = st.columns([1, 1, 2])
    device = device_col.selectbox("Device", DEVICES, key="embed-device")
    batch = batch_col.number_input("Crops per batch", 1, 1024, EMBED["batch_size"], key="embed-batch")
    weights = weights_col.text_input("Weights file (optional)", key="embed-weights",
                                     placeholder="only if not in torch's cache")
    needs_faces = get_embedder(model).subject == "face" and store.face_count() == 0
    if needs_faces:
        st.info(f"{model} embeds faces and none has been found yet: detect faces first.")
    why = refusal("embed")
    if st.button("Compute embeddings", key="compute-embeddings", type="primary", disabled=needs_faces or bool(why),
                 help=why, icon=":material/scatter_plot:"):
        _start(store, "embed", {"model": model, "device": device, "batch_size": int(batch),
                                "weights": weights.strip() or None})
    job_status(store, "embed", unit="crops")
