"""Synthetic faces for the map's tests: bench/map_scale.py's project, with a layout stored where the
map job would store it (the first two principal axes: the page's tests are about drawing, not UMAP)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from apptest import ROOT
from curation import maps
from curation.map_run import maps_dir
from curation.store import open_store

MODEL = "dlib-resnet34"


def map_scale():
    """bench/map_scale.py as a module (bench/ is not a package)."""
    spec = importlib.util.spec_from_file_location("bench_map_scale", ROOT / "bench" / "map_scale.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def mapped_faces(root: Path, faces: int, identities: int) -> Path:
    """A project of `faces` faces of `identities` people, its map already laid out."""
    map_scale().build_project(root, faces, identities)
    store = open_store(root)
    try:
        keys, matrix = store.map_vectors(MODEL, "face")
        maps_dir(store).mkdir(exist_ok=True)
        np.savez(maps.layout_path(maps_dir(store), MODEL, keys, 0), keys=keys, coords=maps.principal_axes(matrix))
    finally:
        store.close()
    return root
