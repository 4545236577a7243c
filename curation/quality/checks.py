"""Image quality and outlier checks, one small class each, registered by name (cleanvision's model).

A check gives every image a score in its own unit (say what it measures in `unit`) and calls an image
a suspect when the score is past `threshold` in the check's `direction`. Pixel checks read the
image's thumbnail (224 px, RGB, as ingest stored it); set checks look at one figure of every image
against the rest of the project (sizes, shapes, colour), so what is odd depends on the set.

Every default threshold was measured with `bench/quality.py` on generated degradations (blur,
darkening, brightening, washing out, greyscale, crops) of lfw10's photographs and confirmed on the
sample images. The other way round failed for blur: the sample's flat synthetic shapes are so sharp
that the cut they suggest (about 490) calls ordinary photos blurred, so photos set the defaults. The embedding outlier check lives in `outliers.py`.

Adding a check touches this file only: one class, decorated with `@register`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

CHECKS: dict[str, "Check"] = {}

#: Rec. 601 luma weights: perceived brightness of an RGB pixel.
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def register(cls):
    CHECKS[cls.name] = cls()
    return cls


@dataclass(frozen=True)
class Check:
    name: ClassVar[str]
    title: ClassVar[str]
    flag_kind: ClassVar[str]
    unit: ClassVar[str]
    threshold: ClassVar[float]
    #: "below": a score under the threshold is a suspect; "above": over it.
    direction: ClassVar[str]
    #: "pixels" (a score per thumbnail), "sizes" (width and height of the whole set), "vectors".
    needs: ClassVar[str] = "pixels"

    def suspects(self, scores: pd.Series, threshold: float | None = None) -> pd.Series:
        """Which of `scores` (one per image of the project) are past the threshold."""
        limit = self.threshold if threshold is None else threshold
        return scores < limit if self.direction == "below" else scores > limit

    def explain(self, score: float, threshold: float | None = None) -> str:
        limit = self.threshold if threshold is None else threshold
        return f"{self.unit} {score:.3g} ({'under' if self.direction == 'below' else 'over'} {limit:.3g})"


class PixelCheck(Check):
    def score(self, rgb: np.ndarray) -> float:
        """The score of one image, `rgb` a H x W x 3 uint8 array."""
        raise NotImplementedError


class SizeCheck(Check):
    needs: ClassVar[str] = "sizes"

    def scores(self, width: pd.Series, height: pd.Series) -> pd.Series:
        """One score per image, given every usable image's displayed width and height."""
        raise NotImplementedError


def grey_levels(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float32) @ LUMA


@register
class Blurry(PixelCheck):
    name, title, flag_kind = "blurry", "Blurry", "blurry"
    unit, threshold, direction = "sharpness (Laplacian variance)", 24.0, "below"

    def score(self, rgb: np.ndarray) -> float:
        grey = grey_levels(rgb)
        laplacian = (grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:] - 4 * grey[1:-1, 1:-1])
        return float(laplacian.var()) if laplacian.size else 0.0


@register
class TooDark(PixelCheck):
    name, title, flag_kind = "dark", "Too dark", "too_dark"
    unit, threshold, direction = "brightest 1% (0-1)", 0.53, "below"

    def score(self, rgb: np.ndarray) -> float:
        return float(np.percentile(grey_levels(rgb), 99) / 255)


@register
class TooBright(PixelCheck):
    name, title, flag_kind = "bright", "Too bright", "too_bright"
    unit, threshold, direction = "darkest 5% (0-1)", 0.41, "above"

    def score(self, rgb: np.ndarray) -> float:
        return float(np.percentile(grey_levels(rgb), 5) / 255)


@register
class LowInformation(PixelCheck):
    name, title, flag_kind = "low_information", "Low information", "low_information"
    unit, threshold, direction = "entropy of the grey levels (bits)", 5.0, "below"

    def score(self, rgb: np.ndarray) -> float:
        counts = np.bincount(grey_levels(rgb).astype(np.uint8).ravel(), minlength=256)
        p = counts[counts > 0] / counts.sum()
        return float(-(p * np.log2(p)).sum())


@register
class Greyscale(PixelCheck):
    """A grey picture is odd only in a colour set: in a set that is mostly grey (orl39, X-rays) the
    check suggests nothing."""

    name, title, flag_kind = "greyscale", "Greyscale in a colour set", "greyscale"
    unit, threshold, direction = "colourfulness (mean channel spread, 0-1)", 0.024, "below"
    #: Below this share of grey images, the set is a colour set.
    COLOUR_SET = 0.5

    def score(self, rgb: np.ndarray) -> float:
        spread = rgb.max(axis=2).astype(np.float32) - rgb.min(axis=2)
        return float(spread.mean() / 255)

    def suspects(self, scores: pd.Series, threshold: float | None = None) -> pd.Series:
        grey = super().suspects(scores, threshold)
        return grey if grey.mean() < self.COLOUR_SET else pd.Series(False, index=scores.index)


@register
class OddAspectRatio(SizeCheck):
    name, title, flag_kind = "odd_aspect_ratio", "Odd aspect ratio", "odd_aspect_ratio"
    unit, threshold, direction = "times wider or taller than the set's typical shape", 2.0, "above"

    def scores(self, width: pd.Series, height: pd.Series) -> pd.Series:
        shape = np.log(width.astype(float) / height.astype(float))
        return np.exp((shape - shape.median()).abs())


@register
class OddSize(SizeCheck):
    name, title, flag_kind = "odd_size", "Odd size", "odd_size"
    unit, threshold, direction = "times larger or smaller (side) than the set's median", 2.5, "above"

    def scores(self, width: pd.Series, height: pd.Series) -> pd.Series:
        side = np.log(np.sqrt(width.astype(float) * height.astype(float)))
        return np.exp((side - side.median()).abs())
