"""The same-person distance of one project, from its own label structure.

The embedder's published distance (dlib's 0.6) is the prior. The project's labels are resolved
into people with it (joint.py); their coherent groups give two samples: how far each face of a
person is from the rest of its group (its median distance: the figure the keep rule compares),
and how far it is from another label's person (the median distance to that group). When the
prior lies between the 98th percentile of the first and the 2nd percentile of the second, the data
agree with it and it stays. Otherwise (faces alike in lighting and pose bring other people within
the prior; poor photos push one person's faces beyond it) the distance moves to the middle of
that gap, or to the distance that separates the two best when they overlap.

Two distributions need a few thousand faces, not a million: at most PER_LABEL faces of each label
(a seeded sample) are resolved, and each sampled face is measured against the NEAREST_CORES other
people whose mean vectors are nearest, so the cost grows with the labels, not the faces squared.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .joint import MIN_PERSON, NO_PERSON, resolve
from .method import pairwise_distances

SAME_QUANTILE, OTHER_QUANTILE = 0.98, 0.02
MIN_PEOPLE = 3
SAMPLE = 2000
NEAREST_CORES = 32
PER_LABEL = 200


@dataclass(frozen=True)
class Calibration:
    value: float
    prior: float
    same: float | None
    other: float | None
    people: int
    basis: str = "labels"

    def source(self, prior_source: str) -> str:
        if self.same is None:
            return f"{prior_source}; too few people ({self.people}) to calibrate it"
        verdict = "kept" if self.value == self.prior else f"moved from {self.prior:.3f}"
        where = "people of the project" if self.basis == "labels" else self.basis
        return (f"calibrated on {self.people} {where} ({verdict}; one person's faces within "
                f"{self.same:.3f}, another's from {self.other:.3f}; prior: {prior_source})")


def person_cores(vectors, image_ids, labels, prior: float, attributes=None) -> tuple[list[np.ndarray], np.ndarray, str]:
    """The rows of each label's person (its coherent groups), for labels that are one person
    of at least MIN_PERSON faces, not ambiguous and not shared with another label. When fewer than
    MIN_PEOPLE labels are decided (most pools hold two or three people of one size), the people
    found in the pools (groups linked across the project) stand in, whatever label they are under:
    one person's distinct images each, at least MIN_PERSON of them. Also which two cores are
    known to be different people (see found_people)."""
    identities = resolve(vectors, image_ids, labels, prior, attributes)
    a = identities.assignment
    cores = [pool.rows[identities.core(k)] for k, pool in enumerate(identities.pools)
             if a.person[k] != NO_PERSON and not a.ambiguous[k] and not a.shared[k]
             and len(identities.core(k)) >= MIN_PERSON]
    if len(cores) >= MIN_PEOPLE:
        return cores, ~np.eye(len(cores), dtype=bool), "labels"
    return (*found_people(identities, image_ids), "people found in the pools")


def found_people(identities, image_ids: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Each linked person's rows, one per image, for those with at least MIN_PERSON images, and
    which two of them are known apart: they sit side by side in one pool as groups the prior kept
    apart. Two people linked nowhere may be one person whose photos did not link across pools
    (its nearest "other" would then be itself, and pull the distance down)."""
    people: dict[int, list[np.ndarray]] = {}
    for pool, persons in zip(identities.pools, identities.persons):
        for group, person in zip(pool.groups, persons):
            people.setdefault(int(person), []).append(pool.rows[group])
    kept = [p for p, parts in people.items() if len(np.unique(image_ids[np.concatenate(parts)])) >= MIN_PERSON]
    index = {p: i for i, p in enumerate(kept)}
    apart = np.zeros((len(kept), len(kept)), bool)
    for persons in identities.persons:
        present = [index[int(p)] for p in set(persons.tolist()) if int(p) in index]
        apart[np.ix_(present, present)] = True
    np.fill_diagonal(apart, False)
    cores = []
    for p in kept:
        rows = np.concatenate(people[p])
        cores.append(rows[np.unique(image_ids[rows], return_index=True)[1]])
    return cores, apart


