"""Which coherent group is which label's person, decided over the whole project at once.

Cleaning one label at a time takes the largest coherent group of its pool for the person. That
fails when another label's person outnumbers the labelled one in the pool (six photos of Bob
against five of Ada under "Ada"), although that group is plainly Bob: it is the person kept under
"Bob". So the groups of every pool are first linked into people (two groups are one person when
their members' median distance is under the same-person distance), each label is weighed against
each person by how many of its pool's faces that person's groups hold, and the labels are given
distinct people by an assignment that maximises the total (Hungarian, scipy's
linear_sum_assignment).

A label is ambiguous when the assignment could as well have given it another person: forbidding
its person costs the total less than a third of what the labels that change to another person
held (a label left with nobody is no reading of it). So the second group of the pool is at least
two thirds the size of the first and nobody else claims it, or labels swap or chain into a cycle
where each pool holds the next label's person about as often as its own: six photos of Bob under
"Ada" and six of Ada under "Bob", against five of each own person, say nothing of which name is
whose. Then no face of the pool is suggested for removal;
the candidates are recorded, and a person chooses.

A label whose own person holds fewer than MIN_PERSON faces while another label's person fills its
pool shares that person: the same person under two names, which the merge step then suggests.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from .method import (
    Cleaning, affinity, attribute_conflict, best_other_identity, cannot_link, dominant_groups, group_match,
    match_score, merges, one_per_image, pairwise_distances, row_medians,
)

AMBIGUITY = 2 / 3
MAX_READINGS = 3
LINK_QUANTILE = 0.9
MIN_PERSON = 3
NO_PERSON = -1
LINK_CHUNK = 512
#: Distances within one group that the link distance's quantile reads, at most.
LINK_PAIRS = 20_000


@dataclass(frozen=True)
class Pool:
    """One label's faces: their rows in the project and coherent groups (indices into `rows`). Its
    distances and blocked pairs are computed again each time they are asked for, not held: a pool
    of 2,400 faces has 46 MB of distances, 23 GB over Theia's 500 labels."""

    label: str
    rows: np.ndarray
    groups: list[np.ndarray]
    vectors: np.ndarray = field(repr=False)
    image_ids: np.ndarray = field(repr=False)
    attributes: np.ndarray | None = field(default=None, repr=False)

    @property
    def distances(self) -> np.ndarray:
        return pairwise_distances(self.vectors[self.rows])

    @property
    def blocked(self) -> np.ndarray:
        return cannot_link(self.image_ids[self.rows], None if self.attributes is None else self.attributes[self.rows])


Peel = Callable[[list[Pool], float], list[list[np.ndarray]]]


def pools_of(vectors: np.ndarray, image_ids: np.ndarray, labels: np.ndarray, same_person: float,
             attributes: np.ndarray | None, peel: Peel | None = None) -> list[Pool]:
    """Every label's pool with its coherent groups, peeled by `peel` (default: here, one pool after
    another; the clean job's peel.peeler deals them to worker processes)."""
    names, owner = np.unique(labels, return_inverse=True)
    order = np.argsort(owner, kind="stable")
    bounds = np.searchsorted(owner[order], np.arange(len(names) + 1))
    pools = [Pool(str(label), order[bounds[k]:bounds[k + 1]], [], vectors, image_ids, attributes)
             for k, label in enumerate(names)]
    groups = peel(pools, same_person) if peel else [coherent_groups(pool.distances, pool.blocked, same_person)
                                                     for pool in pools]
    return [replace(pool, groups=found) for pool, found in zip(pools, groups)]


def coherent_groups(distances: np.ndarray, blocked: np.ndarray, same_person: float) -> list[np.ndarray]:
    """The dominant sets of a pool that are one person: the affinity is cut to zero beyond the
    same-person distance (so a group does not bridge two people), and a group whose members' median
    distance is not under it (what is left once the people are peeled off) is no group."""
    if len(distances) < 2:
        return []
    similarity = affinity(distances, same_person, blocked)
    similarity[distances >= same_person] = 0.0
    return [group for group in dominant_groups(similarity)
            if np.median(distances[np.ix_(group, group)][~np.eye(len(group), dtype=bool)]) < same_person]


