"""The 2-D map of embeddings: a UMAP layout, cached per model and set of items, and the points to draw.

Embeddings here are compared by Euclidean distance (dlib's 128-d face descriptors, 512-d image
features), so the layout is too. cuML's UMAP runs when it is installed and a CUDA device is present;
otherwise umap-learn, with settings measured by bench/umap_bench.py: 100,000 x 128 in 80-100 s on
2 shared cores, numba's compilation in a fresh process included, against 140-180 s for umap-learn's
defaults.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from curation.project import write_atomically

# plotly's WebGL scatter still pans and hovers smoothly at ~50k points; beyond, the payload sent to
# the browser (several MB of JSON per rerun) and the redraws make the page lag.
INTERACTIVE_POINTS = 50_000

NEIGHBOURS = 15
# Below this many points UMAP's neighbour graph is degenerate (it fails outright for a handful), and a
# map of so few points needs no manifold: they are laid out on their first two principal axes.
FEW_POINTS = 10


def project_2d(matrix: np.ndarray, seed: int = 0) -> np.ndarray:
    """A (n, 2) float32 layout of the rows of `matrix`, the same for the same rows and seed."""
    matrix = checked_embeddings(matrix)
    if len(matrix) < FEW_POINTS or not np.ptp(matrix, axis=0).any():
        return principal_axes(matrix)
    if gpu_umap_available():
        return cuml_layout(matrix, seed)
    return umap_learn_layout(matrix, seed)


def checked_embeddings(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    if matrix.ndim != 2:
        raise ValueError(f"A map needs a 2-D matrix of embeddings (one row per item), not shape {matrix.shape}.")
    bad = int((~np.isfinite(matrix)).any(axis=1).sum())
    if bad:
        raise ValueError(f"{bad} of {len(matrix)} embeddings contain NaN or infinite values, so they cannot be "
                         "placed on a map: re-embed those items or leave them out.")
    return matrix


def principal_axes(matrix: np.ndarray) -> np.ndarray:
    """Coordinates on the first two principal axes; all zeros when the rows are all equal."""
    if len(matrix) < 2:
        return np.zeros((len(matrix), 2), dtype=np.float32)
    centred = matrix - matrix.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    coords = np.zeros((len(matrix), 2), dtype=np.float32)
    axes = min(2, len(s))
    coords[:, :axes] = u[:, :axes] * s[:axes]
    return coords


def gpu_umap_available() -> bool:
    if importlib.util.find_spec("cuml") is None:
        return False
    import torch

    return torch.cuda.is_available()


def cuml_layout(matrix: np.ndarray, seed: int) -> np.ndarray:
    from cuml.manifold import UMAP

    reducer = UMAP(n_neighbors=min(NEIGHBOURS, len(matrix) - 1), random_state=seed, output_type="numpy")
    return np.asarray(reducer.fit_transform(matrix), dtype=np.float32)


def umap_learn_layout(matrix: np.ndarray, seed: int) -> np.ndarray:
    """umap-learn, tuned for 2 cores: see the module docstring of bench/umap_bench.py for the figures.

    init="pca": the spectral init costs ~30 s at 100k points and adds little to clustered embeddings.
    random_state (which makes umap-learn single-threaded, hence n_jobs=1, stated to silence its
    warning): on 2 shared cores the parallel run was no faster, and a reproducible map is worth more.
    n_epochs stays umap-learn's own (200 above 10,000 points, 500 below); low_memory keeps the
    nearest-neighbour search's memory in check in a process that also serves pages.
    """
    use_numba_cache()
    import umap

    reducer = umap.UMAP(n_neighbors=min(NEIGHBOURS, len(matrix) - 1), init="pca", low_memory=True,
                        random_state=seed, n_jobs=1)
    return reducer.fit_transform(matrix).astype(np.float32)


def use_numba_cache() -> None:
    """Point numba's cache at a writable folder, unless the user chose one, so that later processes reuse
    the code umap-learn compiles (it is read when numba is first imported: call this before `import umap`)."""
    os.environ.setdefault("NUMBA_CACHE_DIR", str(Path.home() / ".cache" / "curation" / "numba"))
    Path(os.environ["NUMBA_CACHE_DIR"]).mkdir(parents=True, exist_ok=True)


def cached_layout(cache_dir: Path, model: str, keys: Sequence[int], matrix: np.ndarray, seed: int = 0) -> np.ndarray:
    """`project_2d(matrix, seed)`, kept in `cache_dir` per model and set of keys (row i of `matrix` is item
    keys[i]); a hit returns the stored coordinates in the order of `keys`, however they were ordered then."""
    keys = np.asarray(keys, dtype=np.int64)
    if len(keys) != len(matrix) or len(np.unique(keys)) != len(keys):
        raise ValueError(f"A map needs one distinct key per embedding: got {len(keys)} keys "
                         f"({len(np.unique(keys))} distinct) for {len(matrix)} embeddings.")
    stored = stored_layout(cache_dir, model, keys, seed)
    if stored is not None:
        return stored
    coords = project_2d(matrix, seed)
    buffer = io.BytesIO()
    np.savez(buffer, keys=keys, coords=coords)
    write_atomically(layout_path(cache_dir, model, keys, seed), buffer.getvalue(), tmp_dir=cache_dir)
    return coords


def stored_layout(cache_dir: Path, model: str, keys: Sequence[int], seed: int = 0) -> np.ndarray | None:
    """The cached layout of exactly these keys, in their order; None when it was never computed."""
    keys = np.asarray(keys, dtype=np.int64)
    path = layout_path(cache_dir, model, keys, seed)
    if not path.exists():
        return None
    with np.load(path) as stored:
        return coords_in_order(stored["keys"], stored["coords"], keys)


def layout_path(cache_dir: Path, model: str, keys: np.ndarray, seed: int) -> Path:
    digest = hashlib.sha256()
    digest.update(model.encode())
    digest.update(np.sort(keys).astype("<i8").tobytes())
    digest.update(str(seed).encode())
    return cache_dir / f"{re.sub(r'[^A-Za-z0-9._-]', '_', model)}-{digest.hexdigest()[:32]}.npz"


def coords_in_order(stored_keys: np.ndarray, stored_coords: np.ndarray, keys: np.ndarray) -> np.ndarray:
    order = np.argsort(stored_keys)
    return stored_coords[order[np.searchsorted(stored_keys, keys, sorter=order)]]


def display_sample(n: int, limit: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of the rows to draw: all n when n <= limit, else `limit` of them, the same for a seed."""
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))
