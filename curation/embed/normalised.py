"""Input normalisation inside a network, shared by the embedders that need it."""

from __future__ import annotations

import torch
from torch import nn


class Normalised(nn.Module):
    """`(x - mean) / scale` per channel on the device, then the wrapped network: crops travel
    as uint8 (a quarter of the bytes through pinned memory) and are normalised where they run."""

    def __init__(self, net: nn.Module, mean: tuple[float, float, float], scale: tuple[float, float, float]):
        super().__init__()
        self.net = net
        self.register_buffer("mean", _channel_vector(mean))
        self.register_buffer("scale", _channel_vector(scale))

    def forward(self, x):
        return self.net((x.float() - self.mean) / self.scale)


def _channel_vector(values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32).view(1, 3, 1, 1)