def same_and_other(vectors, image_ids, cores: list[np.ndarray], apart: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each sampled core face's median distance to the rest of its core, and to the nearest core known
    to be another person (`apart`): the person it could be mistaken for (its distance to every other
    core would mostly measure people who are nowhere near, and hide the few who are). Only the
    NEAREST_CORES cores whose mean vectors are nearest the face are measured, so the cost grows with
    the sample, not with the project's faces."""
    rows = np.concatenate(cores)
    owner = np.concatenate([np.full(len(core), i) for i, core in enumerate(cores)])
    sample = np.random.default_rng(0).permutation(len(rows))[:SAMPLE]
    faces, mine = rows[sample], owner[sample]
    measured = nearest_cores(vectors, faces, mine, cores, apart)
    same, nearest = np.full(len(sample), np.inf), np.full(len(sample), np.inf)
    for i, core in enumerate(cores):
        own, other = mine == i, measured[:, i]
        which = np.flatnonzero(own | other)
        if not len(which):
            continue
        distances = pairwise_distances(vectors[faces[which]], vectors[core])
        distances[image_ids[faces[which]][:, None] == image_ids[core][None, :]] = np.nan
        medians = np.nanmedian(np.where(np.isnan(distances).all(1, keepdims=True), np.inf, distances), axis=1)
        same[which[own[which]]] = medians[own[which]]
        other_rows = which[other[which]]
        nearest[other_rows] = np.minimum(nearest[other_rows], medians[other[which]])
    return same[np.isfinite(same)], nearest[np.isfinite(nearest)]


def nearest_cores(vectors, faces: np.ndarray, mine: np.ndarray, cores: list[np.ndarray], apart: np.ndarray) -> np.ndarray:
    """Faces x cores: whether the core is among the NEAREST_CORES known to be another person than
    the face's own core, by distance to its mean vector."""
    to_centroids = pairwise_distances(vectors[faces], np.stack([vectors[core].mean(0) for core in cores]))
    to_centroids[~apart[mine]] = np.inf
    shortlist = np.argsort(to_centroids, axis=1, kind="stable")[:, :NEAREST_CORES]
    measured = np.zeros(to_centroids.shape, bool)
    picked = np.arange(len(faces))[:, None]
    measured[picked, shortlist] = np.isfinite(to_centroids[picked, shortlist])
    return measured


def bounded_labels(labels: np.ndarray) -> np.ndarray:
    """Which faces calibrate: every face of a label of at most PER_LABEL faces, a seeded random
    PER_LABEL of a larger one (the two distributions need a few thousand faces, not a million)."""
    chosen = np.ones(len(labels), bool)
    rng = np.random.default_rng(0)
    names, owner, counts = np.unique(labels.astype(str), return_inverse=True, return_counts=True)
    for k in np.flatnonzero(counts > PER_LABEL):
        rows = np.flatnonzero(owner == k)
        chosen[rng.choice(rows, len(rows) - PER_LABEL, replace=False)] = False
    return chosen


def best_separation(same: np.ndarray, other: np.ndarray) -> float:
    """The distance that misclassifies the smallest share of the two samples together."""
    candidates = np.sort(np.concatenate([same, other]))
    errors = [(same >= t).mean() + (other < t).mean() for t in candidates]
    return float(candidates[int(np.argmin(errors))])


def calibrate(vectors, image_ids, labels, prior: float, attributes=None) -> Calibration:
    labels = np.asarray(labels, dtype=object)
    chosen = bounded_labels(labels)
    vectors, image_ids = np.asarray(vectors)[chosen].astype(np.float64), np.asarray(image_ids)[chosen]
    labels = labels[chosen]
    attributes = None if attributes is None else np.asarray(attributes, dtype=object).reshape(len(chosen), -1)[chosen]
    cores, apart, basis = person_cores(vectors, image_ids, labels, prior, attributes)
    if len(cores) < MIN_PEOPLE:
        return Calibration(prior, prior, None, None, len(cores), basis)
    same, other = same_and_other(vectors, image_ids, cores, apart)
    high_same, low_other = float(np.quantile(same, SAME_QUANTILE)), float(np.quantile(other, OTHER_QUANTILE))
    if high_same <= prior <= low_other:
        value = prior
    elif high_same < low_other:
        value = (high_same + low_other) / 2
    else:
        value = best_separation(same, other)
    return Calibration(value, prior, high_same, low_other, len(cores), basis)
