"""Dataset versions: the (image, label) snapshot a run trains on, hashed, split, written to Parquet.

The version id is a hash of the sorted (sha256, label) pairs, so the same data always gets the same
id and two runs on one version can be compared. The split is stratified per label with a seed
recorded in the run, so a run can be reproduced.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

SPLITS = ("train", "val")


@dataclass(frozen=True)
class Snapshot:
    version: str
    table: pd.DataFrame
    left_out: dict[str, int]

    @property
    def labels(self) -> list[str]:
        return sorted(self.table["label"].unique())


def version_id(table: pd.DataFrame) -> str:
    pairs = sorted(zip(table["sha256"], table["label"]))
    digest = hashlib.sha256("\n".join(f"{sha}\t{label}" for sha, label in pairs).encode()).hexdigest()
    return digest[:16]


def stratified_split(labels: list[str], val_fraction: float, seed: int) -> list[str]:
    """'train' or 'val' per item: each label with two or more items gives round(n * fraction), at least one, to val."""
    rng = np.random.default_rng(seed)
    split = np.array(["train"] * len(labels), dtype=object)
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_label.setdefault(label, []).append(i)
    for label in sorted(by_label):
        idx = np.array(by_label[label])
        if len(idx) < 2:
            continue
        n_val = min(len(idx) - 1, max(1, round(len(idx) * val_fraction)))
        split[rng.permutation(idx)[:n_val]] = "val"
    return list(split)


def make_snapshot(rows: pd.DataFrame, left_out: dict[str, int], val_fraction: float, seed: int) -> Snapshot:
    """`rows` (image_id, sha256, path, label[, vector]) in id order; adds the split column.

    The version hashes images and labels; for a linear run the embedder is recorded in the run.
    """
    table = rows.sort_values("image_id").reset_index(drop=True)
    table["split"] = stratified_split(list(table["label"]), val_fraction, seed)
    return Snapshot(version_id(table), table, left_out)
