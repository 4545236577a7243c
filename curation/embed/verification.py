"""Face verification figures: is a pair of faces one person? (LFW's protocol, over all pairs.)"""

from __future__ import annotations

import numpy as np
import pandas as pd


def central_faces(faces: pd.DataFrame) -> np.ndarray:
    """Per image, the row of the face whose box centre is nearest the image centre (in LFW, the
    labelled person's). `faces` has image_id, x1, y1, x2, y2, width, height."""
    off_centre = np.hypot((faces["x1"] + faces["x2"]) / 2 - faces["width"] / 2,
                          (faces["y1"] + faces["y2"]) / 2 - faces["height"] / 2)
    return off_centre.groupby(faces["image_id"]).idxmin().sort_values().values


def best_threshold_accuracy(vectors: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(accuracy, distance threshold) of "same person iff Euclidean distance <= threshold" over
    all pairs, at the threshold that maximises it."""
    i, j = np.triu_indices(len(vectors), 1)
    distance = np.linalg.norm(vectors[i] - vectors[j], axis=1)
    same = labels[i] == labels[j]
    order = np.argsort(distance)
    same_sorted = same[order]
    true_pos = np.cumsum(same_sorted)
    true_neg = (~same).sum() - np.cumsum(~same_sorted)
    accuracy = (true_pos + true_neg) / len(distance)
    best = int(accuracy.argmax())
    return float(accuracy[best]), float(distance[order][best])
