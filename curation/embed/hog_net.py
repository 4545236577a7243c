"""The `hog` embedder's network: HOG vectors of uint8 batches computed with torch (see `hog`)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .hog import BINS, BLOCK, CELL, EPS, HYS_CLIP, LUMA


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
