"""What an embedder is, and the registry of embedders by name.

An embedder turns crops into vectors. It says what one vector describes (`subject`: a detected
face or a whole image), how to cut its crops from the files a snapshot names (run in DataLoader
workers, so pure and picklable), and how to build its network, which takes a uint8 NCHW batch
(0-255) and returns one float vector per crop. Adding an embedder is one class in its own module,
which imports torch only where it builds the network: the registry (names, subjects, descriptions)
is what pages read, and torch costs a page seconds to import.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from torch import nn

EMBEDDERS: dict[str, "Embedder"] = {}


class UnknownEmbedder(KeyError):
    """A model name that no embedder is registered under."""

    def __str__(self) -> str:
        return f"No embedder is called '{self.args[0]}'; choose one of {', '.join(EMBEDDERS)}."


@dataclass(frozen=True)
class Item:
    """One unit of decoding work: the file to read and the keys (face or image ids) of the
    crops cut from it, with their boxes (x1, y1, x2, y2 in source pixels) when it is an original."""

    path: str
    keys: tuple[int, ...]
    boxes: tuple[tuple[float, float, float, float], ...] = ()


class Embedder(ABC):
    name: ClassVar[str]
    dim: ClassVar[int]
    subject: ClassVar[str] = "face"
    description: ClassVar[str] = ""
    #: The distance under which two vectors show the same identity, where the model's authors
    #: published one; None: cleaning estimates it from the project's labels.
    same_person: ClassVar[float | None] = None
    #: The snapshot column naming the file each crop is cut from ("image": the original; "chip": the face chip).
    reads: ClassVar[str] = "image"

    @abstractmethod
    def items(self, snapshot: pd.DataFrame) -> list[Item]:
        """The decoding work for a snapshot (columns: key, image, chip, x1, y1, x2, y2)."""

    @abstractmethod
    def crops(self, item: Item) -> np.ndarray:
        """uint8 crops (n, side, side, 3) for the item's keys, in the same order."""

    @abstractmethod
    def network(self, weights: str | None = None) -> nn.Module:
        """The network on the CPU in eval mode, from the weights file given or its usual place;
        raises `WeightsMissing` when there is none."""


def register(cls: type[Embedder]) -> type[Embedder]:
    EMBEDDERS[cls.name] = cls()
    return cls


def get_embedder(name: str) -> Embedder:
    if name not in EMBEDDERS:
        raise UnknownEmbedder(name)
    return EMBEDDERS[name]
