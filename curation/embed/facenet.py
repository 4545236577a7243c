"""`facenet-vggface2`, `facenet-casia`: facenet-pytorch's InceptionResnetV1, 512-d, L2-normalised.

Crops follow facenet-pytorch's LFW evaluation: the MTCNN box widened by a 14 px margin (in the
160 px output), clamped to the image, resized to 160 x 160, standardised as (x - 127.5) / 128.
The weights are not in the package: `weights.py` finds them (the path given, torch's cache, or a
download) or says which file to put where.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from PIL import Image

from ..verify import load_rgb
from .base import Embedder, Item, register
from .weights import WeightsFile

if TYPE_CHECKING:
    from torch import nn

SIDE = 160
MARGIN = 14
RELEASES = "https://github.com/timesler/facenet-pytorch/releases/download/v2.2.9"


def margin_box(box, width: int, height: int) -> tuple[int, int, int, int]:
    """facenet-pytorch's `extract_face` box: widened by MARGIN output pixels, clamped to the image."""
    x1, y1, x2, y2 = box
    mx, my = MARGIN * (x2 - x1) / (SIDE - MARGIN), MARGIN * (y2 - y1) / (SIDE - MARGIN)
    return (int(max(x1 - mx / 2, 0)), int(max(y1 - my / 2, 0)),
            int(min(x2 + mx / 2, width)), int(min(y2 + my / 2, height)))


class Facenet(Embedder):
    """The released state dicts also hold the training classifier (`logits`), which is dropped."""

    dim = 512
    weights_file: WeightsFile

    def items(self, snapshot: pd.DataFrame) -> list[Item]:
        """One item per image, so an image with several faces is decoded once."""
        items = []
        for image, group in snapshot.groupby("image", sort=False):
            boxes = tuple(tuple(map(float, b)) for b in group[["x1", "y1", "x2", "y2"]].to_numpy())
            items.append(Item(image, tuple(int(k) for k in group["key"]), boxes))
        return items

    def crops(self, item: Item) -> np.ndarray:
        image = load_rgb(item.path)
        crops = [image.crop(margin_box(box, *image.size)).resize((SIDE, SIDE), Image.Resampling.BILINEAR)
                 for box in item.boxes]
        return np.stack([np.asarray(crop) for crop in crops])

    def network(self, weights: str | None = None) -> nn.Module:
        import torch
        from facenet_pytorch import InceptionResnetV1

        from .normalised import Normalised

        state = torch.load(self.weights_file.locate(weights), map_location="cpu", weights_only=True)
        net = InceptionResnetV1()
        net.load_state_dict({k: v for k, v in state.items() if not k.startswith("logits.")})
        return Normalised(net, (127.5,) * 3, (128.0,) * 3).eval()


@register
class FacenetVggface2(Facenet):
    name = "facenet-vggface2"
    description = "facenet-pytorch's InceptionResnetV1 trained on VGGFace2, 512-d (weights file needed)"
    weights_file = WeightsFile("20180402-114759-vggface2.pt", f"{RELEASES}/20180402-114759-vggface2.pt",
                               "CURATION_FACENET_VGGFACE2_WEIGHTS")


@register
class FacenetCasia(Facenet):
    name = "facenet-casia"
    description = "facenet-pytorch's InceptionResnetV1 trained on CASIA-WebFace, 512-d (weights file needed)"
    weights_file = WeightsFile("20180408-102900-casia-webface.pt", f"{RELEASES}/20180408-102900-casia-webface.pt",
                               "CURATION_FACENET_CASIA_WEIGHTS")
