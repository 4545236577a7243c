"""Batched inference: DataLoader workers cut crops in parallel, the network runs on the device.

Crops travel as uint8 NHWC arrays, which viewed as NCHW are already channels-last; batches are
pinned for the copy to a GPU, and there the network runs under autocast (bf16 where supported,
else fp16). Everything runs in inference mode.
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from typing import Iterator

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from .base import Embedder, Item


def default_loader_workers(device: torch.device) -> int:
    """Decoding processes: enough to feed a GPU; on the CPU one, leaving the cores to the network."""
    cores = os.cpu_count() or 1
    return min(8, cores) if device.type == "cuda" else min(1, cores - 1)


class CropDataset(Dataset):
    def __init__(self, embedder: Embedder, items: list[Item]):
        self.embedder, self.items = embedder, items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        item = self.items[i]
        return np.asarray(item.keys, dtype=np.int64), self.embedder.crops(item)


def plan_batches(items: list[Item], batch_size: int) -> list[list[int]]:
    """Consecutive items grouped so that a batch holds at most `batch_size` crops (an item's
    crops stay together, so an item with more crops than that is a batch of its own)."""
    batches, current, count = [], [], 0
    for i, item in enumerate(items):
        if current and count + len(item.keys) > batch_size:
            batches.append(current)
            current, count = [], 0
        current.append(i)
        count += len(item.keys)
    if current:
        batches.append(current)
    return batches


def collate(samples) -> tuple[torch.Tensor, torch.Tensor]:
    keys = torch.from_numpy(np.concatenate([k for k, _ in samples]))
    crops = torch.from_numpy(np.concatenate([c for _, c in samples])).permute(0, 3, 1, 2)
    return keys, crops


def crop_loader(embedder: Embedder, items: list[Item], batch_size: int, device: torch.device,
                workers: int | None = None) -> DataLoader:
    workers = default_loader_workers(device) if workers is None else workers
    return DataLoader(CropDataset(embedder, items), batch_sampler=plan_batches(items, batch_size),
                      collate_fn=collate, num_workers=workers, pin_memory=device.type == "cuda")


def autocast(device: torch.device):
    if device.type != "cuda":
        return nullcontext()
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype)


def prepare(model: nn.Module, device: torch.device) -> nn.Module:
    return model.eval().to(device).to(memory_format=torch.channels_last)


def embed_batches(model: nn.Module, loader: DataLoader,
                  device: torch.device) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(keys, float32 vectors) for each batch of the loader; `model` as `prepare` left it."""
    with torch.inference_mode(), autocast(device):
        for keys, crops in loader:
            x = crops.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
            yield keys.numpy(), model(x).float().cpu().numpy()
