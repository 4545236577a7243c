"""Embedding on Ray: `python -m curation.engines.ray_embed MODEL SNAPSHOT OUT [--device D]
[--batch-size N] [--weights PATH] [--address ADDR]`.

The same contract as `curation.embed.worker`: the snapshot in, `vectors-NNNNN.parquet` parts
(key, vector) out, one JSON line per part. Batches are planned as the local worker plans them
(`plan_batches`); Ray Data cuts each batch's crops in CPU tasks (originals, or the chips the
detection wrote, read where the cluster mounts the project) and runs the network in a pool of
actors, one per GPU or one on the CPUs; this process writes the parts.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from ..embed.base import UnknownEmbedder, get_embedder
from ..device import DeviceUnavailable
from ..embed.inference import CropDataset, plan_batches
from ..embed.weights import WeightsMissing
from ..embed.worker import write_in_parts
from .ray_cluster import RayUnavailable, actor_pool, connect, set_torch_threads


def batch_rows(items: list, batches: list[list[int]]) -> list[dict]:
    """Each planned batch as a Ray Data row: its number and its items (path, keys, boxes)."""
    return [{"batch": n, "paths": [items[i].path for i in batch], "keys": [list(items[i].keys) for i in batch],
             "boxes": [[list(b) for b in items[i].boxes] for i in batch]} for n, batch in enumerate(batches)]


class CropBatch:
    """CPU task: cut one batch's crops exactly as the local loader's workers do."""

    def __init__(self, model: str):
        self.embedder = get_embedder(model)

    def __call__(self, row: dict) -> dict:
        from ..embed.base import Item

        items = [Item(path, tuple(int(k) for k in keys), tuple(tuple(float(v) for v in b) for b in boxes))
                 for path, keys, boxes in zip(row["paths"], row["keys"], row["boxes"])]
        samples = [CropDataset(self.embedder, items)[i] for i in range(len(items))]
        return {"batch": row["batch"], "keys": np.concatenate([k for k, _ in samples]),
                "crops": np.concatenate([c for _, c in samples])}


class EmbedActor:
    """The network, loaded once per actor, on its GPU or CPU cores."""

    def __init__(self, model: str, weights: str | None, device: str, cpus: float):
        import torch

        from ..embed.inference import prepare

        set_torch_threads(cpus)
        self.torch, self.device = torch, torch.device(device)
        self.model = prepare(get_embedder(model).network(weights), self.device)

    def __call__(self, row: dict) -> dict:
        from ..embed.inference import embed_batches

        keys = self.torch.from_numpy(np.ascontiguousarray(row["keys"]))
        crops = self.torch.from_numpy(np.ascontiguousarray(row["crops"])).permute(0, 3, 1, 2)
        (_, vectors), = embed_batches(self.model, [(keys, crops)], self.device)
        return {"batch": row["batch"], "keys": row["keys"], "vectors": vectors}


def run(model: str, snapshot: Path, out: Path, device: str, batch_size: int, weights: str | None,
        address: str | None) -> None:
    embedder = get_embedder(model)
    ray = connect(address)
    try:
        pool = actor_pool(ray, device)
        items = embedder.items(pd.read_parquet(snapshot))
        rows = batch_rows(items, plan_batches(items, batch_size))
        embedded = (ray.data.from_items(rows, override_num_blocks=max(1, len(rows)))
                    .map(CropBatch, fn_constructor_args=(model,), concurrency=(1, max(1, pool.actors * 2)), num_cpus=1)
                    .map(EmbedActor, fn_constructor_args=(model, weights, pool.device, pool.cpus_per_actor),
                         concurrency=pool.actors, num_gpus=pool.gpus_per_actor, num_cpus=pool.cpus_per_actor))
        write_in_parts(((np.asarray(r["keys"]), np.asarray(r["vectors"])) for r in embedded.iter_rows()), out)
    finally:
        ray.shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m curation.engines.ray_embed")
    parser.add_argument("model")
    parser.add_argument("snapshot", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=None, help="ignored: Ray sizes the decoding")
    parser.add_argument("--weights", default=None, help="the model's weights file (default: its usual place)")
    parser.add_argument("--address", default=None, help="the Ray cluster (default: a local Ray for this run)")
    args = parser.parse_args(argv)
    try:
        run(args.model, args.snapshot, args.out, args.device, args.batch_size, args.weights, args.address)
    except (WeightsMissing, UnknownEmbedder, DeviceUnavailable, RayUnavailable) as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
