"""Embedding a project: the "embed" job, which `curation embed` runs too.

The job snapshots the faces (or, for a whole-image model, the usable images) that have no vector
from the model yet, runs the embedding worker process on them and records each part it writes as
it arrives. Cancelling stops the worker; the next run computes only the missing vectors.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from ..engines import engine_args, worker_module
from ..jobs.kinds import EmbedParams
from ..jobs.runner import Progress
from ..jobs.worker import follow_worker, work_folder
from ..project import Project
from .base import get_embedder


class NothingToEmbed(ValueError):
    """A face model asked for before any face was found."""


@dataclass
class EmbedSummary:
    model: str
    unit: str
    embedded: int = 0
    already: int = 0
    missing: int = 0
    cancelled: bool = False

    def line(self) -> str:
        text = f"{self.model}: {self.embedded} {self.unit} embedded, {self.already} embedded before"
        if self.missing:
            text += f", {self.missing} left out because their file is missing (`curation check` lists them)"
        return text + (" (cancelled)" if self.cancelled else "")


def embed_snapshot(project: Project, todo: pd.DataFrame) -> pd.DataFrame:
    """What the worker reads: key, the original's path, the chip's path (faces), the box (faces)."""
    frame = pd.DataFrame({
        "key": todo["key"].astype(np.int64),
        "image": [str(project.original_path(sha, ext)) for sha, ext in zip(todo["sha256"], todo["ext"])],
    })
    if "chip" in todo:
        frame["chip"] = [str(project.root / chip) for chip in todo["chip"]]
        for column in ("x1", "y1", "x2", "y2"):
            frame[column] = todo[column].astype(np.float64)
    return frame


def present_files(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """The rows whose file in `column` is on disk: a lost original or chip is left out, not a failed job."""
    return frame[[Path(path).exists() for path in frame[column]]]


def embed_project(store, model: str, device: str = "auto", batch_size: int = EmbedParams().batch_size,
                  workers: int | None = None, weights: str | None = None, progress: Progress | None = None,
                  cancelled: Callable[[], bool] | None = None, engine: str = "local",
                  address: str | None = None) -> EmbedSummary:
    """Compute every missing `model` vector of the project; safe to repeat or interrupt.

    `engine` "ray" runs the network on a Ray cluster (`address`, or a local Ray) instead of a
    local worker process; either writes the same parts, recorded the same way."""
    embedder = get_embedder(model)
    faces = embedder.subject == "face"
    todo = store.faces_to_embed(model) if faces else store.images_to_embed(model)
    total = store.face_count() if faces else store.scan_counts()["images"]
    summary = EmbedSummary(model, "faces" if faces else "images", already=total - len(todo))
    if faces and total == 0:
        raise NothingToEmbed(f"{model} embeds faces and none has been found yet: run face detection first.")
    done = summary.already
    if progress:
        progress(done, total)
    if todo.empty:
        return summary
    with work_folder(store.project.root, "embed") as work:
        snapshot = work / "snapshot.parquet"
        frame = embed_snapshot(store.project, todo)
        present = present_files(frame, embedder.reads)
        summary.missing = len(frame) - len(present)
        if present.empty:
            return summary
        present.to_parquet(snapshot, index=False)
        args = [model, str(snapshot), str(work), "--device", device, "--batch-size", str(batch_size)]
        args += ["--workers", str(workers)] if workers is not None else []
        args += ["--weights", str(weights)] if weights else []
        args += engine_args(engine, address)
        def record(message: dict) -> int:
            summary.embedded += store.record_embeddings(model, embedder.subject, Path(message["part"]))
            return message["vectors"]

        summary.cancelled = follow_worker(worker_module("embed", engine), args, work / "worker.log", record, done, total,
                                          progress, cancelled)
    return summary


def run_embed(ctx) -> tuple[str, bool]:
    """The "embed" job (curation.jobs.kinds)."""
    params = ctx.params
    summary = embed_project(ctx.store, params.model, params.device, params.batch_size, weights=params.weights,
                            progress=ctx.progress, cancelled=ctx.cancelled, engine=params.engine,
                            address=params.address)
    return summary.line(), summary.cancelled
