"""The detection worker: `python -m curation.faces.worker ROOT SNAPSHOT OUT [--device D]
[--batch-size N] [--workers W]`.

Reads the snapshot (image_id, sha256, path, width, height), finds the faces batch by batch,
writes each face's aligned chip into the project (`faces/ab/<sha256>-<n>.jpg`) and, for each
batch, two Parquet parts into OUT: `scans-NNNNN.parquet` (image_id, faces, error) and
`faces-NNNNN.parquet` (a row per face); then prints where they are. A part per batch: detection
is slow next to recording a part, so each batch shows as progress and survives a stop. It never
opens the database: the job that started it records the parts.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa

from ..device import DeviceUnavailable, resolve_device
from ..embed.inference import default_loader_workers
from ..jobs.worker import emit, write_part
from ..project import Project, write_atomically
from ..lifeline import exit_with_parent
from .detect import Detector, Scan, ScanTask, by_detection_size, scan_loader

SCAN_SCHEMA = pa.schema([("image_id", pa.int64()), ("faces", pa.int32()), ("error", pa.string())])
POINTS = pa.list_(pa.float32(), 10)
FACE_SCHEMA = pa.schema([
    ("image_id", pa.int64()), ("face", pa.int32()), ("x1", pa.float32()), ("y1", pa.float32()),
    ("x2", pa.float32()), ("y2", pa.float32()), ("prob", pa.float32()), ("landmarks", POINTS),
    ("chip_landmarks", POINTS), ("chip", pa.string()),
])


def chip_path(sha256: str, face: int) -> str:
    """Where a face's chip lives, relative to the project folder."""
    return f"faces/{sha256[:2]}/{sha256}-{face}.jpg"


def save_chips(scans: list[Scan], project: Project) -> list[dict]:
    """Write every face's chip into the project; the face rows for the part."""
    rows = []
    for scan in scans:
        for n, face in enumerate(scan.faces):
            relative = chip_path(scan.task.sha256, n)
            write_atomically(project.root / relative, face.chip, project.root / "work" / "tmp")
            rows.append({"image_id": scan.task.image_id, "face": n, **dict(zip(("x1", "y1", "x2", "y2"), face.box)),
                         "prob": face.prob, "landmarks": face.landmarks, "chip_landmarks": face.chip_landmarks,
                         "chip": relative})
    return rows


def write_scans(scans: list[Scan], project: Project, out: Path, number: int) -> None:
    faces = pa.Table.from_pylist(save_chips(scans, project), schema=FACE_SCHEMA)
    table = pa.Table.from_pylist(
        [{"image_id": s.task.image_id, "faces": None if s.error else len(s.faces), "error": s.error} for s in scans],
        schema=SCAN_SCHEMA)
    emit(scans=write_part(table, out, f"scans-{number:05d}.parquet"),
         faces=write_part(faces, out, f"faces-{number:05d}.parquet"), images=len(scans))


def read_tasks(snapshot: Path) -> list[ScanTask]:
    frame = pd.read_parquet(snapshot)
    return by_detection_size([ScanTask(int(r.image_id), r.sha256, r.path, int(r.width), int(r.height))
                              for r in frame.itertuples()])


def run(root: Path, snapshot: Path, out: Path, device_name: str, batch_size: int, workers: int | None) -> None:
    project = Project(root)
    tasks = read_tasks(snapshot)
    device = resolve_device(device_name)
    detector = Detector(device)
    workers = default_loader_workers(device) if workers is None else workers
    loader = scan_loader(tasks, batch_size, workers, pin=device.type == "cuda")
    for part, (indices, batch, sizes, errors) in enumerate(loader):
        write_scans(detector.scan([tasks[i] for i in indices], batch, sizes, errors), project, out, part)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m curation.faces.worker")
    parser.add_argument("root", type=Path)
    parser.add_argument("snapshot", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--workers", type=int, default=None, help="decoding processes (default: by device)")
    args = parser.parse_args(argv)
    try:
        run(args.root, args.snapshot, args.out, args.device, args.batch_size, args.workers)
    except DeviceUnavailable as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    exit_with_parent()
    sys.exit(main())
