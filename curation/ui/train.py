"""Train page parts: what will be trained on, the run form, augmentation preview, live curves."""

from __future__ import annotations

import os
from pathlib import Path

import plotly.graph_objects as go
import streamlit as st

from ..accounts import PermissionDenied
from ..jobs import OPERATIONS, JobError, start_job
from ..jobs.kinds import DEVICES
from ..embed.weights import RESNET34_IMAGENET
from ..store import Store
from ..jobs.kinds import TrainParams
from .charts import label_counts_chart
from .context import ANNOTATOR_KEY
from .pictures import original_picture, show_gallery
from .signin import refusal
from .text import md_inline

SIZES = [64, 96, 128, 160, 224]


def dataset_summary(counts, left_out: dict) -> None:
    """Show what a run would train on (`store.training_label_counts()`) and what is left out."""
    cols = st.columns(4)
    cols[0].metric("Images to train on", int(counts["images"].sum()))
    cols[1].metric("Labels", len(counts))
    cols[2].metric("Left out: flagged", left_out["flagged"] + left_out["label_conflicts"],
                   help=f"{left_out['label_conflicts']} unresolved label conflicts, {left_out['flagged']} other flags")
    cols[3].metric("Left out: unlabelled", left_out["unlabelled"])
    label_counts_chart(counts.set_index("label")["images"], key="train-labels")


def weights_notice() -> None:
    given = os.environ.get(RESNET34_IMAGENET.env)
    path = Path(given) if given else RESNET34_IMAGENET.cached()
    if path.is_file():
        st.success(f"ResNet-34 starts from ImageNet weights ({path}).", icon=":material/check:")
    else:
        st.warning(f"No ImageNet weights for ResNet-34 here: a run tries to download them, and trains from "
                   f"scratch when it cannot. To fine-tune offline, {RESNET34_IMAGENET.instructions()}",
                   icon=":material/info:")


TRAIN = OPERATIONS["train"].defaults()
ARCHS = {"resnet34": "ResNet-34, fine-tuned on the images",
         "linear": "Linear head on stored embeddings (seconds)"}


def run_form(store: Store) -> None:
    embedders = list(store.embedding_counts())
    with st.form("train"):
        arch_col, embedder_col = st.columns(2)
        arch = arch_col.selectbox("Model", list(ARCHS), key="train-arch", format_func=ARCHS.get)
        embedder = embedder_col.selectbox("Embeddings (linear head)", embedders, key="train-embedder",
                                          placeholder="none computed yet: see the Faces page",
                                          index=embedders.index("dlib-resnet34") if "dlib-resnet34" in embedders
                                          else (0 if embedders else None))
        cols = st.columns(4)
        epochs = cols[0].number_input("Epochs", 1, 500, TRAIN["epochs"], key="train-epochs")
        size = cols[1].selectbox("Image size (px)", SIZES, index=SIZES.index(TRAIN["image_size"]), key="train-size")
        seed = cols[2].number_input("Seed (split and training)", 0, 2**31 - 1, TRAIN["seed"], key="train-seed")
        device = cols[3].selectbox("Device", DEVICES, key="train-device")
        why = refusal("train")
        submitted = st.form_submit_button("Start training", type="primary", disabled=bool(why), help=why)
    if submitted:
        if arch == "linear" and not embedder:
            st.error("A linear head trains on embeddings: compute some on the Faces page first.")
            return
        params = TrainParams(arch=arch, epochs=int(epochs), image_size=int(size), seed=int(seed), device=device,
                             embedder=embedder if arch == "linear" else None)
        try:
            start_job(store, "train", params, st.session_state.get(ANNOTATOR_KEY))
            st.rerun()
        except (JobError, PermissionDenied) as exc:
            st.error(md_inline(exc))


def augmentation_preview(store: Store, sample, size: int) -> None:
    """Four augmented copies of one image of each of the first labels (`store.training_sample`); an
    original that is missing, unreadable or altered shows as a placeholder that says so."""
    if sample.empty:
        return
    from ..train.augment import preview  # torchvision: 3 s to import, paid only when the preview is open

    loaded = [original_picture(store.project.original_path(sha, ext), sha, max_side=2 * size)
              for sha, ext in zip(sample["sha256"], sample["ext"])]
    tiles = iter(preview([image for image, problem in loaded if problem is None], size, per_image=4))
    pictures, captions = [], []
    for label, (image, problem) in zip(sample["label"], loaded):
        if problem is None:
            pictures += [next(tiles).permute(1, 2, 0).numpy() for _ in range(4)]
            captions += [label] * 4
        else:
            pictures.append(image)
            captions.append(f"{label}: {problem.title('original').lower()}")
    show_gallery(store, pictures, captions, size * 2)


def curves(store: Store, run_id: int) -> None:
    epochs = store.run_epochs(run_id)
    if epochs.empty:
        st.caption("Waiting for the first epoch…")
        return
    loss, acc = st.columns(2)
    loss.plotly_chart(_lines(epochs, ["train_loss", "val_loss"], "Loss"), key=f"loss-{run_id}-{len(epochs)}")
    acc.plotly_chart(_lines(epochs, ["train_accuracy", "val_accuracy"], "Accuracy"), key=f"acc-{run_id}-{len(epochs)}")


def _lines(epochs, columns: list[str], title: str) -> go.Figure:
    fig = go.Figure([go.Scatter(x=epochs["epoch"], y=epochs[c], mode="lines+markers", name=c.replace("_", " "))
                     for c in columns])
    fig.update_layout(title=title, height=280, margin=dict(l=10, r=10, t=40, b=10), xaxis_title="epoch")
    return fig


def job_curves(store: Store, job) -> None:
    """The loss and accuracy curves of the run a train job runs (the job panel's details)."""
    run = store.run_of_job(job.id)
    if run is not None:
        curves(store, run["id"])


def runs_table(store: Store) -> None:
    runs = store.runs()
    if not runs:
        st.caption("No run yet.")
        return
    st.dataframe([{"run": r["id"], "model": r["arch"], "status": r["status"], "dataset": r["dataset_version"],
                   "validation accuracy": r["metrics"].get("val_accuracy"), "epochs": r["params"].get("epochs"),
                   "weights": r["weights"], "by": r["created_by"], "started": r["started_at"]} for r in runs],
                 hide_index=True, width="stretch",
                 column_config={"validation accuracy": st.column_config.ProgressColumn(format="percent", min_value=0,
                                                                                        max_value=1)})
