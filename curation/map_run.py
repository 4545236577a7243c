"""Laying out the map: the "map" job, whose UMAP runs in a worker process.

UMAP spends up to a minute compiling with numba and then minutes computing, holding the GIL much of
that time; in the app's process it would freeze every page. The job writes the vectors to a file,
runs `python -m curation.map_run` on it (curation.jobs.worker's protocol; it fills the layout
cache, `<project>/maps/`), and can be cancelled by stopping that process. Past the params' `sample`
points the worker fits on a sample and reports each batch of the rest it places. The page reads the
layout from the cache.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from .embed import get_embedder
from .jobs.worker import emit, follow_worker, work_folder
from .maps import FIT_SAMPLE, TRANSFORM_BATCH, cached_layout, stored_layout
from .lifeline import exit_with_parent


def maps_dir(store) -> Path:
    return store.project.root / "maps"


def lay_out(store, model: str, progress=None, cancelled=None, fit_sample: int = FIT_SAMPLE,
            batch: int = TRANSFORM_BATCH) -> tuple[int, bool]:
    """Fill the layout cache for every `model` vector of the project; (points, cancelled)."""
    keys, matrix = store.map_vectors(model, get_embedder(model).subject)
    if not len(keys):
        raise ValueError(f"No {model} vector yet: compute the embeddings on the Faces page first.")
    if stored_layout(maps_dir(store), model, keys) is not None:
        return len(keys), False
    report = progress or (lambda done, total, message: None)
    report(0, len(keys), f"UMAP of {len(keys):,} points in a worker process")
    with work_folder(store.project.root, "map") as work:
        source = work / "vectors.npz"
        np.savez(source, keys=keys, matrix=matrix)
        del matrix
        stopped = follow_worker("curation.map_run", [str(maps_dir(store)), model, str(source), str(fit_sample),
                                                     str(batch)],
                                work / "worker.log", lambda message: report_step(report, message), cancelled=cancelled)
        if stopped:
            return len(keys), True
    report(len(keys), len(keys), "Done")
    return len(keys), False


def report_step(progress, message: dict) -> int:
    """The job's side of a worker's progress message."""
    if "done" in message:
        progress(message["done"], message["total"], message["message"])
    return 0


def run_map(ctx) -> tuple[str, bool]:
    """The "map" job (curation.jobs.kinds)."""
    model = ctx.params.model
    points, cancelled = lay_out(ctx.store, model, ctx.progress, ctx.cancelled, fit_sample=ctx.params.sample)
    return f"{model}: {points} points laid out", cancelled


def main(argv: list[str]) -> None:
    cache_dir, model, source, fit_sample, batch = argv
    data = np.load(source)
    cached_layout(Path(cache_dir), model, data["keys"], data["matrix"], fit_sample=int(fit_sample),
                  batch=int(batch), progress=lambda done, total, message: emit(done=done, total=total, message=message))
    emit(points=len(data["keys"]))


if __name__ == "__main__":
    exit_with_parent()
    main(sys.argv[1:])
