"""`hog`: a Histogram of Oriented Gradients (Dalal & Triggs) of the whole image; needs no weights.

For projects of ordinary images on machines that cannot download `resnet34-imagenet`'s weights:
the cluster map and identity or label cleaning then still have a vector per usable image. It
describes outlines and edge directions, so it separates simple images (shapes, logos, diagrams)
well and photographs of objects poorly.

The image is letterboxed into SIDE x SIDE pixels, turned grey and differentiated with [-1, 0, 1]
kernels. Each pixel votes its gradient magnitude into BINS unsigned orientation bins (0-180
degrees), split linearly between the two nearest bin centres; votes are summed over CELL x CELL
cells; each BLOCK x BLOCK cells (stride one cell) is normalised with L2-Hys; the concatenated
blocks are L2-normalised, so every entry is >= 0 and Euclidean distances lie in [0, sqrt(2)].
Unlike the original there is no spatial (trilinear) interpolation and no Gaussian block window.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from PIL import Image

from ..verify import load_rgb
from .base import Embedder, Item, register

if TYPE_CHECKING:
    from torch import nn

SIDE = 64
CELL = 8
BLOCK = 2
BINS = 9
HYS_CLIP = 0.2
EPS = 1e-6
LUMA = (0.299, 0.587, 0.114)
CELLS = SIDE // CELL
DIM = (CELLS - BLOCK + 1) ** 2 * BLOCK * BLOCK * BINS


def letterbox(image: Image.Image, side: int = SIDE) -> np.ndarray:
    """The image scaled so its long side is `side`, centred and padded by repeating its edge pixels.

    Padding rather than stretching keeps angles true (a circle stays a circle, a diagonal stays at
    45 degrees), so an object's orientation histogram does not depend on the photo's aspect; edge
    repetition adds no new edge where the picture meets the padding.
    """
    scale = side / max(image.size)
    width, height = max(1, round(image.width * scale)), max(1, round(image.height * scale))
    pixels = np.asarray(image.resize((width, height), Image.Resampling.BILINEAR))
    top, left = (side - height) // 2, (side - width) // 2
    return np.pad(pixels, ((top, side - height - top), (left, side - width - left), (0, 0)), mode="edge")


@register
class HogImage(Embedder):
    name = "hog"
    dim = DIM
    subject = "image"
    description = (f"Histogram of oriented gradients, {DIM}-d, whole image; needs no weights: "
                   "for offline use and simple images")

    def items(self, snapshot: pd.DataFrame) -> list[Item]:
        return [Item(image, (int(key),)) for key, image in zip(snapshot["key"], snapshot["image"])]

    def crops(self, item: Item) -> np.ndarray:
        return letterbox(load_rgb(item.path, max_side=2 * SIDE))[None]

    def network(self, weights: str | None = None) -> nn.Module:
        """The HOG module; `weights` is ignored, there are none."""
        from .hog_net import Hog

        return Hog().eval()
