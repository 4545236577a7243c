"""Which faces of an identity are that person: Ng & Winkler's cleaning (ICIP 2014) as a dominant set.

Ng & Winkler cleaned FaceScrub on three observations: faces of one person look alike, share a
gender, and appear at most once per image; they cast the removal as a quadratic program over the
faces' similarities. Here the program is the dominant-set one (Pavan & Pelillo): maximise x'Sx over
the simplex, where S is the faces' affinity with zeros on the pairs that cannot both be the person
(two faces of one image, two faces whose annotated attributes differ). Replicator dynamics solve it;
the support of a local maximum is a coherent group, and peeling groups off one after another gives
the candidates. Which candidate is the label's person is decided over the whole project at once
(joint.py), not by the average of the pool, so a person who is a third of the search results is
still found.

A face then belongs to the identity when it matches the group: its median distance to the group's
members is under the embedder's same-person distance (dlib's 0.6 for its ResNet). The match is
turned into a score in [0, 1] that is 0.5 exactly at that distance. At most one face per image is
kept: the best matching one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

MAX_GROUPS = 6
MIN_GROUP = 2
SUPPORT = 1e-5
TOLERANCE = 1e-9
MAX_STEPS = 3000


def pairwise_distances(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """Euclidean distances between the rows of `a` and those of `b` (or `a`), in float64."""
    a = np.asarray(a, np.float64)
    b = a if b is None else np.asarray(b, np.float64)
    squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.clip(squared, 0.0, None))


def match_score(distance, same_person: float):
    """exp(-ln2 (d / t)^2): 1 for identical vectors, 0.5 at the same-person distance t, toward 0 beyond."""
    return np.exp(-np.log(2.0) * (np.asarray(distance, np.float64) / same_person) ** 2)


def cannot_link(image_ids: np.ndarray, attributes: np.ndarray | None = None) -> np.ndarray:
    """Pairs that cannot both be the person: two faces of one image, or differing annotated values
    of an attribute (an attribute column holds None where nobody set it)."""
    image_ids = np.asarray(image_ids)
    blocked = image_ids[:, None] == image_ids[None, :]
    if attributes is not None:
        for column in np.asarray(attributes, dtype=object).reshape(len(image_ids), -1).T:
            known = np.array([value is not None for value in column])
            differ = column[:, None] != column[None, :]
            blocked |= differ & known[:, None] & known[None, :]
    return blocked


def affinity(distances: np.ndarray, same_person: float, blocked: np.ndarray) -> np.ndarray:
    """S_ij = match(d_ij), zero on the diagonal and on blocked pairs."""
    similarity = match_score(distances, same_person)
    similarity[blocked] = 0.0
    np.fill_diagonal(similarity, 0.0)
    return similarity


def replicator(similarity: np.ndarray, start: np.ndarray | None = None) -> np.ndarray:
    """A local maximiser of x'Sx on the simplex by discrete replicator dynamics, x <- x * Sx / x'Sx."""
    n = len(similarity)
    x = np.full(n, 1.0 / n) if start is None else start / start.sum()
    for _ in range(MAX_STEPS):
        payoff = similarity @ x
        value = float(x @ payoff)
        if value <= 0.0:
            break
        updated = x * payoff / value
        if np.abs(updated - x).sum() < TOLERANCE:
            return updated
        x = updated
    return x


def dominant_groups(similarity: np.ndarray) -> list[np.ndarray]:
    """Coherent groups peeled off one after another: the support of each dominant set found among
    the faces not yet taken, up to MAX_GROUPS groups of at least MIN_GROUP faces."""
    remaining = np.arange(len(similarity))
    groups = []
    while len(remaining) >= MIN_GROUP and len(groups) < MAX_GROUPS:
        x = replicator(similarity[np.ix_(remaining, remaining)])
        support = x > SUPPORT * x.max() if x.max() > 0 else np.zeros(len(x), bool)
        if support.sum() < MIN_GROUP:
            break
        groups.append(remaining[support])
        remaining = remaining[~support]
    return groups


@dataclass(frozen=True)
class IdentityVerdict:
    """Per face of one identity: kept or not, its match to the identity's core, and the core."""

    keep: np.ndarray
    match: np.ndarray
    core: np.ndarray

    @property
    def score(self) -> np.ndarray:
        """Confidence in the verdict, in [0.5, 1]: the match for a kept face, 1 - match otherwise."""
        return np.where(self.keep, self.match, 1.0 - self.match)


