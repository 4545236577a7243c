"""`resnet34-imagenet`: torchvision's ResNet-34 with ImageNet weights, for images without faces.

One 512-d vector per usable image (the pooled features before the classifier), from the image
resized to 256 px on its short side and centre-cropped to 224, with ImageNet's normalisation.
The weights file is torchvision's own (the same file training uses).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from PIL import Image

from ..verify import load_rgb
from .base import Embedder, Item, register
from .weights import RESNET34_IMAGENET

if TYPE_CHECKING:
    from torch import nn

SIDE = 224
RESIZE = 256
MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)
STD = (0.229 * 255, 0.224 * 255, 0.225 * 255)


def centre_crop(image: Image.Image) -> Image.Image:
    scale = RESIZE / min(image.size)
    image = image.resize((max(SIDE, round(image.width * scale)), max(SIDE, round(image.height * scale))),
                         Image.Resampling.BILINEAR)
    left, top = (image.width - SIDE) // 2, (image.height - SIDE) // 2
    return image.crop((left, top, left + SIDE, top + SIDE))


@register
class Resnet34Imagenet(Embedder):
    name = "resnet34-imagenet"
    dim = 512
    subject = "image"
    description = "torchvision's ResNet-34 (ImageNet), 512-d, one vector per whole image (weights file needed)"
    weights_file = RESNET34_IMAGENET

    def items(self, snapshot: pd.DataFrame) -> list[Item]:
        return [Item(image, (int(key),)) for key, image in zip(snapshot["key"], snapshot["image"])]

    def crops(self, item: Item) -> np.ndarray:
        return np.asarray(centre_crop(load_rgb(item.path, max_side=2 * RESIZE)))[None]

    def network(self, weights: str | None = None) -> nn.Module:
        import torch
        from torch import nn
        from torchvision.models import resnet34

        from .normalised import Normalised

        net = resnet34()
        net.load_state_dict(torch.load(self.weights_file.locate(weights), map_location="cpu", weights_only=True))
        net.fc = nn.Identity()
        return Normalised(net, MEAN, STD).eval()
