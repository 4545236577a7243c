"""Embedding outliers per label: the images that look least like the rest of their label.

An image's raw figure is the mean distance from its vector (for a face model, from the best of its
faces) to its K nearest vectors of the label's other images; the score divides that by the label's
median raw figure, so it means the same for any embedder ("3 times further from its label than a
typical member is"). Labels with fewer than MIN_IMAGES images get no score: too few to say what is
typical. Mean over K neighbours, not the nearest one, so that two photos of one stranger filed
together do not vouch for each other.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd

from .checks import Check, register

K = 5
MIN_IMAGES = 5
CHUNK = 1024


def knn_distance(vectors: np.ndarray, image_ids: np.ndarray, k: int = K) -> np.ndarray:
    """Per row, the mean Euclidean distance to its k nearest rows of other images (inf when none)."""
    out = np.full(len(vectors), np.inf)
    squared = (vectors.astype(np.float64) ** 2).sum(1)
    for start in range(0, len(vectors), CHUNK):
        rows = slice(start, start + CHUNK)
        d2 = squared[rows, None] + squared[None, :] - 2 * vectors[rows].astype(np.float64) @ vectors.T
        distance = np.sqrt(np.maximum(d2, 0))
        distance[image_ids[rows, None] == image_ids[None, :]] = np.inf
        nearest = np.sort(distance, axis=1)[:, :k]
        finite = np.isfinite(nearest)
        with np.errstate(invalid="ignore"):
            out[rows] = np.where(finite.any(1), np.where(finite, nearest, 0).sum(1) / finite.sum(1).clip(1), np.inf)
    return out


def label_outlier_scores(units: pd.DataFrame, vectors: np.ndarray, k: int = K) -> pd.Series:
    """One score per image (index: image_id) from `units` (image_id, label; a row per vector)."""
    scores = []
    for _, rows in units.groupby("label", sort=False).indices.items():
        image_ids = units["image_id"].to_numpy()[rows]
        if len(set(image_ids)) < MIN_IMAGES:
            continue
        raw = pd.Series(knn_distance(vectors[rows], image_ids, k), index=image_ids).groupby(level=0).min()
        typical = raw[np.isfinite(raw)].median()
        if typical > 0:
            scores.append(raw / typical)
    return pd.concat(scores) if scores else pd.Series(dtype=float)


@register
class EmbeddingOutlier(Check):
    name, title, flag_kind = "outlier", "Outlier in its label", "outlier"
    unit, threshold, direction = "distance to its label's nearest members, in typical distances", 1.4, "above"
    needs: ClassVar[str] = "vectors"

    def scores(self, units: pd.DataFrame, vectors: np.ndarray) -> pd.Series:
        return label_outlier_scores(units, vectors)
