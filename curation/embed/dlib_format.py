"""Reader of dlib's serialised DNN files (`dlib::serialize` of a `loss_*<...>` network).

The format (dlib/serialize.h, dlib/dnn/core.h, layers.h, tensor.h, input.h):
- an integer is a control byte (low nibble: byte count, 0x80: negative) and that many bytes,
  little-endian; a float is two integers, mantissa and exponent (value = m * 2**e; dlib's
  `float_details`); a string is its length then its bytes; a bool is the character '0' or '1';
- a tensor (version 2) is n, k, nr, nc then n*k*nr*nc raw little-endian float32 values;
- a network is written outside in: the loss layer (version, details), then each layer's version
  down to the input layer, then, from the innermost layer out, each layer's details followed by
  its state (three bools and two or three tensors, empty in a saved model).

Tag and skip layers write only a version, so which tag a skip or an `add_prev` refers to is not
in the file: the caller gives the network's shape (`LayerSpec` list, outermost first, the C++
type read left to right) and the reader checks that the file matches it and fills in the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


class DlibFormatError(ValueError):
    """The file is not the dlib network it should be, with where and why."""


@dataclass
class LayerSpec:
    """One layer of the network as its C++ type names it: `kind` and, for tags, skips and
    `add_prev`, the tag number. The reader fills `params` (arrays and hyper-parameters)."""

    kind: str
    tag: int | None = None
    params: dict = field(default_factory=dict)


WRAPPERS = ("tag", "skip")


class Reader:
    """A cursor over the bytes of a dlib file, reading dlib's primitive encodings."""

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def fail(self, what: str) -> DlibFormatError:
        return DlibFormatError(f"{what} at byte {self.pos}")

    def int(self) -> int:
        if self.pos >= len(self.data):
            raise self.fail("Unexpected end of file")
        control = self.data[self.pos]
        size = control & 0x0F
        if size == 0 or size > 8 or control & 0x70:
            raise self.fail(f"Bad integer control byte {control:#04x}")
        value = int.from_bytes(self.data[self.pos + 1:self.pos + 1 + size], "little")
        self.pos += 1 + size
        return -value if control & 0x80 else value

    def float(self) -> float:
        mantissa, exponent = self.int(), self.int()
        if exponent >= 32000:
            return {32000: float("inf"), 32001: float("-inf")}.get(exponent, float("nan"))
        return float(np.ldexp(float(mantissa), exponent))

    def string(self) -> str:
        size = self.int()
        text = self.data[self.pos:self.pos + size]
        self.pos += size
        return text.decode("latin-1")

    def bool(self) -> bool:
        char = self.data[self.pos:self.pos + 1]
        if char not in (b"0", b"1"):
            raise self.fail(f"Bad bool {char!r}")
        self.pos += 1
        return char == b"1"

    def tensor(self) -> np.ndarray:
        version = self.int()
        if version != 2:
            raise self.fail(f"Tensor version {version} (only version 2, raw float32, is read)")
        shape = tuple(self.int() for _ in range(4))
        count = int(np.prod(shape))
        end = self.pos + 4 * count
        if end > len(self.data):
            raise self.fail("Tensor runs past the end of the file")
        values = np.frombuffer(self.data, dtype="<f4", count=count, offset=self.pos).astype(np.float32)
        self.pos = end
        return values.reshape(shape)

    def alias_tensor(self) -> tuple[int, int, int, int]:
        if (version := self.int()) != 1:
            raise self.fail(f"Alias tensor version {version}")
        return tuple(self.int() for _ in range(4))

    def expect(self, name: str, allowed: tuple[str, ...]) -> str:
        if name not in allowed:
            raise self.fail(f"Expected {' or '.join(allowed)}, found {name!r}")
        return name


def read_con(r: Reader, version: str) -> dict:
    params = r.tensor().ravel()
    num_filters, nr, nc = r.int(), r.int(), r.int()
    stride, padding = (r.int(), r.int()), (r.int(), r.int())
    filters, _biases = r.alias_tensor(), r.alias_tensor()
    for _ in range(4):
        r.float()  # learning-rate and weight-decay multipliers: training only
    use_bias = r.bool() if version == "con_5" else True
    n_weights = int(np.prod(filters))
    weight = params[:n_weights].reshape(filters)
    if weight.shape[0] != num_filters or weight.shape[2:] != (nr, nc):
        raise r.fail(f"Convolution filters {weight.shape} disagree with {num_filters} x {nr} x {nc}")
    bias = params[n_weights:n_weights + num_filters] if use_bias else None
    return {"weight": weight, "bias": bias, "stride": stride, "padding": padding}


