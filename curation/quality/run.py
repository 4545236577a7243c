"""The "quality" job: score every usable image with every check and record the suspects it suggests.

It never flags anything: a flag leaves the image out of training, so a person decides (the Quality
page flags the suggested ones they keep). Pixel checks read the stored 224 px thumbnails; the
embedding outlier check needs a model's vectors (the one asked for, else dlib-resnet34 when there,
else the first model the project has) and is left out when there are none.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from PIL import Image

from ..embed import EMBEDDERS
from .checks import CHECKS, PixelCheck, SizeCheck

DEFAULT_MODEL = "dlib-resnet34"
PROGRESS_EVERY = 100


@dataclass
class QualitySummary:
    images: int
    suspects: dict[str, int] = field(default_factory=dict)
    model: str | None = None
    cancelled: bool = False

    def line(self) -> str:
        found = ", ".join(f"{CHECKS[name].title.lower()} {n}" for name, n in self.suspects.items()) or "no check ran"
        outliers = f"outliers by {self.model}" if self.model else "no embeddings, so no outlier check"
        return f"{self.images} images checked ({outliers}); suggested: {found}."


def pixel_scores(rgb: np.ndarray) -> dict[str, float]:
    return {name: check.score(rgb) for name, check in CHECKS.items() if isinstance(check, PixelCheck)}


def thumbnail_array(path) -> np.ndarray:
    with Image.open(path) as picture:
        return np.asarray(picture.convert("RGB"))


def outlier_model(store, wanted: str | None) -> str | None:
    have = [m for m in store.embedding_counts() if m in EMBEDDERS]
    if wanted:
        return wanted if wanted in have else None
    return DEFAULT_MODEL if DEFAULT_MODEL in have else (have[0] if have else None)


def score_images(store, images: pd.DataFrame, progress=None, cancelled=None) -> pd.DataFrame | None:
    """Pixel and size scores, one column per check, one row per image (None when cancelled)."""
    rows = []
    for done, sha in enumerate(images["sha256"]):
        if done % PROGRESS_EVERY == 0:
            if cancelled and cancelled():
                return None
            progress and progress(done, len(images) + 1, "Scoring thumbnails")
        rows.append(pixel_scores(thumbnail_array(store.project.thumb_path(sha))))
    scores = pd.DataFrame(rows, index=images["image_id"].to_numpy())
    for name, check in CHECKS.items():
        if isinstance(check, SizeCheck):
            scores[name] = check.scores(images["width"], images["height"]).to_numpy()
    return scores


def check_project(store, model: str | None = None, job_id: int | None = None, progress=None,
                  cancelled=None) -> QualitySummary:
    images = store.quality_images()
    scores = score_images(store, images, progress, cancelled)
    if scores is None:
        return QualitySummary(len(images), cancelled=True)
    model = outlier_model(store, model)
    if model:
        units, vectors = store.cleaning_units(model, EMBEDDERS[model].subject)
        scores["outlier"] = CHECKS["outlier"].scores(units, vectors).reindex(scores.index)
    long = scores.rename_axis("image_id").reset_index().melt("image_id", var_name="check", value_name="score")
    long = long.dropna(subset=["score"])
    long["suspect"] = False
    for name, rows in long.groupby("check").indices.items():
        long.loc[long.index[rows], "suspect"] = CHECKS[name].suspects(long["score"].iloc[rows]).to_numpy()
    long["threshold"] = long["check"].map(lambda name: CHECKS[name].threshold)
    store.record_quality(long, model, job_id)
    progress and progress(len(images) + 1, len(images) + 1, "Done")
    suspects = long.groupby("check")["suspect"].sum().astype(int)
    return QualitySummary(len(images), {name: int(suspects.get(name, 0)) for name in CHECKS if name in suspects},
                          model)


def run_quality(ctx) -> tuple[str, bool]:
    """The "quality" job (curation.jobs.kinds)."""
    summary = check_project(ctx.store, ctx.params.model, ctx.job_id, ctx.progress, ctx.cancelled)
    return summary.line(), summary.cancelled
