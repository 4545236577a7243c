"""The same-person distance of one project, from its own label structure.

The embedder's published distance (dlib's 0.6) is the prior. The project's labels are resolved
into people with it (joint.py); the faces of each label's person (of each reading, for an ambiguous
label) are told apart into people by discovery's join rule (person_cores). They give two samples:
how far each face of a person is from the rest of its group (its median distance: the figure the
keep rule compares), and how far it is from the nearest other person (the median distance to that
group). When the
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

from ..discover import grow_people
from .joint import MIN_PERSON, NO_PERSON, resolve
from .method import pairwise_distances

SAME_QUANTILE, OTHER_QUANTILE = 0.98, 0.02
MIN_PEOPLE = 3
SAMPLE = 2000
NEAREST_CORES = 32
PER_LABEL = 200
#: Discovery reads at most this many faces (a seeded sample): ten of each of 500 people (7 s at load 9; 20,000 took 62 s).
DISCOVERY_FACES = 5_000


@dataclass(frozen=True)
class Calibration:
    value: float
    prior: float
    same: float | None
    other: float | None
    people: int

    def source(self, prior_source: str) -> str:
        if self.same is None:
            return f"{prior_source}; too few people ({self.people}) to calibrate it"
        verdict = "kept" if self.value == self.prior else f"moved from {self.prior:.3f}"
        return (f"calibrated on {self.people} people of the project ({verdict}; one person's faces within "
                f"{self.same:.3f}, another's from {self.other:.3f}; prior: {prior_source})")


def person_cores(vectors, image_ids, labels, prior: float, attributes=None) -> tuple[list[np.ndarray], np.ndarray]:
    """The people the labels hold, split where discovery tells them apart; and which two of them
    are known to be different people.

    The labels are resolved with the prior (joint.py); the people calibrated on are each decided
    label's person and every reading of an ambiguous one (not the bystanders no label is about).
    Peeling at the prior holds two look-alike people in one group when faces are this uniform
    (orl39's s17 and s19 are 0.53 apart), which hides the distance that tells them apart; so the
    faces of all those people are grouped by discovery's join rule (discover.py, which measures a
    join against the groups' own spread), and a person's faces in two discovered groups are two
    people. A part of at least MIN_PERSON distinct images is a core. Two cores are apart when
    discovery put them in different groups, or when they are different people of the labels that
    are known different: two decided labels' people, or two people side by side in one pool. Two
    readings linked nowhere but put together by discovery may be one person whose photos did not
    link across pools (as the other's nearest, it would pull the distance down)."""
    identities = resolve(vectors, image_ids, labels, prior, attributes)
    people, decided = label_people(identities)
    owner = {row: person for person, rows in people.items() for row in rows}
    rows = distinct_faces(vectors, image_ids, np.array(sorted(owner), dtype=int))
    if len(rows) > DISCOVERY_FACES:
        rows = np.sort(np.random.default_rng(0).choice(rows, DISCOVERY_FACES, replace=False))
    if len(rows) < 2:
        return [], np.zeros((0, 0), bool)
    found = grow_people(vectors[rows], image_ids[rows], prior)
    person = np.array([owner[row] for row in rows])
    cores, keys = [], []
    for key in sorted(set(zip(person.tolist(), found.tolist()))):
        core = rows[(person == key[0]) & (found == key[1])]
        if len(np.unique(image_ids[core])) >= MIN_PERSON:
            cores.append(core)
            keys.append(key)
    return cores, known_apart(identities, keys, decided)


def label_people(identities) -> tuple[dict[int, np.ndarray], set[int]]:
    """The rows of each person a label is about (its person; each reading of an ambiguous label),
    across every pool; and the people of decided labels."""
    a = identities.assignment
    chosen, decided = set(), set()
    for k in range(len(identities.pools)):
        if a.ambiguous[k]:
            chosen.update(int(p) for p in identities.close_people(k))
        elif a.person[k] != NO_PERSON:
            chosen.add(int(a.person[k]))
            if not a.shared[k]:
                decided.add(int(a.person[k]))
    people: dict[int, list[np.ndarray]] = {}
    for pool, persons in zip(identities.pools, identities.persons):
        for group, p in zip(pool.groups, persons):
            if int(p) in chosen:
                people.setdefault(int(p), []).append(pool.rows[group])
    return {p: np.unique(np.concatenate(parts)) for p, parts in people.items()}, decided


def known_apart(identities, keys: list[tuple[int, int]], decided: set[int]) -> np.ndarray:
    """Cores x cores (each a (person, discovered group)): whether the two are different people."""
    side_by_side = {(int(a), int(b)) for persons in identities.persons for a in persons for b in persons}
    apart = np.zeros((len(keys), len(keys)), bool)
    for i, (person, group) in enumerate(keys):
        for j, (other, other_group) in enumerate(keys):
            apart[i, j] = group != other_group or (person != other and (
                {person, other} <= decided or (person, other) in side_by_side))
    np.fill_diagonal(apart, False)
    return apart


def distinct_faces(vectors, image_ids, rows: np.ndarray) -> np.ndarray:
    """`rows` less the repeats of one face (one image and vector under two labels): discovery never
    joins two faces of one image, so a repeat would stand as a person of its own."""
    seen, kept = set(), []
    for row in rows:
        key = (image_ids[row], vectors[row].tobytes())
        if key not in seen:
            seen.add(key)
            kept.append(row)
    return np.array(kept, dtype=int)


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
    cores, apart = person_cores(vectors, image_ids, labels, prior, attributes)
    if len(cores) < MIN_PEOPLE or not apart.any():
        return Calibration(prior, prior, None, None, len(cores))
    same, other = same_and_other(vectors, image_ids, cores, apart)
    high_same, low_other = float(np.quantile(same, SAME_QUANTILE)), float(np.quantile(other, OTHER_QUANTILE))
    if high_same <= prior <= low_other:
        value = prior
    elif high_same < low_other:
        value = (high_same + low_other) / 2
    else:
        value = best_separation(same, other)
    return Calibration(value, prior, high_same, low_other, len(cores))
