"""dlib's face ResNet as a PyTorch module (the `dlib-resnet34` embedder's network): dlib's layer
stack read from its weights file, every affine layer folded into the convolution before it."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .dlib_format import DlibNetwork, LayerSpec, read_network
from .dlib_resnet import MODEL_FILE
from .normalised import Normalised
from .weights import packaged_dlib_model


def block() -> list[LayerSpec]:
    """`BN<con<N,3,3,1,1,relu<BN<con<N,3,3,stride,stride,SUBNET>>>>>`, outermost first."""
    return [LayerSpec("affine"), LayerSpec("con"), LayerSpec("relu"), LayerSpec("affine"), LayerSpec("con")]


def ares() -> list[LayerSpec]:
    """`relu<add_prev1<block<N,BN,1,tag1<SUBNET>>>>`: a residual block."""
    return [LayerSpec("relu"), LayerSpec("add_prev", 1), *block(), LayerSpec("tag", 1)]


def ares_down() -> list[LayerSpec]:
    """`relu<add_prev2<avg_pool<2,2,2,2,skip1<tag2<block<N,BN,2,tag1<SUBNET>>>>>>>`: a residual
    block that halves the resolution; its shortcut is the average-pooled input."""
    return [LayerSpec("relu"), LayerSpec("add_prev", 2), LayerSpec("avg_pool"), LayerSpec("skip", 1),
            LayerSpec("tag", 2), *block(), LayerSpec("tag", 1)]


def face_net_layers() -> list[LayerSpec]:
    """The layers of dlib's `anet_type` between `loss_metric` and `input_rgb_image_sized<150>`."""
    levels = [
        ares_down(),                       # alevel0: 256
        ares(), ares(), ares_down(),       # alevel1: 256
        ares(), ares(), ares_down(),       # alevel2: 128
        ares(), ares(), ares(), ares_down(),  # alevel3: 64
        ares(), ares(), ares(),            # alevel4: 32
    ]
    head = [LayerSpec("fc"), LayerSpec("avg_pool")]
    stem = [LayerSpec("max_pool"), LayerSpec("relu"), LayerSpec("affine"), LayerSpec("con")]
    return head + [spec for level in levels for spec in level] + stem


def conv_from(params: dict) -> nn.Conv2d:
    weight = torch.from_numpy(params["weight"])
    conv = nn.Conv2d(weight.shape[1], weight.shape[0], tuple(weight.shape[2:]), stride=params["stride"],
                     padding=params["padding"], bias=True)
    conv.weight.data.copy_(weight)
    bias = params["bias"]
    conv.bias.data.copy_(torch.from_numpy(bias) if bias is not None else torch.zeros(weight.shape[0]))
    return conv


def fold_affine(conv: nn.Conv2d, params: dict) -> None:
    """conv followed by y = gamma * x + beta per channel, as one convolution."""
    gamma, beta = torch.from_numpy(params["gamma"]), torch.from_numpy(params["beta"])
    conv.weight.data.mul_(gamma.view(-1, 1, 1, 1))
    conv.bias.data.mul_(gamma).add_(beta)


def pool_from(kind: str, params: dict) -> nn.Module:
    if params["window"] == (0, 0):
        return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
    if kind == "max_pool":
        return nn.MaxPool2d(params["window"], params["stride"], params["padding"])
    return nn.AvgPool2d(params["window"], params["stride"], params["padding"], count_include_pad=False)


def linear_from(params: dict) -> nn.Linear:
    weight = torch.from_numpy(params["weight"])
    linear = nn.Linear(weight.shape[1], weight.shape[0], bias=params["bias"] is not None)
    linear.weight.data.copy_(weight)
    if params["bias"] is not None:
        linear.bias.data.copy_(torch.from_numpy(params["bias"]))
    return linear


def pad_to(x: torch.Tensor, channels: int, height: int, width: int) -> torch.Tensor:
    return F.pad(x, (0, width - x.shape[3], 0, height - x.shape[2], 0, channels - x.shape[1]))


def add_padded(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """dlib's `add_prev`: the sum over the larger of the two shapes, each zero-padded at its ends.

    In this network it matters twice: a downsampling block's shortcut has fewer channels than
    its output (they are zero), and at 8 and 4 px the pooled shortcut is one pixel larger than
    the strided convolution (the output keeps the larger size)."""
    if a.shape == b.shape:
        return a + b
    shape = [max(x, y) for x, y in zip(a.shape[1:], b.shape[1:])]
    return pad_to(a, *shape) + pad_to(b, *shape)


class DlibNet(nn.Module):
    """A dlib layer stack run innermost first; tags remember outputs that skips and add_prev use."""

    def __init__(self, layers: list[LayerSpec]):
        super().__init__()
        self.steps: list[tuple[str, int | None]] = []
        modules: list[nn.Module] = []
        for spec in reversed(layers):
            after_conv = bool(self.steps) and self.steps[-1][0] == "module" and isinstance(modules[-1], nn.Conv2d)
            if spec.kind == "affine" and after_conv:
                fold_affine(modules[-1], spec.params)
            elif spec.kind in ("tag", "skip", "add_prev"):
                self.steps.append((spec.kind, spec.tag))
            else:
                modules.append(self._module(spec))
                self.steps.append(("module", len(modules) - 1))
        self.layers = nn.ModuleList(modules)

    @staticmethod
    def _module(spec: LayerSpec) -> nn.Module:
        if spec.kind == "con":
            return conv_from(spec.params)
        if spec.kind == "relu":
            return nn.ReLU(inplace=True)
        if spec.kind in ("max_pool", "avg_pool"):
            return pool_from(spec.kind, spec.params)
        if spec.kind == "fc":
            return nn.Sequential(nn.Flatten(), linear_from(spec.params))
        raise ValueError(f"dlib layer '{spec.kind}' is not supported here (an affine layer must follow a convolution)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tags: dict[int, torch.Tensor] = {}
        for kind, arg in self.steps:
            if kind == "module":
                x = self.layers[arg](x)
            elif kind == "tag":
                tags[arg] = x
            elif kind == "skip":
                x = tags[arg]
            else:
                x = add_padded(x, tags[arg])
        return x


def load_face_net(path=None) -> tuple[nn.Module, DlibNetwork]:
    """dlib's face ResNet as a PyTorch module taking uint8-range RGB 150 x 150 NCHW batches."""
    network = read_network(path or packaged_dlib_model(MODEL_FILE), face_net_layers())
    mean = network.input["mean"]
    return Normalised(DlibNet(network.layers), mean, (256.0, 256.0, 256.0)).eval(), network
