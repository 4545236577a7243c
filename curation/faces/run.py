"""Finding the faces of a project: the "detect" job, which `curation detect` runs too.

The job snapshots the usable images not searched yet, runs the detection worker process on them
and records each part it writes as it arrives. Cancelling stops the worker; the next run does
only the images left, so an interrupted run loses at most one part.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd
import pyarrow.parquet as pq

from ..engines import engine_args, worker_module
from ..jobs.kinds import DetectParams
from ..jobs.runner import Progress
from ..jobs.worker import follow_worker, work_folder
from ..project import Project

DETECTOR = "mtcnn"


@dataclass
class DetectSummary:
    searched: int = 0
    faces: int = 0
    no_face: int = 0
    failed: int = 0
    already: int = 0
    cancelled: bool = False

    def line(self) -> str:
        text = (f"{self.searched} images searched, {self.faces} faces found, {self.no_face} with no face, "
                f"{self.failed} could not be read, {self.already} searched before")
        return text + (" (cancelled)" if self.cancelled else "")


def scan_snapshot(project: Project, images: pd.DataFrame) -> pd.DataFrame:
    paths = [str(project.original_path(sha, ext)) for sha, ext in zip(images["sha256"], images["ext"])]
    return pd.DataFrame({"image_id": images["id"], "sha256": images["sha256"], "path": paths,
                         "width": images["width"], "height": images["height"]})


def detect_faces(store, device: str = "auto", batch_size: int = DetectParams().batch_size, workers: int | None = None,
                 progress: Progress | None = None, cancelled: Callable[[], bool] | None = None,
                 engine: str = "local", address: str | None = None) -> DetectSummary:
    """Find the faces of every usable image not searched yet; safe to repeat or interrupt.

    `engine` "ray" runs the detection on a Ray cluster (`address`, or a local Ray) instead of a
    local worker process; either writes the same parts, recorded the same way."""
    todo = store.images_to_scan()
    counts = store.scan_counts()
    summary = DetectSummary(already=counts["scanned"])
    done, total = counts["scanned"], counts["images"]
    if progress:
        progress(done, total)
    if todo.empty:
        return summary
    with work_folder(store.project.root, "detect") as work:
        snapshot = work / "snapshot.parquet"
        scan_snapshot(store.project, todo).to_parquet(snapshot, index=False)
        args = [str(store.project.root), str(snapshot), str(work), "--device", device, "--batch-size", str(batch_size)]
        if workers is not None:
            args += ["--workers", str(workers)]
        summary.cancelled = follow_worker(worker_module("detect", engine), args + engine_args(engine, address), work / "worker.log",
                                          lambda message: record_part(store, message, summary), done, total,
                                          progress, cancelled)
    return summary


def record_part(store, message: dict, summary: DetectSummary) -> int:
    """Record one part of the worker's output into the store and the summary; the images it covers."""
    summary.faces += store.record_scans(Path(message["scans"]), Path(message["faces"]), DETECTOR)
    found = pq.read_table(message["scans"], columns=["faces"]).column("faces").to_pylist()
    summary.searched += len(found)
    summary.no_face += found.count(0)
    summary.failed += found.count(None)
    return message["images"]


def run_detect(ctx) -> tuple[str, bool]:
    """The "detect" job (curation.jobs.kinds)."""
    summary = detect_faces(ctx.store, ctx.params.device, ctx.params.batch_size, progress=ctx.progress,
                           cancelled=ctx.cancelled, engine=ctx.params.engine, address=ctx.params.address)
    return summary.line(), summary.cancelled
