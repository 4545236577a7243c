"""Detection on Ray: `python -m curation.engines.ray_detect ROOT SNAPSHOT OUT [--device D]
[--batch-size N] [--address ADDR]`.

The same contract as `curation.faces.worker`: the snapshot in, `scans-NNNNN.parquet` and
`faces-NNNNN.parquet` parts out with the chips written into the project, one JSON line per part.
The batches are the local worker's (the snapshot sorted by detection size, cut every
`batch-size` images), since MTCNN's pyramid depends on a batch's padded size: the same batches
give the same faces. Ray Data decodes each batch in CPU tasks and runs MTCNN and dlib's
landmarks in a pool of actors (one per GPU, or one on the CPUs); this process, beside the
project, writes the chips and parts as the batches come back, so the cluster needs to reach the
originals (shared or object storage mounted at the same path) but never writes into the project.
"""

from __future__ import annotations

import argparse
import pickle
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..device import DeviceUnavailable
from ..faces.detect import ScanImages, ScanTask, pad_batch
from ..faces.worker import read_tasks, write_scans
from ..project import Project
from .ray_cluster import RayUnavailable, actor_pool, connect, set_torch_threads


def task_groups(tasks: list[ScanTask], batch_size: int) -> list[dict]:
    """The local worker's batches, as Ray Data rows: the part number and its tasks."""
    return [{"part": n // batch_size, "tasks": [asdict(t) for t in tasks[n:n + batch_size]]}
            for n in range(0, len(tasks), batch_size)]


def decode_group(row: dict) -> dict:
    """CPU task: decode and pad one batch exactly as `scan_loader` does."""
    tasks = [ScanTask(**t) for t in row["tasks"]]
    _, batch, sizes, errors = pad_batch([ScanImages(tasks)[i] for i in range(len(tasks))])
    return {"part": row["part"], "tasks": row["tasks"], "batch": batch.numpy(),
            "sizes": np.array(sizes, dtype=np.int64), "errors": [e or "" for e in errors]}


class DetectActor:
    """MTCNN and the landmark model, loaded once per actor."""

    def __init__(self, device: str, cpus: float):
        import torch

        from ..faces.detect import Detector

        set_torch_threads(cpus)
        self.torch = torch
        self.detector = Detector(torch.device(device))

    def __call__(self, row: dict) -> dict:
        tasks = [ScanTask(**t) for t in row["tasks"]]
        sizes = [tuple(int(v) for v in s) for s in row["sizes"]]
        errors = [e or None for e in row["errors"]]
        scans = self.detector.scan(tasks, self.torch.from_numpy(np.ascontiguousarray(row["batch"])), sizes, errors)
        return {"part": row["part"], "scans": pickle.dumps(scans)}


def run(root: Path, snapshot: Path, out: Path, device: str, batch_size: int, address: str | None) -> None:
    ray = connect(address)
    try:
        pool = actor_pool(ray, device)
        tasks = read_tasks(snapshot)
        detected = (ray.data.from_items(task_groups(tasks, batch_size), override_num_blocks=max(1, len(tasks) // batch_size))
                    .map(decode_group, num_cpus=1)
                    .map(DetectActor, fn_constructor_args=(pool.device, pool.cpus_per_actor), concurrency=pool.actors,
                         num_gpus=pool.gpus_per_actor, num_cpus=pool.cpus_per_actor))
        project = Project(root)
        for row in detected.iter_rows():
            write_scans(pickle.loads(row["scans"]), project, out, int(row["part"]))
    finally:
        ray.shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m curation.engines.ray_detect")
    parser.add_argument("root", type=Path)
    parser.add_argument("snapshot", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--workers", type=int, default=None, help="ignored: Ray sizes the decoding")
    parser.add_argument("--address", default=None, help="the Ray cluster (default: a local Ray for this run)")
    args = parser.parse_args(argv)
    try:
        run(args.root, args.snapshot, args.out, args.device, args.batch_size, args.address)
    except (RayUnavailable, DeviceUnavailable) as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