def merged_modes(groups: list[np.ndarray], distances: np.ndarray, same_person: float) -> list[np.ndarray]:
    """Peeling splits one person into modes (with and without glasses, two ages): groups of one pool
    whose members' median distance is under the same-person distance are joined, closest first
    (within one pool, few pairs are compared: the strict link distance is for pairs across pools)."""
    groups = list(groups)
    while len(groups) > 1:
        pairs = [(np.nanmedian(distances[np.ix_(a, b)]), i, j) for i, a in enumerate(groups)
                 for j, b in enumerate(groups) if i < j and not np.isnan(distances[np.ix_(a, b)]).all()]
        best = min(pairs, default=(np.inf, 0, 0))
        if best[0] >= same_person:
            break
        _, i, j = best
        groups[i] = np.concatenate([groups[i], groups[j]])
        del groups[j]
    return groups


def link_distance(pools: list[Pool], same_person: float) -> float:
    """How close two groups must be to be one person: the LINK_QUANTILE of the distances within the
    project's coherent groups (one person's faces, by construction), at most the same-person
    distance. Stricter than the keep rule because many pairs of groups are compared: with a few
    hundred people, some two of them come within the same-person distance by chance, and a false
    link costs a label its own faces where a missed one only leaves a group unnamed."""
    rng = np.random.default_rng(0)
    inside = [pairs for pool in pools if pool.groups for pairs in within_groups(pool, rng)]
    inside = np.concatenate(inside) if inside else np.zeros(0)
    return min(same_person, float(np.quantile(inside, LINK_QUANTILE))) if len(inside) else same_person


def within_groups(pool: Pool, rng: np.random.Generator) -> list[np.ndarray]:
    """The distances between two members of each of the pool's groups (at most LINK_PAIRS each)."""
    distances = pool.distances
    return [at_most(distances[np.ix_(group, group)][np.triu_indices(len(group), 1)], LINK_PAIRS, rng)
            for group in pool.groups]


