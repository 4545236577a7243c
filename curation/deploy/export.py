"""A run's model as networks that ONNX Runtime can serve: each returns (features, logits).

`features` is what the out-of-domain gate measures distances on: for a `linear` run on dlib face
embeddings, the 128-d embedding; for a ResNet-34 run, each stage's pooled output (ResnetWithFeatures).

- `resnet34` runs: the whole network, fed the image as the training worker's evaluation transform
  leaves it (float32 NCHW, ImageNet-normalised).
- `linear` runs on `dlib-resnet34`: dlib's face ResNet and the run's head in one graph, fed the
  aligned 150 x 150 chip as uint8 NCHW (normalisation is inside the graph). Detection (MTCNN) and
  the landmarks and alignment that cut the chip stay in Python (`predict.FacePipeline`).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn
from torchvision.models import resnet34

FACE_EMBEDDERS = ("dlib-resnet34",)
CHIP_SIDE = 150


class BundleError(RuntimeError):
    """A bundle that cannot be made, with a sentence that says why."""


class ResnetWithFeatures(nn.Module):
    """ResNet-34 returning, besides its logits, the spatial mean and standard deviation of each
    channel after the stem and after each of the four stages, each vector L2-normalised,
    concatenated (2 x (64 + 64 + 128 + 256 + 512) = 2048-d).

    The last stage alone describes what the classifier learnt to separate; the earlier ones
    describe colour and texture, which tell a photograph from a drawing even when the classifier
    never saw one. Measured on a ResNet-34 trained 2 epochs on the sample shapes (32 px, 23%
    validation accuracy), AUROC of 25 lfw10 faces against the shapes' 65 validation images, kNN /
    Mahalanobis: last stage's mean 0.675 / 0.663; every stage's mean 0.834 / 0.936; every stage's
    mean and deviation 0.901 / 0.969."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.stem = nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool)
        self.stages = nn.ModuleList([model.layer1, model.layer2, model.layer3, model.layer4])
        self.fc = model.fc

    def forward(self, x):
        x = self.stem(x)
        pooled = channel_statistics(x)
        for stage in self.stages:
            x = stage(x)
            pooled += channel_statistics(x)
        return torch.cat(pooled, 1), self.fc(x.mean((2, 3)))


def channel_statistics(x: torch.Tensor) -> list[torch.Tensor]:
    mean = x.mean((2, 3))
    deviation = (x - mean[:, :, None, None]).pow(2).mean((2, 3)).sqrt()
    return [v / v.norm(dim=1, keepdim=True).clamp_min(1e-12) for v in (mean, deviation)]


class FaceHead(nn.Module):
    """Embedder then the run's logistic head on the L2-normalised embedding (as `fit_linear` trained it)."""

    def __init__(self, embedder: nn.Module, head: nn.Linear):
        super().__init__()
        self.embedder, self.head = embedder, head

    def forward(self, chips):
        embedding = self.embedder(chips)
        unit = embedding / embedding.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return embedding, self.head(unit)


def load_run_model(model_file: Path) -> tuple[nn.Module, dict, torch.Tensor]:
    """The run's network with its (features, logits) outputs, its saved record, and an example input."""
    saved = torch.load(model_file, map_location="cpu", weights_only=False)
    params, classes = saved["params"], saved["classes"]
    if saved["arch"] == "resnet34":
        model = resnet34()
        model.fc = nn.Linear(model.fc.in_features, len(classes))
        model.load_state_dict(saved["state_dict"])
        size = params["image_size"]
        return ResnetWithFeatures(model).eval(), saved, torch.zeros(1, 3, size, size)
    embedder = params.get("embedder")
    if embedder not in FACE_EMBEDDERS:
        raise BundleError(f"A bundle of a linear run on {embedder} embeddings cannot be made yet: only "
                          f"{', '.join(FACE_EMBEDDERS)} (face) and resnet34 runs are bundled.")
    from ..embed.dlib_net import load_face_net

    head = nn.Linear(saved["state_dict"]["weight"].shape[1], len(classes))
    head.load_state_dict(saved["state_dict"])
    return FaceHead(load_face_net()[0], head).eval(), saved, torch.zeros(1, 3, CHIP_SIDE, CHIP_SIDE, dtype=torch.uint8)


def export_onnx(model: nn.Module, example: torch.Tensor, path: Path) -> None:
    """Export with a dynamic batch; inputs named `input`, outputs `features` and `logits`."""
    axes = {"input": {0: "batch"}, "features": {0: "batch"}, "logits": {0: "batch"}}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (example,), str(path), input_names=["input"], output_names=["features", "logits"],
                          dynamic_axes=axes, opset_version=17, dynamo=False)


def export_torchscript(model: nn.Module, example: torch.Tensor, path: Path) -> None:
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.jit.trace(model, example).save(str(path))