def read_affine(r: Reader, version: str) -> dict:
    params = r.tensor().ravel()
    gamma_shape, _beta_shape = r.alias_tensor(), r.alias_tensor()
    if r.int() != 0:
        raise r.fail("Affine layer in fully-connected mode (only the per-channel, convolutional mode is read)")
    n = int(np.prod(gamma_shape))
    return {"gamma": params[:n], "beta": params[n:2 * n]}


def read_pool(r: Reader, version: str) -> dict:
    nr, nc = r.int(), r.int()
    stride, padding = (r.int(), r.int()), (r.int(), r.int())
    return {"window": (nr, nc), "stride": stride, "padding": padding}


def read_fc(r: Reader, version: str) -> dict:
    num_outputs, num_inputs = r.int(), r.int()
    params = r.tensor().ravel()
    _weights, _biases = r.alias_tensor(), r.alias_tensor()
    has_bias = r.int() == 0
    for _ in range(4):
        r.float()
    # dlib computes output = input x W with W stored as (inputs, outputs), row-major.
    weight = params[:num_inputs * num_outputs].reshape(num_inputs, num_outputs).T.copy()
    bias = params[num_inputs * num_outputs:][:num_outputs] if has_bias else None
    return {"weight": weight, "bias": bias}


def read_nothing(r: Reader, version: str) -> dict:
    return {}


DETAILS = {
    "con": (("con_4", "con_5"), read_con),
    "affine": (("affine_",), read_affine),
    "relu": (("relu_",), read_nothing),
    "max_pool": (("max_pool_2",), read_pool),
    "avg_pool": (("avg_pool_2",), read_pool),
    "add_prev": (("add_prev_",), read_nothing),
    "fc": (("fc_2",), read_fc),
}


def read_input_rgb(r: Reader) -> dict:
    r.expect(r.string(), ("input_rgb_image_sized",))
    mean = (r.float(), r.float(), r.float())
    size = (r.int(), r.int())
    return {"mean": mean, "size": size}


def read_loss_metric(r: Reader) -> dict:
    r.expect(r.string(), ("loss_metric_", "loss_metric_2"))
    return {"margin": r.float(), "distance_threshold": r.float()}


@dataclass
class DlibNetwork:
    loss: dict
    input: dict
    layers: list[LayerSpec]  # outermost first


def read_network(path: str | Path, layers: list[LayerSpec]) -> DlibNetwork:
    """Read a `loss_metric<...<input_rgb_image_sized>>` network of the shape `layers` describes.

    `layers` lists the layers between the loss and the input layer, outermost first, with the
    innermost a `con`. Their `params` are filled in place.
    """
    r = Reader(Path(path).read_bytes())
    if (version := r.int()) != 1:
        raise r.fail(f"Loss layer version {version}")
    loss = read_loss_metric(r)
    for spec in layers[:-1]:
        check_version(r, spec, (1,) if spec.kind in WRAPPERS else (2,))
    innermost_version = check_version(r, layers[-1], (2, 3))
    inputs = read_input_rgb(r)
    read_layer(r, layers[-1])
    for _ in range(3):
        r.tensor()  # x_grad, cached_output, grad_final
    if innermost_version == 3:
        r.int()  # sample expansion factor
    for spec in reversed(layers[:-1]):
        if spec.kind not in WRAPPERS:
            read_layer(r, spec)
            for _ in range(3):
                r.tensor()  # x_grad, cached_output, params_grad
    if r.pos != len(r.data):
        raise r.fail(f"{len(r.data) - r.pos} bytes left over")
    return DlibNetwork(loss, inputs, layers)


def check_version(r: Reader, spec: LayerSpec, wanted: tuple[int, ...]) -> int:
    version = r.int()
    if version not in wanted:
        raise r.fail(f"Layer '{spec.kind}' has version {version}, not {wanted}: this is not the expected network")
    return version


def read_layer(r: Reader, spec: LayerSpec) -> None:
    """One computational layer's details, then the three state bools of its `add_layer`."""
    versions, read = DETAILS[spec.kind]
    spec.params = read(r, r.expect(r.string(), versions))
    for _ in range(3):
        r.bool()