def at_most(values: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """`values`, or `count` of them drawn at random when there are more (a quantile needs no more)."""
    return values if len(values) <= count else values[rng.integers(0, len(values), count)]


def link_groups(vectors: np.ndarray, image_ids: np.ndarray, pools: list[Pool], same_person: float) -> list[np.ndarray]:
    """The person of each group of each pool. Two groups are one person when their members' median
    distance (faces of one image left out) is under `same_person`; links are taken closest first,
    and one that would make one person of two groups of a pool that do not match each other is
    refused (peeling told them apart). Only groups whose mean vectors are that close are measured."""
    members = [pool.rows[group] for pool in pools for group in pool.groups]
    home = np.concatenate([np.full(len(pool.groups), k) for k, pool in enumerate(pools)]) if members else []
    component = {i: [i] for i in range(len(members))}
    owner = list(range(len(members)))
    for _, a, b in candidate_links(vectors, image_ids, members, same_person):
        first, second = component[owner[a]], component[owner[b]]
        if first is second or not compatible(vectors, image_ids, members, home, first, second, same_person):
            continue
        first.extend(second)
        for i in second:
            owner[i] = owner[a]
    people = np.unique(owner, return_inverse=True)[1] if members else np.zeros(0, int)
    out, start = [], 0
    for pool in pools:
        out.append(people[start:start + len(pool.groups)])
        start += len(pool.groups)
    return out


def candidate_links(vectors, image_ids, members: list[np.ndarray], same_person: float) -> list[tuple[float, int, int]]:
    """(median distance, group, group) for the pairs of groups that are one person, closest first."""
    if not members:
        return []
    centroids = np.stack([vectors[rows].mean(0) for rows in members])
    links = []
    for start in range(0, len(members), LINK_CHUNK):
        near = pairwise_distances(centroids[start:start + LINK_CHUNK], centroids) < same_person
        for a, b in zip(*np.nonzero(near)):
            a = int(a) + start
            if a < b:
                distance = median_between(vectors, image_ids, members[a], members[b])
                if distance < same_person:
                    links.append((distance, a, int(b)))
    return sorted(links)


def compatible(vectors, image_ids, members, home, first: list[int], second: list[int], same_person: float) -> bool:
    """Whether every two groups of one pool across the two components match each other."""
    return all(median_between(vectors, image_ids, members[a], members[b]) < same_person
               for a in first for b in second if home[a] == home[b])


def median_between(vectors, image_ids, first: np.ndarray, second: np.ndarray) -> float:
    """The median distance between two groups' members, pairs of one image left out (inf if none)."""
    distances = pairwise_distances(vectors[first], vectors[second])
    distances[image_ids[first][:, None] == image_ids[second][None, :]] = np.nan
    return float(np.nanmedian(distances)) if not np.isnan(distances).all() else np.inf


def person_weights(pools: list[Pool], persons: list[np.ndarray]) -> np.ndarray:
    """Labels x people: how many faces of the label's pool that person's groups hold."""
    count = 1 + max((int(p.max()) for p in persons if len(p)), default=-1)
    weights = np.zeros((len(pools), count))
    for k, (pool, people) in enumerate(zip(pools, persons)):
        for group, person in zip(pool.groups, people):
            weights[k, person] += len(group)
    return weights


@dataclass(frozen=True)
class Assignment:
    """Per label: its person (NO_PERSON: none), the other candidate when ambiguous, whether it is
    ambiguous, and whether its person is another label's too (shared)."""

    person: np.ndarray
    alternative: np.ndarray
    ambiguous: np.ndarray
    shared: np.ndarray


def solve(weights: np.ndarray) -> tuple[np.ndarray, float]:
    """The person of each label under the assignment of largest total weight, and that total."""
    person = np.full(len(weights), NO_PERSON)
    if weights.size == 0:
        return person, 0.0
    rows, cols = linear_sum_assignment(weights, maximize=True)
    held = weights[rows, cols] > 0
    person[rows[held]] = cols[held]
    return person, float(weights[rows, cols].sum())


def assign(weights: np.ndarray) -> Assignment:
    """Distinct people for the labels (see the module docstring), with ambiguity and sharing."""
    person, total = solve(weights)
    n = len(weights)
    alternative, ambiguous, shared = np.full(n, NO_PERSON), np.zeros(n, bool), np.zeros(n, bool)
    for k in range(n):
        own = weights[k, person[k]] if person[k] != NO_PERSON else 0.0
        others = np.delete(weights[k], person[k]) if person[k] != NO_PERSON else weights[k]
        if own > 0 and others.size and others.max() >= AMBIGUITY * own:
            forbidden = weights.copy()
            forbidden[k, person[k]] = -weights.sum() - 1.0
            moved, _ = solve(forbidden)
            held = sum(weights[i, moved[i]] for i in range(n) if moved[i] != NO_PERSON)
            shifted = own + sum(weights[i, person[i]] for i in range(n) if i != k and person[i] != NO_PERSON
                                and moved[i] not in (person[i], NO_PERSON))
            runner_up = moved[k] if moved[k] != NO_PERSON else int(np.argmax(np.where(
                np.arange(weights.shape[1]) == person[k], -1.0, weights[k])))
            if total - held < (1 - AMBIGUITY) * shifted and weights[k, runner_up] > 0:
                ambiguous[k], alternative[k] = True, runner_up
    for k in range(n):
        own = weights[k, person[k]] if person[k] != NO_PERSON else 0.0
        largest = int(np.argmax(weights[k])) if weights.shape[1] else NO_PERSON
        if own < MIN_PERSON and largest != NO_PERSON and weights[k, largest] >= MIN_PERSON and largest != person[k]:
            person[k], shared[k] = largest, True
    return Assignment(person, alternative, ambiguous, shared)


@dataclass(frozen=True)
class Identities:
    """The project's labels resolved into people: the pools, each group's person, the assignment."""

    pools: list[Pool]
    persons: list[np.ndarray]
    assignment: Assignment

    def core(self, k: int, person: int | None = None) -> np.ndarray:
        """Indices (into pool k's rows) of the groups of `person` (default: the label's own)."""
        person = self.assignment.person[k] if person is None else person
        pool = self.pools[k]
        chosen = [group for group, p in zip(pool.groups, self.persons[k]) if p == person]
        return np.concatenate(chosen) if chosen else np.zeros(0, int)

    def elsewhere(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Faces of pool k in groups of a person assigned to another label (unshared, unambiguous):
        their indices and that label."""
        owner = {int(p): self.pools[i].label for i, p in enumerate(self.assignment.person)
                 if p != NO_PERSON and i != k and not self.assignment.shared[i] and not self.assignment.ambiguous[i]}
        faces, targets = [], []
        for group, p in zip(self.pools[k].groups, self.persons[k]):
            if int(p) in owner and p != self.assignment.person[k]:
                faces.append(group)
                targets += [owner[int(p)]] * len(group)
        return (np.concatenate(faces) if faces else np.zeros(0, int)), np.array(targets, dtype=object)

    def shared_pairs(self) -> set[frozenset]:
        """{label, label} for the labels that share one person."""
        a = self.assignment
        return {frozenset((self.pools[i].label, self.pools[j].label)) for i in np.flatnonzero(a.shared)
                for j in range(len(self.pools)) if j != i and a.person[j] == a.person[i]}

    def groups_of(self, k: int, people: set[int]) -> list[np.ndarray]:
        """The groups of pool k of these people."""
        return [group for group, p in zip(self.pools[k].groups, self.persons[k]) if int(p) in people]

    def owned_elsewhere(self, k: int) -> set[int]:
        """The people firmly assigned to labels other than k (not ambiguous, not shared)."""
        a = self.assignment
        return {int(p) for i, p in enumerate(a.person)
                if i != k and p != NO_PERSON and not a.ambiguous[i] and not a.shared[i]} - {int(a.person[k])}

    def close_people(self, k: int) -> list[int]:
        """The people of pool k not owned by a firmly assigned other label, largest first, that hold at
        least AMBIGUITY of the largest of them (at most MAX_READINGS): the readings of label k."""
        a = self.assignment
        owned = {int(p) for i, p in enumerate(a.person) if i != k and p != NO_PERSON and not a.ambiguous[i]}
        sizes = {}
        for group, p in zip(self.pools[k].groups, self.persons[k]):
            if int(p) not in owned:
                sizes[int(p)] = sizes.get(int(p), 0) + len(group)
        ranked = sorted(sizes, key=lambda p: (-sizes[p], p != a.person[k]))
        close = [p for p in ranked if sizes[p] >= AMBIGUITY * sizes[ranked[0]]][:MAX_READINGS]
        return close + [p for p in (a.person[k], a.alternative[k]) if p not in close and p != NO_PERSON][:2 - len(close)]


def resolve(vectors: np.ndarray, image_ids: np.ndarray, labels: np.ndarray, same_person: float,
            attributes: np.ndarray | None = None, peel: Peel | None = None) -> Identities:
    pools = pools_of(vectors, image_ids, labels, same_person, attributes, peel)
    link = link_distance(pools, same_person)
    pools = [replace(pool, groups=merged_modes(pool.groups, np.where(pool.blocked, np.nan, pool.distances),
                                               same_person)) if len(pool.groups) > 1 else pool for pool in pools]
    persons = link_groups(vectors, image_ids, pools, link)
    return Identities(pools, persons, assign(person_weights(pools, persons)))


def pool_verdict(identities: Identities, k: int, person: int, rivals: set[int], image_ids: np.ndarray,
                 same_person: float) -> tuple[np.ndarray, np.ndarray]:
    """Keep and match per face of pool k if `person` is the label's: a face is kept when it
    matches that person's groups, and better than the group of a rival person it belongs to (one
    another label holds, or the other reading of an ambiguous label), at most one per image."""
    pool = identities.pools[k]
    core = identities.core(k, person)
    if not len(core):
        return np.zeros(len(pool.rows), bool), np.zeros(len(pool.rows))
    ids, distances = image_ids[pool.rows], pool.distances
    match = group_match(distances, core, same_person)
    keep = (match >= 0.5) & ~attribute_conflict(pool.blocked, ids, core)
    for group in identities.groups_of(k, rivals):
        keep[group[group_match(distances, group, same_person)[group] > match[group]]] = False
    return one_per_image(keep, match, ids), match


@dataclass(frozen=True)
class Candidate:
    """One reading of an ambiguous label: which faces are its person (`member`: in the group
    shown), and the action per face if that reading is chosen."""

    label: str
    candidate: int
    faces: pd.DataFrame


def clean_labels(vectors: np.ndarray, image_ids, labels, same_person: float,
                 attributes: np.ndarray | None = None, peel: Peel | None = None) -> Cleaning:
    """Clean every label against the whole project. Per face: keep / remove / relabel (to the label
    whose person it is), a score in [0.5, 1], the face's match to its label's person, and whether
    the label is ambiguous (then no removal: the candidates say what each reading would do)."""
    vectors = np.asarray(vectors, np.float64)
    image_ids, labels = np.asarray(image_ids), np.asarray(labels, dtype=object)
    attributes = None if attributes is None else np.asarray(attributes, dtype=object).reshape(len(labels), -1)
    identities = resolve(vectors, image_ids, labels, same_person, attributes, peel)
    n = len(vectors)
    keep, match, ambiguous = np.zeros(n, bool), np.zeros(n), np.zeros(n, bool)
    forced, forced_target = np.zeros(n, bool), np.full(n, None, dtype=object)
    for k, pool in enumerate(identities.pools):
        if len(pool.rows) < 2:
            keep[pool.rows], match[pool.rows] = True, 1.0
            continue
        keep[pool.rows], match[pool.rows] = pool_verdict(identities, k, identities.assignment.person[k],
                                                         identities.owned_elsewhere(k), image_ids, same_person)
        if identities.assignment.ambiguous[k]:
            match[pool.rows] = np.max([pool_verdict(identities, k, person, set(), image_ids, same_person)[1]
                                       for person in identities.close_people(k)], axis=0)
        faces, targets = identities.elsewhere(k)
        forced[pool.rows[faces]], forced_target[pool.rows[faces]] = True, targets
        ambiguous[pool.rows] = identities.assignment.ambiguous[k]
    members = {pool.label: pool.rows[keep[pool.rows]] for k, pool in enumerate(identities.pools)
               if not identities.assignment.ambiguous[k]}
    other, other_match = best_other_identity(vectors, image_ids, labels, members, same_person)
    forced_match = matches_to(vectors, image_ids, members, forced_target, same_person)
    forced &= forced_match >= 0.5
    faces = face_actions(keep, match, other, other_match, forced, forced_target, forced_match, ambiguous)
    candidates = [candidate for k in np.flatnonzero(identities.assignment.ambiguous)
                  for candidate in readings(identities, k, image_ids, same_person, other, other_match, forced,
                                            forced_target, forced_match)]
    faces = within_one_person(faces, labels, keep, identities.shared_pairs())
    return Cleaning(faces, merges(vectors, image_ids, members, same_person), candidates)


def within_one_person(faces: pd.DataFrame, labels: np.ndarray, keep: np.ndarray, pairs: set[frozenset]) -> pd.DataFrame:
    """A kept face is not relabelled between two labels that share one person (one person under
    two names): the merge suggestion says it once for all of them."""
    between = np.array([frozenset((label, target)) in pairs for label, target in zip(labels, faces["target_label"])],
                       dtype=bool) & keep & (faces["action"] == "relabel").to_numpy()
    faces = faces.copy()
    faces.loc[between, ["action", "target_label"]] = ["keep", None]
    faces.loc[between, "score"] = faces.loc[between, "match"]
    return faces


def matches_to(vectors, image_ids, members: dict[str, np.ndarray], targets: np.ndarray, same_person: float) -> np.ndarray:
    """Each face's match to the kept faces of the label in `targets` (0 where None or empty)."""
    out = np.zeros(len(targets))
    for label in {t for t in targets if t is not None}:
        rows, kept = np.flatnonzero(targets == label), members.get(label, np.zeros(0, int))
        if len(kept):
            distances = pairwise_distances(vectors[rows], vectors[kept])
            distances[image_ids[rows][:, None] == image_ids[kept][None, :]] = np.nan
            out[rows] = np.nan_to_num(match_score(row_medians(distances), same_person))
    return out


def face_actions(keep, match, other, other_match, forced, forced_target, forced_match, ambiguous) -> pd.DataFrame:
    """A face that is another label's person (by its group, or matching that label's faces better
    than its own) is relabelled there; a face of an ambiguous label is otherwise kept."""
    target = np.where(forced, forced_target, other)
    to_target = np.where(forced, forced_match, other_match)
    forced = forced & ~keep
    relabel = forced | ((other_match >= 0.5) & (other_match > match))
    keep = keep | (ambiguous & ~relabel)
    action = np.where(relabel, "relabel", np.where(keep, "keep", "remove"))
    score = np.where(relabel, to_target, np.where(keep, np.maximum(match, 1.0 - match), 1.0 - match))
    return pd.DataFrame({"action": action, "target_label": np.where(relabel, target, None), "score": score,
                         "match": match, "ambiguous": ambiguous & ~relabel})


def readings(identities: Identities, k: int, image_ids, same_person, other, other_match, forced,
             forced_target, forced_match) -> list[Candidate]:
    """The candidate people of ambiguous label k, each with the actions if it is chosen."""
    pool = identities.pools[k]
    rows = pool.rows
    out = []
    people = identities.close_people(k)
    for number, person in enumerate(people):
        rivals = (identities.owned_elsewhere(k) | set(people)) - {person}
        keep, match = pool_verdict(identities, k, person, rivals, image_ids, same_person)
        faces = face_actions(keep, match, other[rows], other_match[rows], forced[rows], forced_target[rows],
                             forced_match[rows], np.zeros(len(rows), bool))
        member = np.zeros(len(rows), bool)
        member[identities.core(k, person)] = True
        out.append(Candidate(pool.label, number, faces.assign(row=rows, member=member).drop(columns="ambiguous")))
    return out
