"""Image transforms for training (augmented) and evaluation, on 8-bit RGB PIL images."""

from __future__ import annotations

import torch
from torchvision.transforms import v2

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def train_transform(size: int) -> v2.Compose:
    """Flip, rotation, perspective warp, brightness and contrast, then a random crop."""
    return v2.Compose([
        v2.ToImage(),
        v2.RandomResizedCrop(size, scale=(0.75, 1.0), antialias=True),
        v2.RandomHorizontalFlip(),
        v2.RandomRotation(15),
        v2.RandomPerspective(distortion_scale=0.2, p=0.5),
        v2.ColorJitter(brightness=0.3, contrast=0.3),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(MEAN, STD),
    ])


def eval_transform(size: int) -> v2.Compose:
    return v2.Compose([
        v2.ToImage(),
        v2.Resize((size, size), antialias=True),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(MEAN, STD),
    ])


def denormalise(x: torch.Tensor) -> torch.Tensor:
    """A normalised image tensor back to [0, 1] for display."""
    mean, std = torch.tensor(MEAN).view(3, 1, 1), torch.tensor(STD).view(3, 1, 1)
    return (x * std + mean).clamp(0, 1)


def preview(images: list, size: int, per_image: int, seed: int = 0) -> list[torch.Tensor]:
    """`per_image` augmented versions of each image, as [0, 1] tensors, for a page to show."""
    torch.manual_seed(seed)
    transform = train_transform(size)
    return [denormalise(transform(img)) for img in images for _ in range(per_image)]
