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

import math

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from ..verify import load_rgb
from .base import Embedder, Item, register

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


class Hog(nn.Module):
    """uint8 NCHW RGB batches (SIDE x SIDE) to unit-length HOG vectors of DIM floats.

    Layout of a vector: blocks in row-major order of their top-left cell, then the block's four
    cells in row-major order, then the BINS orientation bins (bin b centred on (b + 0.5) * 20 degrees).
    """

    def __init__(self):
        super().__init__()
        derivative = torch.tensor([[0.0, 0.0, 0.0], [-1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
        self.register_buffer("luma", torch.tensor(LUMA).view(1, 3, 1, 1))
        self.register_buffer("derivatives", torch.stack([derivative, derivative.T]).unsqueeze(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """In float32 even under the worker's GPU autocast: bf16 gradients would blur the bin shares."""
        with torch.autocast(x.device.type, enabled=False):
            magnitude, angle = self.gradients(x)
            cells = cell_histograms(magnitude, angle)
            return F.normalize(normalised_blocks(cells).flatten(1), dim=1)

    def gradients(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Gradient magnitude and unsigned direction in [0, pi), each (n, side, side)."""
        grey = (x.float() / 255 * self.luma).sum(dim=1, keepdim=True)
        dx, dy = F.conv2d(F.pad(grey, (1, 1, 1, 1), mode="replicate"), self.derivatives).unbind(dim=1)
        return torch.hypot(dx, dy), torch.atan2(dy, dx).remainder(math.pi)


def cell_histograms(magnitude: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """(n, BINS, CELLS, CELLS): magnitudes voted into the two nearest orientation bins, summed per cell."""
    position = angle / (math.pi / BINS) - 0.5
    lower = position.floor()
    upper_share = position - lower
    votes = torch.zeros(magnitude.shape[0], BINS, *magnitude.shape[1:], device=magnitude.device)
    votes.scatter_add_(1, lower.long().remainder(BINS).unsqueeze(1), (magnitude * (1 - upper_share)).unsqueeze(1))
    votes.scatter_add_(1, (lower.long() + 1).remainder(BINS).unsqueeze(1), (magnitude * upper_share).unsqueeze(1))
    return F.avg_pool2d(votes, CELL) * CELL * CELL


def normalised_blocks(cells: torch.Tensor) -> torch.Tensor:
    """(n, blocks, BLOCK * BLOCK * BINS): each block of cells L2-Hys normalised."""
    n = cells.shape[0]
    blocks = F.unfold(cells, BLOCK).view(n, BINS, BLOCK * BLOCK, -1).permute(0, 3, 2, 1).flatten(2)
    clipped = l2_normalise(blocks).clamp(max=HYS_CLIP)
    return l2_normalise(clipped)


def l2_normalise(v: torch.Tensor) -> torch.Tensor:
    """v / sqrt(|v|^2 + eps^2) along the last axis, Dalal & Triggs' regularised L2 norm."""
    return v / (v.square().sum(dim=-1, keepdim=True) + EPS ** 2).sqrt()


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
        return Hog().eval()
