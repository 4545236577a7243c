"""The one device resolver of every worker: `--device auto|cpu|cuda` (DESIGN.md)."""

from __future__ import annotations


class DeviceUnavailable(RuntimeError):
    """The device asked for is not there."""


def resolve_device(requested: str):
    """`auto`: the GPU when there is one, else the CPU; `cuda` without a GPU is an error."""
    import torch

    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailable("--device cuda was asked for, but PyTorch sees no CUDA device here.")
    return torch.device(requested)
