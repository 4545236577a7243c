"""The "discover" job: group the faces of unlabelled images into proposed people and record them.

The same-person distance is the embedder's published one; for a model without one, the distance
that best separates the project's labelled faces (as cleaning estimates it); with neither, the job
says so.
"""

from __future__ import annotations

from .discover import discovery_cut, proposed_people
from .embed import get_embedder
from .embed.verification import best_threshold_accuracy
from .store.edits import EditError

ACTOR = "discovery"
ESTIMATE_SAMPLE = 3000


def same_person(store, model: str) -> float:
    published = get_embedder(model).same_person
    if published is not None:
        return published
    labelled, vectors = store.face_vectors(model)
    known = labelled["label"].notna().to_numpy()
    if labelled.loc[known, "label"].nunique() < 2:
        raise EditError(f"{model} has no published same-person distance and fewer than two labelled people "
                        "have faces to estimate one from: label two people first, or use dlib-resnet34.")
    accuracy, threshold = best_threshold_accuracy(vectors[known][:ESTIMATE_SAMPLE],
                                                  labelled.loc[known, "label"].to_numpy()[:ESTIMATE_SAMPLE])
    return threshold


def discover_people(store, model: str, actor: str = ACTOR, job_id: int | None = None, progress=None) -> str:
    if get_embedder(model).subject != "face":
        raise EditError(f"{model} describes whole images, not faces: discovery groups faces (use a face model).")
    faces, vectors = store.unlabelled_faces(model)
    if faces.empty:
        raise EditError(f"No unlabelled image has a face with a {model} vector: detect and embed first.")
    progress and progress(0, 1, f"Grouping {len(faces)} faces")
    distance = same_person(store, model)
    faces["grp"], faces["distance"] = proposed_people(vectors, faces["image_id"].to_numpy(), distance)
    run_id = store.record_discovery({"job_id": job_id, "model": model, "cut": discovery_cut(distance),
                                     "created_by": actor}, faces)
    groups = faces.loc[faces["grp"] >= 0, "grp"]
    progress and progress(1, 1, "Done")
    return (f"Discovery #{run_id}: {len(faces)} faces of unlabelled images, {groups.nunique()} proposed people "
            f"({len(groups)} faces), {len(faces) - len(groups)} faces alone "
            f"(groups joined up to {discovery_cut(distance):.3f} apart).")


def run_discover(ctx) -> tuple[str, bool]:
    """The "discover" job (curation.jobs.kinds)."""
    return discover_people(ctx.store, ctx.params.model, ctx.actor or ACTOR, ctx.job_id, ctx.progress), False
