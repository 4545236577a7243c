"""The embedding worker: `python -m curation.embed.worker MODEL SNAPSHOT OUT [--device D]
[--batch-size N] [--workers W] [--weights PATH]`.

Reads the snapshot (key, image, chip, x1, y1, x2, y2), embeds its crops in batches and, every
`PART_CROPS` vectors, writes a Parquet part (key, vector) into OUT and prints where it is. It
never opens the database: the job that started it records the parts.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from ..lifeline import exit_with_parent
from .base import UnknownEmbedder, get_embedder
from ..device import DeviceUnavailable, resolve_device
from .inference import crop_loader, embed_batches, prepare
from ..jobs.worker import emit, write_part
from .weights import WeightsMissing

PART_CROPS = 256


def write_vectors(keys: list[np.ndarray], vectors: list[np.ndarray], out: Path, number: int) -> None:
    matrix = np.concatenate(vectors).astype(np.float32)
    column = pa.FixedSizeListArray.from_arrays(pa.array(matrix.ravel()), matrix.shape[1])
    table = pa.table({"key": pa.array(np.concatenate(keys)), "vector": column})
    emit(part=write_part(table, out, f"vectors-{number:05d}.parquet"), vectors=len(table))


def run(model_name: str, snapshot: Path, out: Path, device_name: str, batch_size: int, workers: int | None,
        weights: str | None) -> None:
    embedder = get_embedder(model_name)
    device = resolve_device(device_name)
    model = prepare(embedder.network(weights), device)
    items = embedder.items(pd.read_parquet(snapshot))
    loader = crop_loader(embedder, items, batch_size, device, workers)
    write_in_parts(embed_batches(model, loader, device), out)


def write_in_parts(batches, out: Path) -> None:
    """A part every `PART_CROPS` vectors, from (keys, vectors) batches (the Ray engine's too)."""
    keys, vectors, count, part = [], [], 0, 0
    for batch_keys, batch_vectors in batches:
        keys.append(batch_keys)
        vectors.append(batch_vectors)
        count += len(batch_keys)
        if count >= PART_CROPS:
            write_vectors(keys, vectors, out, part)
            keys, vectors, count, part = [], [], 0, part + 1
    if count:
        write_vectors(keys, vectors, out, part)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m curation.embed.worker")
    parser.add_argument("model")
    parser.add_argument("snapshot", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--workers", type=int, default=None, help="decoding processes (default: by device)")
    parser.add_argument("--weights", default=None, help="the model's weights file (default: its usual place)")
    args = parser.parse_args(argv)
    try:
        run(args.model, args.snapshot, args.out, args.device, args.batch_size, args.workers, args.weights)
    except (WeightsMissing, UnknownEmbedder, DeviceUnavailable) as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    exit_with_parent()
    sys.exit(main())
