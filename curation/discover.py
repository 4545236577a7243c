"""Discovering identities among faces that carry no label: proposed people, and how to score them.

Baseline: dlib's Chinese whispers (`dlib.chinese_whispers_clustering`, what dlib's face clustering
example runs, at its 0.5).

Ours: groups grow on a k-nearest-neighbour graph (sparse: memory grows with the number of faces, not
its square), closest pair of neighbouring groups first, by the root-mean-square distance between their
faces (exact from each group's mean and spread, so the graph only says which groups are neighbours).
Two groups join when that distance is
- under SURE_SHARE of the embedder's same-person distance (0.5 for dlib's 0.6): one person whatever else;
- or under CAP_SHARE of it (0.65) and under RATIO times the groups' own spread (the root-mean-square
  distance between faces inside them, a lone face counting as a group of spread PRIOR_SHARE, 0.30),
  when the group they make stays tighter than LOOSEST_SHARE of it (0.54);
- or, for two lone faces each the other's nearest, under the cap and under CLEAR times the distance
  from either to its next nearest face (few photos of a person give no spread to measure).

The spread test is what lets one default hold across lighting and pose: orl39's uniform studio faces sit
close together, one person's and another's alike (other people from 0.55 on average), while lfw10's
press photos of one person reach 0.6 from the rest of that person. A fixed cut fits one of them; a join
measured against the groups' own spread fits both, in one project too (lfw10 and orl39 pooled).
Two faces of one photo are never one person.

Scores against a known truth: pairwise F (precision and recall over pairs of faces put together)
and BCubed F (per face, the share of its group that is its person and of its person that is in its
group, averaged over faces).
"""

from __future__ import annotations

import heapq

import numpy as np

#: dlib's face clustering example clusters at 0.5.
WHISPERS_THRESHOLD = 0.5
#: Shares of the embedder's same-person distance. RATIO, SURE_SHARE, PRIOR_SHARE and CLEAR were tuned on orl39
#: and its harder mixes (bench/discover.py), then confirmed on lfw10's; tuned on lfw10 alone, the looser
#: settings it prefers lose orl39's few-photo mixes to Chinese whispers.
SURE_SHARE = 5 / 6
CAP_SHARE = 13 / 12
PRIOR_SHARE = 0.5
#: How far apart two groups may be, as a multiple of their own spread.
RATIO = 1.36
#: The loosest a group may grow (root-mean-square distance between its faces), as a share of the same-person
#: distance: bystanders' small, blurred faces otherwise chain into one loose group.
LOOSEST_SHARE = 0.9
#: Two lone faces, each the other's nearest, join under the cap when they are nearer than CLEAR times the
#: distance from either to its next nearest face.
CLEAR = 0.85
#: Neighbours per face in the graph; the exact search runs up to EXACT_UP_TO faces, NN-descent beyond.
NEIGHBOURS = 10
EXACT_UP_TO = 50_000
#: NN-descent searches this many times k neighbours: its nearest k are then nearly all the true ones.
APPROXIMATE_SEARCH = 2
BLOCK = 2048


def chinese_whispers(vectors: np.ndarray, threshold: float = WHISPERS_THRESHOLD) -> np.ndarray:
    import dlib

    descriptors = [dlib.vector(v.astype(float).tolist()) for v in vectors]
    return np.asarray(dlib.chinese_whispers_clustering(descriptors, threshold))


