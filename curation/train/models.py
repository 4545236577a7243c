"""Model construction: ResNet-34 starting from ImageNet weights when they can be had.

The weights are found like the `resnet34-imagenet` embedder's (a path in
`CURATION_RESNET34_WEIGHTS`, torch's cache, or a download where the internet answers); without
them the model trains from scratch and the run says which file to put where to do better.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models import resnet34

from ..embed.weights import RESNET34_IMAGENET, WeightsMissing


def build_resnet34(num_classes: int) -> tuple[nn.Module, str]:
    """ResNet-34 with a new `num_classes` head; and a sentence saying which weights it starts from."""
    model = resnet34()
    try:
        path = RESNET34_IMAGENET.locate()
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        note = f"ImageNet weights from {path}"
    except WeightsMissing as exc:
        note = f"trained from scratch: {exc}"
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model, note


