"""The "train" job: snapshot the dataset, run the worker process, record what it writes.

The app's process owns the database, so training runs in `python -m curation.train.worker`,
which reads the snapshot file and writes its results to files; this job follows its progress file
into the store, stops it on cancel, and records predictions and metrics when it ends.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..jobs import JobContext
from ..jobs.kinds import TrainParams
from ..jobs.worker import WorkerFailed, follow_worker
from .dataset import Snapshot, make_snapshot


class TrainingError(RuntimeError):
    """A run that cannot start or that failed, with a sentence that says why."""


def check_trainable(snapshot: Snapshot) -> None:
    counts = snapshot.table["label"].value_counts()
    usable = counts[counts >= 2]
    if len(usable) < 2:
        raise TrainingError("Training needs at least two labels with two usable, unflagged images each.")


def with_originals(rows, left_out: dict):
    """Keep the rows whose original is on disk, and count the others as left out (a lost file is not a failed run)."""
    present = np.array([Path(path).exists() for path in rows["path"]], dtype=bool)
    left_out["missing_original"] = int((~present).sum())
    return rows[present]


def with_vectors(store, rows, left_out: dict, model: str):
    """Keep the rows that have a `model` vector, and count the others as left out."""
    joined = rows.merge(store.image_vectors(model), on="image_id", how="inner")
    left_out["no_embedding"] = len(rows) - len(joined)
    if joined.empty:
        raise TrainingError(f"No image has a {model} embedding yet: compute embeddings on the Faces page "
                            f"(or `curation embed DIR --model {model}`) first.")
    return joined


def prepare_run(ctx: JobContext, params: TrainParams) -> tuple[int, Path, Snapshot]:
    store, project = ctx.store, ctx.store.project
    rows, left_out = store.training_rows()
    rows["path"] = [str(project.original_path(sha, ext)) for sha, ext in zip(rows["sha256"], rows["ext"])]
    rows = with_originals(rows, left_out)
    columns = ["image_id", "sha256", "path", "label"]
    if params.arch == "linear":
        rows, columns = with_vectors(store, rows, left_out, params.embedder), columns + ["vector"]
    snapshot = make_snapshot(rows[columns], left_out, params.val_fraction, params.seed)
    check_trainable(snapshot)
    dataset_file = project.root / "datasets" / f"{snapshot.version}.parquet"
    dataset_file.parent.mkdir(parents=True, exist_ok=True)
    snapshot.table.drop(columns=["path", "vector"], errors="ignore").to_parquet(dataset_file, index=False)
    store.record_dataset_version(snapshot.version, len(snapshot.table),
                                 snapshot.table["label"].value_counts().sort_index().to_dict(), left_out,
                                 str(dataset_file.relative_to(project.root)))
    run_id = store.create_run(params.arch, snapshot.version, params.as_dict(), ctx.job_id, ctx.actor)
    run_dir = project.root / "runs" / f"run-{run_id:04d}"
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "params.json").write_text(json.dumps(params.as_dict()))
    snapshot.table.to_parquet(run_dir / "snapshot.parquet", index=False)
    return run_id, run_dir, snapshot


def record_epoch(ctx: JobContext, run_id: int, figures: dict) -> int:
    """Record one epoch the worker reported; the progress is counted in epochs."""
    ctx.store.add_epoch(run_id, figures)
    ctx.progress(figures["epoch"], figures["epochs"],
                 f"run #{run_id}: epoch {figures['epoch']} of {figures['epochs']}, "
                 f"validation accuracy {figures['val_accuracy']:.1%}")
    return 0


def run_train(ctx: JobContext) -> tuple[str, bool]:
    """The "train" job (curation.jobs.kinds)."""
    params = ctx.params
    run_id, run_dir, snapshot = prepare_run(ctx, params)
    ctx.progress(0, params.epochs, f"run #{run_id}: starting")
    try:
        cancelled = follow_worker("curation.train.worker", [str(run_dir)], run_dir / "worker.log",
                                  lambda figures: record_epoch(ctx, run_id, figures), cancelled=ctx.cancelled)
    except WorkerFailed as exc:
        ctx.store.finish_run(run_id, "failed", error=str(exc))
        raise TrainingError(f"Run #{run_id} failed: {exc}") from None
    if cancelled:
        ctx.store.finish_run(run_id, "cancelled")
        return f"Run #{run_id} cancelled.", True
    result = json.loads((run_dir / "result.json").read_text())
    root = ctx.store.project.root
    ctx.store.finish_run(run_id, "done", result, model_path=str((run_dir / "model.pt").relative_to(root)),
                         torchscript_path=str((run_dir / "model.torchscript.pt").relative_to(root)),
                         predictions=str(run_dir / "predictions.parquet"))
    missing = snapshot.left_out.get("missing_original", 0)
    lost = (f" ({missing} image left out: its original is missing; `curation check` lists it)" if missing == 1 else
            f" ({missing} images left out: their originals are missing; `curation check` lists them)" if missing else "")
    return f"Run #{run_id} finished: validation accuracy {result['metrics']['accuracy']:.1%}{lost}.", False
