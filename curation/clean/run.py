"""Cleaning a project: the "clean" job, which `curation clean` runs too.

It reads every labelled face's vector of one model (or every image's, for a whole-image model),
runs the method over all identities (for whole-image vectors, a vote of each image's neighbours:
a class of objects is not one tight group the way a person's faces are) (the look across identities needs all their members, even when
one label is asked for), records the suggestions of the labels asked for, and flags faces of two
identities that are the same face (near-duplicate photos filed under two names).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..embed import get_embedder
from ..embed.verification import best_threshold_accuracy
from ..store.edits import EditError
from .method import clean_labels, neighbour_vote, pairwise_distances

ACTOR = "cleaning"
#: Two faces this much closer than the same-person distance are one photo (re-encoded, resized, cropped).
DUPLICATE_FRACTION = 1 / 6
ESTIMATE_SAMPLE = 3000
DUPLICATE_CHUNK = 512


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

    def line(self) -> str:
        return (f"{self.model} (same person under {self.same_person:.3f}, {self.same_person_source}): "
                f"{self.identities} identities, {self.faces} {self.unit}{'s' * (self.faces != 1)} judged, "
                f"{self.kept} kept, {self.remove} to remove, {self.relabel} to relabel, {self.merges} merges; "
                f"{self.duplicates} duplicate faces across identities flagged")


def same_person_distance(model: str, vectors: np.ndarray, labels: np.ndarray) -> tuple[float, str]:
    """The embedder's published same-person distance; else the one that best separates the
    project's labels over pairs of (a sample of) its vectors."""
    published = get_embedder(model).same_person
    if published is not None:
        return published, "the model's published threshold"
    if len(set(labels)) < 2:
        raise EditError(f"{model} has no published same-person distance and the project has one label, so none "
                        "can be estimated: label a second class first.")
    rows = np.random.default_rng(0).permutation(len(vectors))[:ESTIMATE_SAMPLE]
    accuracy, threshold = best_threshold_accuracy(vectors[rows], labels[rows])
    return threshold, f"estimated from the labels ({accuracy:.0%} of pairs separated)"


def cross_identity_duplicates(vectors: np.ndarray, image_ids: np.ndarray, labels: np.ndarray,
                              limit: float) -> list[tuple[int, int, str, float]]:
    """(image, its twin image, the twin's label, distance) for faces within `limit` of a face of
    another label; the later image of each pair is the one reported."""
    found = {}
    for start in range(0, len(vectors), DUPLICATE_CHUNK):
        rows = np.arange(start, min(start + DUPLICATE_CHUNK, len(vectors)))
        distances = pairwise_distances(vectors[rows], vectors)
        close = (distances < limit) & (labels[rows][:, None] != labels[None, :]) & \
            (image_ids[rows][:, None] > image_ids[None, :])
        for i, j in zip(*np.nonzero(close)):
            found.setdefault(int(image_ids[rows[i]]), (int(image_ids[j]), str(labels[j]), float(distances[i, j])))
    return [(image, *twin) for image, twin in sorted(found.items())]


def clean_project(store, model: str, label: str | None = None, actor: str = ACTOR, job_id: int | None = None,
                  progress=None) -> CleanSummary:
    embedder = get_embedder(model)
    units, vectors = store.cleaning_units(model, embedder.subject)
    if label is not None and not (units["label"] == label).any():
        raise EditError(f"No {embedder.subject} labelled '{label}' has a {model} vector: embed it first.")
    if units.empty:
        raise EditError(f"No labelled {embedder.subject} has a {model} vector yet: run the embedding first.")
    labels, image_ids = units["label"].to_numpy(dtype=object), units["image_id"].to_numpy()
    same_person, source = same_person_distance(model, vectors, labels)
    progress and progress(0, 3, "Cleaning every identity")
    tagged = units.filter(like="attr:")
    attributes = tagged.to_numpy(dtype=object) if tagged.shape[1] else None
    result = (clean_labels(vectors, image_ids, labels, same_person, attributes) if embedder.subject == "face"
              else neighbour_vote(vectors, labels))
    progress and progress(1, 3, "Looking for the same face under two names")
    twins = cross_identity_duplicates(vectors, image_ids, labels, same_person * DUPLICATE_FRACTION)
    mine = np.ones(len(units), bool) if label is None else labels == label
    merges = result.merges if label is None else result.merges[
        (result.merges["label"] == label) | (result.merges["target_label"] == label)]
    actions = result.faces["action"][mine]
    summary = CleanSummary(model, int(pd.Series(labels[mine]).nunique()), int(mine.sum()), int((actions == "keep").sum()),
                           int((actions == "remove").sum()), int((actions == "relabel").sum()), len(merges),
                           len(twins), same_person, source, embedder.subject)
    progress and progress(2, 3, "Recording the suggestions")
    store.record_clean_run(
        {"model": model, "subject": embedder.subject, "labels": None if label is None else [label],
         "same_person": same_person, "same_person_source": source, "summary": summary.__dict__,
         "created_by": actor, "job_id": job_id},
        units[mine], result.faces[mine], merges)
    store.flag_duplicate_twins(twins, actor)
    progress and progress(3, 3, "Done")
    return summary


def run_clean(ctx) -> tuple[str, bool]:
    """The "clean" job (curation.jobs.kinds)."""
    summary = clean_project(ctx.store, ctx.params.model, ctx.params.label, ctx.actor or ACTOR, ctx.job_id,
                            ctx.progress)
    return summary.line(), False