def group_match(distances: np.ndarray, group: np.ndarray, same_person: float) -> np.ndarray:
    """Each face's match to a group: from its median distance to the group's other members."""
    to_group = distances[:, group].copy()
    to_group[group, np.arange(len(group))] = np.nan
    return match_score(np.nanmedian(to_group, axis=1) if len(group) > 1 else to_group[:, 0], same_person)


def one_per_image(keep: np.ndarray, match: np.ndarray, image_ids: np.ndarray) -> np.ndarray:
    """Keep at most the best matching face of each image."""
    keep = keep.copy()
    for image in np.unique(image_ids[keep]):
        faces = np.flatnonzero(keep & (image_ids == image))
        keep[faces[faces != faces[np.argmax(match[faces])]]] = False
    return keep


def clean_identity(vectors: np.ndarray, image_ids: np.ndarray, same_person: float,
                   attributes: np.ndarray | None = None) -> IdentityVerdict:
    """Decide which faces of one identity are the person (see the module docstring)."""
    n = len(vectors)
    image_ids = np.asarray(image_ids)
    if n < MIN_GROUP:
        return IdentityVerdict(np.ones(n, bool), np.ones(n), np.arange(n))
    distances = pairwise_distances(vectors)
    blocked = cannot_link(image_ids, attributes)
    verdicts = [verdict_for(group, distances, blocked, image_ids, same_person)
                for group in dominant_groups(affinity(distances, same_person, blocked))]
    if not verdicts:
        return IdentityVerdict(np.zeros(n, bool), np.zeros(n), np.zeros(0, int))
    return max(verdicts, key=lambda v: (int(v.keep.sum()), float(v.match[v.keep].sum())))


def verdict_for(core: np.ndarray, distances: np.ndarray, blocked: np.ndarray, image_ids: np.ndarray,
                same_person: float) -> IdentityVerdict:
    """The faces that match `core`, less those whose annotated attributes contradict a core member's,
    at most one per image."""
    match = group_match(distances, core, same_person)
    keep = (match >= 0.5) & ~attribute_conflict(blocked, image_ids, core)
    return IdentityVerdict(one_per_image(keep, match, image_ids), match, core)


def attribute_conflict(blocked: np.ndarray, image_ids: np.ndarray, core: np.ndarray) -> np.ndarray:
    """Faces blocked from a core member for a reason other than sharing its image."""
    same_image = image_ids[:, None] == image_ids[core][None, :]
    return (blocked[:, core] & ~same_image).any(1)


CENTROID_SHORTLIST = 3
SHORTLIST_CHUNK = 4096


@dataclass(frozen=True)
class Cleaning:
    """Per face (row): action keep / remove / relabel, the target label of a relabel, the score of
    the action in [0.5, 1], the face's match to its own identity, whether its label is ambiguous;
    merge suggestions between identities whose members are one person (label, target_label, score);
    and the candidate readings of each ambiguous label (joint.Candidate)."""

    faces: pd.DataFrame
    merges: pd.DataFrame
    candidates: list = field(default_factory=list)


def best_other_identity(vectors: np.ndarray, image_ids: np.ndarray, labels: np.ndarray,
                        members: dict[str, np.ndarray], same_person: float) -> tuple[np.ndarray, np.ndarray]:
    """For each face, the other identity it matches best and that match (median distance to the
    identity's members, faces of its own image left out). Only the identities with the
    CENTROID_SHORTLIST nearest mean vectors are measured exactly, so the cost grows with faces x
    identities rather than faces squared; faces are taken in chunks, so memory does not."""
    names = [name for name, rows in members.items() if len(rows)]
    best_label = np.full(len(vectors), None, dtype=object)
    best_match = np.zeros(len(vectors))
    if not names:
        return best_label, best_match
    shortlist = centroid_shortlist(vectors, labels, [vectors[members[name]].mean(0) for name in names], names)
    for column in range(shortlist.shape[1]):
        order = np.argsort(shortlist[:, column], kind="stable")
        bounds = np.searchsorted(shortlist[order, column], np.arange(len(names) + 1))
        for k, name in enumerate(names):
            for start in range(bounds[k], bounds[k + 1], SHORTLIST_CHUNK):
                rows = order[start:min(start + SHORTLIST_CHUNK, bounds[k + 1])]
                distances = pairwise_distances(vectors[rows], vectors[members[name]])
                distances[image_ids[rows][:, None] == image_ids[members[name]][None, :]] = np.nan
                match = np.nan_to_num(match_score(row_medians(distances), same_person))
                better = match > best_match[rows]
                best_match[rows[better]], best_label[rows[better]] = match[better], name
    return best_label, best_match


