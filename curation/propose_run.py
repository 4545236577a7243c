"""The "propose" job: propose a value of one attribute for every untagged usable image from the
tagged ones (curation.propose), recorded as proposals a person confirms on the Audit page."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .embed import get_embedder
from .propose import central_rows, propose_values
from .store.edits import EditError


def propose_attribute(store, name: str, model: str, job_id: int | None = None, progress=None) -> str:
    if name not in store.attributes():
        raise EditError(f"There is no attribute '{name}'; define it first.")
    subject = get_embedder(model).subject
    units, vectors = store.proposal_units(model, subject, name)
    if units.empty:
        raise EditError(f"No usable image has a {model} vector yet: compute the embeddings first.")
    if subject == "face":
        rows = central_rows(units)
        units, vectors = units.loc[rows].reset_index(drop=True), vectors[rows]
    tags = units["tag"].to_numpy(dtype=object)
    if not any(t is not None for t in tags):
        raise EditError(f"No image with a {model} vector is tagged {name} yet: tag a few first (Review, T).")
    progress and progress(0, 1, f"Proposing {name} for {sum(t is None for t in tags)} images")
    values, confidence = propose_values(vectors, tags)
    untagged = np.array([t is None for t in tags])
    proposals = pd.DataFrame({"image_id": units["image_id"][untagged], "value": values[untagged],
                              "confidence": confidence[untagged]})
    store.record_proposals(name, proposals, model, job_id)
    progress and progress(1, 1, "Done")
    tagged = int((~untagged).sum())
    return (f"{name}: {len(proposals)} values proposed from {tagged} tagged image{'s' * (tagged != 1)} "
            f"({model}); confirm them on the Audit page.")


def run_propose(ctx) -> tuple[str, bool]:
    """The "propose" job (curation.jobs.kinds)."""
    return propose_attribute(ctx.store, ctx.params.attribute, ctx.params.model, ctx.job_id, ctx.progress), False
