"""Embedders registered by name (DESIGN.md): `dlib-resnet34` (the default; works offline),
`facenet-vggface2`, `facenet-casia`, `resnet34-imagenet`, `hog` (whole images, no weights file);
and batched inference over crops."""

from . import dlib_resnet, facenet, imagenet, hog  # noqa: F401  (each registers its embedders, listed in this order)
from .base import EMBEDDERS, Embedder, Item, UnknownEmbedder, get_embedder
from .weights import WeightsMissing

DEFAULT_EMBEDDER = dlib_resnet.DlibResnet34.name

__all__ = ["DEFAULT_EMBEDDER", "EMBEDDERS", "Embedder", "Item", "UnknownEmbedder", "WeightsMissing", "get_embedder"]