def nearest_neighbours(vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(indices, distances) of each row's k nearest other rows, nearest first: exact by blocks of rows
    up to EXACT_UP_TO rows, approximate (pynndescent) beyond."""
    n, k = len(vectors), min(k, len(vectors) - 1)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if n > EXACT_UP_TO:
        from .maps import use_numba_cache

        use_numba_cache()
        from pynndescent import NNDescent

        graph = NNDescent(vectors, n_neighbors=APPROXIMATE_SEARCH * k + 1, random_state=0, low_memory=True)
        index, distance = graph.neighbor_graph
        return index[:, 1:k + 1], distance[:, 1:k + 1]
    import torch

    data = torch.from_numpy(np.require(vectors, requirements="W"))
    squares = (data * data).sum(1)
    index, distance = np.empty((n, k), np.int64), np.empty((n, k), np.float32)
    for start in range(0, n, BLOCK):
        rows = torch.arange(start, min(start + BLOCK, n))
        d2 = squares[rows, None] + squares[None, :] - 2 * data[rows] @ data.T
        d2[rows - start, rows] = float("inf")
        near, nearest = torch.topk(d2, k, dim=1, largest=False)
        index[start:start + len(rows)] = nearest.numpy()
        distance[start:start + len(rows)] = near.clamp_min(0).sqrt().numpy()
    return index, distance


class Groups:
    """Groups of faces as they grow: size, mean vector and spread (mean squared distance to the mean) of
    each group, which groups neighbour it, and the photos of its faces that hold more than one face."""

    def __init__(self, vectors: np.ndarray, image_ids: np.ndarray, same_person: float):
        n = len(vectors)
        self.mean = np.asarray(vectors, np.float64).copy()
        self.size, self.spread = np.ones(n), np.zeros(n)
        self.owner = np.arange(n)
        self.sure, self.cap = SURE_SHARE * same_person, CAP_SHARE * same_person
        self.prior = (PRIOR_SHARE * same_person) ** 2
        self.loosest = (LOOSEST_SHARE * same_person) ** 2
        ids, counts = np.unique(image_ids, return_counts=True)
        shared = set(ids[counts > 1].tolist())
        self.photos = {i: {image_ids[i]} for i in range(n) if image_ids[i] in shared}
        self.neighbours: list[set[int]] = [set() for _ in range(n)]
        self.nearest, self.second = np.full(n, -1), np.full(n, np.inf)
        if n > 1:
            index, distance = nearest_neighbours(vectors, NEIGHBOURS)
            self.nearest = index[:, 0].copy()
            if index.shape[1] > 1:
                self.second = distance[:, 1].astype(np.float64)
            for i, j in zip(*np.nonzero(distance < self.cap)):
                a, b = int(i), int(index[i, j])
                if image_ids[a] != image_ids[b]:
                    self.neighbours[a].add(b)
                    self.neighbours[b].add(a)

    def apart(self, a: int, b: int) -> float:
        """Mean squared distance between a face of group a and a face of group b."""
        return float(((self.mean[a] - self.mean[b]) ** 2).sum() + self.spread[a] + self.spread[b])

    def one_person(self, a: int, b: int, apart: float) -> bool:
        if apart >= self.cap ** 2 or self.photos.get(a, set()) & self.photos.get(b, set()):
            return False
        if apart < self.sure ** 2 or self.mutual_and_clear(a, b, apart):
            return True
        # the sum over a group's pairs of faces of their squared distance is size^2 * spread
        na, nb = self.size[a], self.size[b]
        inside = na * na * self.spread[a] + nb * nb * self.spread[b]
        pairs = (na * (na - 1) + nb * (nb - 1)) / 2
        joined = (inside + na * nb * apart) / (pairs + na * nb)
        return apart < RATIO ** 2 * (inside + self.prior) / (pairs + 1) and joined < self.loosest

    def mutual_and_clear(self, a: int, b: int, apart: float) -> bool:
        """Two lone faces, each the other's nearest, clearly nearer each other than either to anyone else."""
        return (self.size[a] == self.size[b] == 1 and self.nearest[a] == b and self.nearest[b] == a
                and apart < (CLEAR * min(self.second[a], self.second[b])) ** 2)

    def join(self, a: int, b: int) -> int:
        """Join b into a (the larger): the group that remains."""
        if self.size[a] < self.size[b]:
            a, b = b, a
        na, nb = self.size[a], self.size[b]
        mean = (na * self.mean[a] + nb * self.mean[b]) / (na + nb)
        self.spread[a] = (na * (self.spread[a] + ((self.mean[a] - mean) ** 2).sum())
                          + nb * (self.spread[b] + ((self.mean[b] - mean) ** 2).sum())) / (na + nb)
        self.mean[a], self.size[a], self.owner[b] = mean, na + nb, a
        if b in self.photos:
            self.photos.setdefault(a, set()).update(self.photos.pop(b))
        for c in self.neighbours[b]:
            self.neighbours[c].discard(b)
            if c != a:
                self.neighbours[c].add(a)
                self.neighbours[a].add(c)
        self.neighbours[a].discard(b)
        self.neighbours[b] = set()
        return a

    def grow(self) -> np.ndarray:
        """Join neighbouring groups, closest first, while they are one person; a group number per face."""
        heap = [(self.apart(a, b), a, b) for a, near in enumerate(self.neighbours) for b in near if a < b]
        heapq.heapify(heap)
        while heap:
            apart, a, b = heapq.heappop(heap)
            if self.owner[a] != a or self.owner[b] != b:
                continue
            now = self.apart(a, b)
            if now > apart + 1e-12:
                heapq.heappush(heap, (now, a, b))
            elif self.one_person(a, b, now):
                a = self.join(a, b)
                for c in self.neighbours[a]:
                    heapq.heappush(heap, (self.apart(a, c), min(a, c), max(a, c)))
        return np.unique(self.roots(), return_inverse=True)[1]

    def roots(self) -> np.ndarray:
        owner = self.owner.copy()
        while True:
            up = owner[owner]
            if (up == owner).all():
                return owner
            owner = up


def grow_people(vectors: np.ndarray, image_ids: np.ndarray, same_person: float) -> np.ndarray:
    """A group number per face (see the module's docstring)."""
    return Groups(vectors, np.asarray(image_ids), same_person).grow()


def cells(truth: np.ndarray, predicted: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Faces per (person, group) cell that holds any, with each cell's person size and group size."""
    _, person = np.unique(truth, return_inverse=True)
    _, group = np.unique(predicted, return_inverse=True)
    pairs, count = np.unique(np.stack([person, group]), axis=1, return_counts=True)
    return count, np.bincount(person)[pairs[0]], np.bincount(group)[pairs[1]]


def pairwise_f(truth: np.ndarray, predicted: np.ndarray) -> tuple[float, float, float]:
    """(precision, recall, F) over the pairs of faces put in one group."""
    count, _, _ = cells(truth, predicted)
    both = (count * (count - 1) / 2).sum()
    same = sum(n * (n - 1) / 2 for n in np.unique(truth, return_counts=True)[1])
    together = sum(n * (n - 1) / 2 for n in np.unique(predicted, return_counts=True)[1])
    precision, recall = both / max(together, 1), both / max(same, 1)
    return float(precision), float(recall), harmonic(precision, recall)


def bcubed_f(truth: np.ndarray, predicted: np.ndarray) -> tuple[float, float, float]:
    """(precision, recall, F) of BCubed (Bagga & Baldwin): per face, then averaged."""
    count, person, group = cells(truth, predicted)
    precision, recall = (count * count / group).sum() / len(truth), (count * count / person).sum() / len(truth)
    return float(precision), float(recall), harmonic(precision, recall)


def harmonic(precision: float, recall: float) -> float:
    return float(2 * precision * recall / (precision + recall)) if precision + recall else 0.0


def discovery_cut(same_person: float) -> float:
    """The farthest two groups may be (root-mean-square distance between their faces) and still join."""
    return same_person * CAP_SHARE


def proposed_people(vectors: np.ndarray, image_ids: np.ndarray, same_person: float) -> tuple[np.ndarray, np.ndarray]:
    """(group per face, -1 for a face alone; each face's distance to its group's mean vector)."""
    groups = grow_people(vectors, image_ids, same_person)
    sizes = np.bincount(groups)
    groups = np.where(sizes[groups] > 1, groups, -1)
    distance = np.zeros(len(vectors))
    rows = groups >= 0
    if rows.any():
        members = groups[rows]
        means = np.zeros((members.max() + 1, vectors.shape[1]))
        np.add.at(means, members, vectors[rows])
        means /= np.maximum(np.bincount(members), 1)[:, None]
        distance[rows] = np.linalg.norm(vectors[rows] - means[members], axis=1)
    return groups, distance
