"""Cleaning a project: the "clean" job, which `curation clean` runs too.

It reads every labelled face's vector of one model (or every image's, for a whole-image model),
calibrates the same-person distance on the project (calibrate.py), runs the method over all
identities at once (joint.py: which group is which label's person is decided over the whole
project, so all identities are read even when one label is asked for; for whole-image vectors, a
vote of each image's neighbours: a class of objects is not one tight group the way a person's faces
are), records the suggestions of the labels asked for (and the candidate readings of those that are
ambiguous), and flags faces of two identities that are the same face (near-duplicate photos filed
under two names).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..embed import get_embedder
from ..embed.verification import best_threshold_accuracy
from ..store.edits import EditError
from .calibrate import calibrate
from .joint import clean_labels
from .method import neighbour_vote, pairwise_distances
from .peel import PeelingCancelled, peeler

ACTOR = "cleaning"
#: Two faces this much closer than the same-person distance are one photo (re-encoded, resized, cropped).
DUPLICATE_FRACTION = 1 / 6
ESTIMATE_SAMPLE = 3000
DUPLICATE_CHUNK = 512
PIVOT_CHUNK = 8192
PIVOT_MARGIN = 1e-4


@dataclass
class CleanSummary:
    model: str
    identities: int
    faces: int
    kept: int
    remove: int
    relabel: int
    merges: int
    duplicates: int
    same_person: float
    same_person_source: str
    unit: str = "face"
    ambiguous: int = 0

    def line(self) -> str:
        unsure = f", {self.ambiguous} ambiguous (choose who they are on Clusters)" if self.ambiguous else ""
        return (f"{self.model} (same person under {self.same_person:.3f}, {self.same_person_source}): "
                f"{self.identities} identities, {self.faces} {self.unit}{'s' * (self.faces != 1)} judged, "
                f"{self.kept} kept, {self.remove} to remove, {self.relabel} to relabel, {self.merges} merges{unsure}; "
                f"{self.duplicates} duplicate faces across identities flagged")


def prior_distance(model: str, vectors: np.ndarray, labels: np.ndarray) -> tuple[float, str]:
    """The prior of the same-person distance: the embedder's published one; else the one that best
    separates the project's labels over pairs of (a sample of) its vectors."""
    published = get_embedder(model).same_person
    if published is not None:
        return published, f"{model}'s published {published:.2f}"
    if len(set(labels)) < 2:
        raise EditError(f"{model} has no published same-person distance and the project has one label, so none "
                        "can be estimated: label a second class first.")
    rows = np.random.default_rng(0).permutation(len(vectors))[:ESTIMATE_SAMPLE]
    accuracy, threshold = best_threshold_accuracy(vectors[rows], labels[rows])
    return threshold, f"estimated from the labels ({accuracy:.0%} of pairs separated)"


def cross_identity_duplicates(vectors: np.ndarray, image_ids: np.ndarray, labels: np.ndarray,
                              limit: float) -> list[tuple[int, int, str, float]]:
    """(image, its twin image, the twin's label, distance) for faces within `limit` of a face of
    another label; the later image of each pair is the one reported, with the first twin in row
    order. Faces are compared only with those within reach (pivot_reach), so the cost grows with
    each face's neighbourhood rather than with the project's faces squared."""
    pairs = []
    for members, candidates in pivot_reach(vectors, labels, limit):
        for start in range(0, len(candidates), DUPLICATE_CHUNK):
            rows = candidates[start:start + DUPLICATE_CHUNK]
            distances = pairwise_distances(vectors[rows], vectors[members])
            close = (distances < limit) & (labels[rows][:, None] != labels[members][None, :]) & \
                (image_ids[rows][:, None] > image_ids[members][None, :])
            pairs += [(int(rows[i]), int(members[j]), float(distances[i, j])) for i, j in zip(*np.nonzero(close))]
    found = {}
    for face, twin, distance in sorted(pairs):
        found.setdefault(int(image_ids[face]), (int(image_ids[twin]), str(labels[twin]), distance))
    return [(image, *twin) for image, twin in sorted(found.items())]


