"""Training and evaluation figures on this machine.

- `linear`: seconds to fit the logistic head on 10,000 embeddings (128-d, 100 identities).
- `resnet34`: seconds for one training epoch on 1,000 images at 160 px (from scratch, batch 32),
  on the CPU, and images/s of training with mixed precision when a CUDA device is present.
- Evaluate: server-side time of what the Evaluate page runs on a cell click (the confusion matrix
  in SQL, per-class scores, the cell's images and their grid items) on a run of 100,000 predictions.
  Target: under 1 s at the median.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from curation.store import init_project
from curation.synth import class_image
from curation.train.dataset import stratified_split
from curation.train.evaluate import matrix_from_counts, per_class
from curation.jobs.kinds import TrainParams
from curation.train.fit import fit_linear, fit_resnet34

TARGET_CELL_S = 1.0


def bench_linear(n: int, dim: int, classes: int) -> float:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(classes, dim))
    labels = [f"id{i % classes}" for i in range(n)]
    table = pd.DataFrame({"image_id": range(n), "label": labels,
                          "vector": list(centres[np.arange(n) % classes] + 0.5 * rng.normal(size=(n, dim))),
                          "split": stratified_split(labels, 0.2, 0)})
    start = time.perf_counter()
    fit_linear(table, TrainParams(arch="linear"), lambda f: None)
    return time.perf_counter() - start


def image_table(n: int, folder: Path) -> pd.DataFrame:
    shapes = ["circle", "square", "star", "triangle"]
    rows = []
    for i in range(n):
        path = folder / f"{i:05d}.jpg"
        class_image(shapes[i % 4], i, 160, seed=1).save(path, quality=85)
        rows.append((i, str(path), shapes[i % 4]))
    table = pd.DataFrame(rows, columns=["image_id", "path", "label"])
    table["split"] = "train"
    return table


def bench_resnet_epoch(table: pd.DataFrame, device: torch.device) -> float:
    seconds = []
    fit_resnet34(table, TrainParams(epochs=1, image_size=160, batch_size=32), device,
                 lambda f: seconds.append(f["seconds"]), lambda: False)
    return seconds[0]


def predictions_project(n: int, classes: int, root: Path):
    """A project with n images and one run of n predictions, written straight with SQL."""
    store = init_project(root)
    with store.transaction() as cur:
        cur.execute(
            "INSERT INTO images (id, sha256, status, label, ext, width, height, added_at) "
            "SELECT i, md5(i::VARCHAR) || md5((i + 1)::VARCHAR), 'ok', 'id' || (i % ?), 'jpg', 160, 160, now() "
            "FROM range(1, ? + 1) t(i)", [classes, n])
        cur.execute("INSERT INTO runs (id, arch, dataset_version, params, status, started_at) "
                    "VALUES (1, 'linear', 'bench', '{}', 'done', now())")
        cur.execute(
            "INSERT INTO predictions SELECT 1, i, 'id' || (i % ?), CASE WHEN random() < 0.8 THEN 'id' || (i % ?) "
            "ELSE 'id' || ((i * 7) % ?) END, random(), random() * 3, CASE WHEN i % 5 = 0 THEN 'val' ELSE 'train' END "
            "FROM range(1, ? + 1) t(i)", [classes, classes, classes, n])
    return store


def cell_click(store, run_id: int, label: str, predicted: str) -> float:
    """What the Evaluate page runs on a click: matrix (SQL), scores, the cell's images, their grid items."""
    start = time.perf_counter()
    matrix = matrix_from_counts(store.prediction_counts(run_id, None), store.run_classes(run_id))
    per_class(matrix)
    frame = store.cell_predictions(run_id, label, predicted, None)
    store.grid_items([int(i) for i in frame["image_id"]])
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--embeddings", type=int, default=10_000)
    parser.add_argument("--images", type=int, default=1_000)
    parser.add_argument("--predictions", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CUDA: {torch.cuda.is_available()}")
    print(f"linear head, {args.embeddings} embeddings x 128, 100 labels: {bench_linear(args.embeddings, 128, 100):.2f} s")
    with tempfile.TemporaryDirectory() as tmp:
        table = image_table(args.images, Path(tmp))
        cpu = bench_resnet_epoch(table, torch.device("cpu"))
        print(f"resnet34, one epoch of {args.images} images at 160 px on the CPU: {cpu:.1f} s "
              f"({args.images / cpu:.1f} images/s)")
        if torch.cuda.is_available():
            gpu = bench_resnet_epoch(table, torch.device("cuda"))
            print(f"resnet34, one epoch on {torch.cuda.get_device_name()}, bf16 autocast: {gpu:.1f} s "
                  f"({args.images / gpu:.0f} images/s, decoding included)")
        store = predictions_project(args.predictions, 50, Path(tmp) / "project")
        times = [cell_click(store, 1, f"id{k % 50}", f"id{(k * 7) % 50}") for k in range(1, args.repeats + 1)]
        store.close()
    median = statistics.median(times)
    print(f"Evaluate cell click on {args.predictions} predictions: median {median * 1e3:.0f} ms, "
          f"max {max(times) * 1e3:.0f} ms")
    print(f"{'PASS' if median < TARGET_CELL_S else 'MISS'}: cell click median {median * 1e3:.0f} ms "
          f"(target < {TARGET_CELL_S * 1e3:.0f} ms)")


if __name__ == "__main__":
    main()