def centroid_shortlist(vectors: np.ndarray, labels: np.ndarray, centroids: list[np.ndarray], names: list[str]) -> np.ndarray:
    """Faces x CENTROID_SHORTLIST: the identities (indices into `names`) other than the face's own
    whose mean vectors are nearest; -1 where there are fewer."""
    centroids, names = np.stack(centroids), np.array(names, dtype=object)
    width = min(CENTROID_SHORTLIST, len(names))
    shortlist = np.full((len(vectors), CENTROID_SHORTLIST), -1)
    for start in range(0, len(vectors), SHORTLIST_CHUNK):
        to_centroids = pairwise_distances(vectors[start:start + SHORTLIST_CHUNK], centroids)
        to_centroids[np.asarray(labels)[start:start + SHORTLIST_CHUNK][:, None] == names[None, :]] = np.inf
        nearest = np.argsort(to_centroids, axis=1)[:, :width]
        picked = np.arange(len(nearest))[:, None]
        shortlist[start:start + len(nearest), :width] = np.where(np.isfinite(to_centroids[picked, nearest]), nearest, -1)
    return shortlist


def row_medians(distances: np.ndarray) -> np.ndarray:
    """Median of each row, NaNs left out; NaN for a row with nothing else (without numpy's warning)."""
    known = ~np.isnan(distances)
    medians = np.full(len(distances), np.nan)
    full = known.any(1)
    medians[full] = np.nanmedian(distances[full], axis=1)
    return medians


def merges(vectors: np.ndarray, image_ids: np.ndarray, members: dict[str, np.ndarray], same_person: float) -> pd.DataFrame:
    """Pairs of identities whose members are one person: the median distance between their members
    is under the same-person distance. Only pairs whose mean vectors are that close are measured."""
    names = [name for name, rows in members.items() if len(rows)]
    found = []
    if len(names) > 1:
        centroids = np.stack([vectors[members[name]].mean(0) for name in names])
        near = np.triu(pairwise_distances(centroids) < same_person, 1)
        for a, b in zip(*np.nonzero(near)):
            first, second = members[names[a]], members[names[b]]
            distances = pairwise_distances(vectors[first], vectors[second])
            distances[image_ids[first][:, None] == image_ids[second][None, :]] = np.nan
            if not np.isnan(distances).all():
                score = float(match_score(np.nanmedian(distances), same_person))
                if score >= 0.5:
                    found.append((names[a], names[b], score))
    return pd.DataFrame(found, columns=["label", "target_label", "score"])


NEIGHBOURS = 10
MAJORITY = 0.7


def neighbour_vote(vectors: np.ndarray, labels, k: int = NEIGHBOURS) -> Cleaning:
    """For classes that are not one tight group (objects, scenes: whole-image vectors), the dominant
    set does not apply; an image whose k nearest neighbours carry another label at least MAJORITY
    of the time gets a relabel suggestion (score: that share), the others are kept."""
    labels = np.asarray(labels, dtype=object)
    n = len(labels)
    action, target, score = np.full(n, "keep", dtype=object), np.full(n, None, dtype=object), np.ones(n)
    k = min(k, n - 1)
    if k >= 1:
        distances = pairwise_distances(vectors)
        np.fill_diagonal(distances, np.inf)
        votes = labels[np.argsort(distances, axis=1)[:, :k]]
        for i in range(n):
            names, counts = np.unique(votes[i].astype(str), return_counts=True)
            best = int(np.argmax(counts))
            share = counts[best] / k
            if names[best] != labels[i] and share >= MAJORITY:
                action[i], target[i], score[i] = "relabel", names[best], share
            else:
                score[i] = float((votes[i] == labels[i]).mean())
    faces = pd.DataFrame({"action": action, "target_label": target, "score": score, "match": score, "ambiguous": False})
    return Cleaning(faces, pd.DataFrame(columns=["label", "target_label", "score"]))