def pivot_reach(vectors: np.ndarray, labels: np.ndarray, limit: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """The faces split by their nearest pivot (the labels' mean vectors), each part with the faces
    that may lie within `limit` of one of its members. By the triangle inequality, a face farther
    from the pivot than the part's radius plus `limit` cannot (distances kept in float32: a margin)."""
    owner = np.unique(labels.astype(str), return_inverse=True)[1]
    pivots = np.stack([vectors[owner == k].mean(0) for k in range(owner.max() + 1)])
    nearest, radius = np.zeros(len(vectors), int), np.zeros(len(pivots))
    for start, distances in pivot_distances(vectors, pivots):
        part = distances.argmin(1)
        nearest[start:start + len(part)] = part
        np.maximum.at(radius, part, distances[np.arange(len(part)), part])
    reach_faces, reach_pivots = [], []
    for start, distances in pivot_distances(vectors, pivots):
        faces, near = np.nonzero(distances <= radius[None, :] + limit + PIVOT_MARGIN)
        reach_faces.append(faces + start)
        reach_pivots.append(near)
    faces, near = np.concatenate(reach_faces), np.concatenate(reach_pivots)
    order = np.argsort(near, kind="stable")
    bounds = np.searchsorted(near[order], np.arange(len(pivots) + 1))
    return [(np.flatnonzero(nearest == k), faces[order[bounds[k]:bounds[k + 1]]])
            for k in range(len(pivots)) if bounds[k + 1] > bounds[k]]


def pivot_distances(vectors: np.ndarray, pivots: np.ndarray):
    """(first row, float32 distances to the pivots) per chunk of rows."""
    for start in range(0, len(vectors), PIVOT_CHUNK):
        yield start, pairwise_distances(vectors[start:start + PIVOT_CHUNK], pivots).astype(np.float32)


def clean_project(store, model: str, label: str | None = None, actor: str = ACTOR, job_id: int | None = None,
                  progress=None, cancelled=None) -> CleanSummary:
    """Clean the project's labels and record the suggestions; raises PeelingCancelled (nothing
    recorded) when `cancelled` says so while the labels' pools are peeled."""
    embedder = get_embedder(model)
    units, vectors = store.cleaning_units(model, embedder.subject)
    if label is not None and not (units["label"] == label).any():
        raise EditError(f"No {embedder.subject} labelled '{label}' has a {model} vector: embed it first.")
    if units.empty:
        raise EditError(f"No labelled {embedder.subject} has a {model} vector yet: run the embedding first.")
    labels, image_ids = units["label"].to_numpy(dtype=object), units["image_id"].to_numpy()
    tagged = units.filter(like="attr:")
    attributes = tagged.to_numpy(dtype=object) if tagged.shape[1] else None
    prior, source = prior_distance(model, vectors, labels)
    same_person = prior
    if embedder.subject == "face":
        progress and progress(0, 4, "Calibrating the same-person distance on the project's labels")
        calibration = calibrate(vectors, image_ids, labels, prior, attributes)
        same_person, source = calibration.value, calibration.source(source)
    progress and progress(1, 4, "Cleaning every identity")
    peel = peeler(store.project.root, progress and (lambda done, total: progress(
        done, total, f"Cleaning every identity: {done:,} of {total:,} labels peeled")), cancelled)
    result = (clean_labels(vectors, image_ids, labels, same_person, attributes, peel) if embedder.subject == "face"
              else neighbour_vote(vectors, labels))
    progress and progress(2, 4, "Looking for the same face under two names")
    twins = cross_identity_duplicates(vectors, image_ids, labels, same_person * DUPLICATE_FRACTION)
    mine = np.ones(len(units), bool) if label is None else labels == label
    merges = result.merges if label is None else result.merges[
        (result.merges["label"] == label) | (result.merges["target_label"] == label)]
    actions = result.faces["action"][mine]
    readings = [reading for reading in result.candidates if label is None or reading.label == label]
    positions = np.cumsum(mine) - 1
    readings = [replace(reading, faces=reading.faces.assign(row=positions[reading.faces["row"]])) for reading in readings]
    summary = CleanSummary(model, int(pd.Series(labels[mine]).nunique()), int(mine.sum()), int((actions == "keep").sum()),
                           int((actions == "remove").sum()), int((actions == "relabel").sum()), len(merges),
                           len(twins), same_person, source, embedder.subject, len({r.label for r in readings}))
    progress and progress(3, 4, "Recording the suggestions")
    store.record_clean_run(
        {"model": model, "subject": embedder.subject, "labels": None if label is None else [label],
         "same_person": same_person, "same_person_source": source, "summary": summary.__dict__,
         "created_by": actor, "job_id": job_id},
        units[mine], result.faces[mine], merges, readings)
    store.flag_duplicate_twins(twins, actor)
    progress and progress(4, 4, "Done")
    return summary


def run_clean(ctx) -> tuple[str, bool]:
    """The "clean" job (curation.jobs.kinds)."""
    try:
        summary = clean_project(ctx.store, ctx.params.model, ctx.params.label, ctx.actor or ACTOR, ctx.job_id,
                                ctx.progress, ctx.cancelled)
    except PeelingCancelled:
        return "Cancelled while the labels were peeled; no suggestion recorded.", True
    return summary.line(), False
