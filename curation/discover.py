"""Discovering identities among faces that carry no label: proposed people, and how to score them.

Baseline: dlib's Chinese whispers (`dlib.chinese_whispers_clustering`, what dlib's face clustering
example runs, at its 0.5). Ours: average-linkage agglomerative clustering cut a twelfth under the
embedder's same-person distance (0.55 for dlib's 0.6: tuned on orl39, where 0.5 and 0.55 both
separate all 39 people and 0.6 joins look-alikes; confirmed on lfw10, bench/discover.py), with two
faces of one photo kept apart (a photo shows a person once). Average
linkage joins two groups when their faces are, on average, the same person; Chinese whispers
follows close pairs, so where two people's faces come close in places (orl39's uniform faces at
0.6) it makes them one.

Scores against a known truth: pairwise F (precision and recall over pairs of faces put together)
and BCubed F (per face, the share of its group that is its person and of its person that is in its
group, averaged over faces).
"""

from __future__ import annotations

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import pdist

#: dlib's face clustering example clusters at 0.5.
WHISPERS_THRESHOLD = 0.5
#: The cut as a share of the embedder's same-person distance.
CUT_SHARE = 11 / 12
#: Stands in for "cannot be one person" (two faces of one photo): above any real distance.
APART = 1e3


def chinese_whispers(vectors: np.ndarray, threshold: float = WHISPERS_THRESHOLD) -> np.ndarray:
    import dlib

    descriptors = [dlib.vector(v.astype(float).tolist()) for v in vectors]
    return np.asarray(dlib.chinese_whispers_clustering(descriptors, threshold))


def agglomerate(vectors: np.ndarray, image_ids: np.ndarray, same_person: float, method: str = "average") -> np.ndarray:
    """A group number per face: `method` linkage (SciPy's) cut at `same_person`, faces of one photo apart."""
    if len(vectors) < 2:
        return np.zeros(len(vectors), dtype=int)
    distances = pdist(vectors.astype(np.float64))
    i, j = np.triu_indices(len(vectors), 1)
    distances[image_ids[i] == image_ids[j]] = APART
    return fcluster(linkage(distances, method=method), t=same_person, criterion="distance") - 1


def pairwise_f(truth: np.ndarray, predicted: np.ndarray) -> tuple[float, float, float]:
    """(precision, recall, F) over the pairs of faces put in one group."""
    i, j = np.triu_indices(len(truth), 1)
    same, together = truth[i] == truth[j], predicted[i] == predicted[j]
    precision = (same & together).sum() / max(together.sum(), 1)
    recall = (same & together).sum() / max(same.sum(), 1)
    return float(precision), float(recall), harmonic(precision, recall)


def bcubed_f(truth: np.ndarray, predicted: np.ndarray) -> tuple[float, float, float]:
    """(precision, recall, F) of BCubed (Bagga & Baldwin): per face, then averaged."""
    same, together = truth[:, None] == truth[None, :], predicted[:, None] == predicted[None, :]
    both = (same & together).sum(1)
    precision, recall = (both / together.sum(1)).mean(), (both / same.sum(1)).mean()
    return float(precision), float(recall), harmonic(precision, recall)


def harmonic(precision: float, recall: float) -> float:
    return float(2 * precision * recall / (precision + recall)) if precision + recall else 0.0


def discovery_cut(same_person: float) -> float:
    return same_person * CUT_SHARE


def proposed_people(vectors: np.ndarray, image_ids: np.ndarray, same_person: float) -> tuple[np.ndarray, np.ndarray]:
    """(group per face, -1 for a face alone; each face's distance to its group's mean vector)."""
    groups = agglomerate(vectors, image_ids, discovery_cut(same_person))
    sizes = np.bincount(groups)
    groups = np.where(sizes[groups] > 1, groups, -1)
    distance = np.zeros(len(vectors))
    for group in set(groups.tolist()) - {-1}:
        rows = groups == group
        distance[rows] = np.linalg.norm(vectors[rows] - vectors[rows].mean(0), axis=1)
    return groups, distance
