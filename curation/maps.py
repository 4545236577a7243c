"""The 2-D map of embeddings: a UMAP layout, cached per model and set of items, and the points to draw.

Embeddings here are compared by Euclidean distance (dlib's 128-d face descriptors, 512-d image
features), so the layout is too. cuML's UMAP runs when it is installed and a CUDA device is present;
otherwise umap-learn, with settings measured by bench/umap_bench.py: 100,000 x 128 in 80-100 s on
2 shared cores, numba's compilation in a fresh process included, against 140-180 s for umap-learn's
defaults. Past `FIT_SAMPLE` points umap-learn is fitted on a random sample of that many and every
other point is placed by the fitted model's `transform`, in batches (bench/map_scale.py measures it).
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from curation.project import write_atomically

# The most points the page shows and a lasso selects among; beyond, a random million of them.
INTERACTIVE_POINTS = 1_000_000
# Up to this many the page draws every point as WebGL; past it, all of them as one picture under the chart
# with a random few thousand marked on it for hover and click (curation/ui/map.py), and a lasso or box still
# selects among every point. Plotly reselects every WebGL point on each mouse move of a lasso: all of a
# million (CPU-rendered, load ~10) took 264 s for a 48-move lasso; 50,000 24 s; and CPU-rendered Chromium
# spends ~0.5 s only starting a WebGL context (bench/map_scale.py --check, bench/pages.py).
DRAWN_POINTS = 50_000
# umap-learn is fitted on at most this many points (a minute or two on 2 cores); the rest are placed by
# the fitted model's transform, TRANSFORM_BATCH at a time (one progress message each).
FIT_SAMPLE = 50_000
TRANSFORM_BATCH = 25_000

NEIGHBOURS = 15
# Below this many points UMAP's neighbour graph is degenerate (it fails outright for a handful), and a
# map of so few points needs no manifold: they are laid out on their first two principal axes.
FEW_POINTS = 10


Progress = Callable[[int, int, str], None]


def project_2d(matrix: np.ndarray, seed: int = 0, fit_sample: int = FIT_SAMPLE, batch: int = TRANSFORM_BATCH,
               progress: Progress | None = None, cancelled: Callable[[], bool] | None = None) -> np.ndarray | None:
    """A (n, 2) float32 layout of the rows of `matrix`, the same for the same rows, seed and sample size;
    None when `cancelled` said so between two transform batches."""
    matrix = checked_embeddings(matrix)
    if len(matrix) < FEW_POINTS or not np.ptp(matrix, axis=0).any():
        return principal_axes(matrix)
    if gpu_umap_available():
        progress and progress(0, len(matrix), f"UMAP of all {len(matrix):,} points on the GPU (cuML)")
        return cuml_layout(matrix, seed)
    if len(matrix) <= fit_sample:
        return umap_learn_model(len(matrix), seed).fit_transform(matrix).astype(np.float32)
    return fit_sample_place_rest(matrix, seed, fit_sample, batch, progress or (lambda done, total, message: None),
                                 cancelled or (lambda: False))


def fit_sample_place_rest(matrix: np.ndarray, seed: int, fit_sample: int, batch: int, progress: Progress,
                          cancelled: Callable[[], bool]) -> np.ndarray | None:
    """umap-learn fitted on `fit_sample` random rows (chosen by `seed`), the other rows placed by its
    transform `batch` at a time, in row order (so the same batches, and the same layout, every run)."""
    total = len(matrix)
    fitted = display_sample(total, fit_sample, seed)
    rest = np.setdiff1d(np.arange(total), fitted, assume_unique=True)
    progress(0, total, f"Fitting UMAP on {len(fitted):,} of {total:,} points")
    reducer = umap_learn_model(len(fitted), seed)
    coords = np.empty((total, 2), dtype=np.float32)
    coords[fitted] = reducer.fit_transform(matrix[fitted])
    progress(len(fitted), total, f"Fitted on {len(fitted):,}; placing the other {len(rest):,}")
    for start in range(0, len(rest), batch):
        if cancelled():
            return None
        rows = rest[start:start + batch]
        coords[rows] = reducer.transform(matrix[rows])
        progress(len(fitted) + start + len(rows), total, f"Placed {start + len(rows):,} of {len(rest):,}")
    return coords


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


def umap_learn_model(points: int, seed: int):
    """umap-learn, tuned for 2 cores: see the module docstring of bench/umap_bench.py for the figures.

    init="pca": the spectral init costs ~30 s at 100k points and adds little to clustered embeddings.
    random_state (which makes umap-learn single-threaded, hence n_jobs=1, stated to silence its
    warning): on 2 shared cores the parallel run was no faster, and a reproducible map is worth more;
    transform_seed makes `transform` reproducible too. n_epochs stays umap-learn's own (200 above
    10,000 points, 500 below); low_memory keeps the nearest-neighbour search's memory in check.
    """
    use_numba_cache()
    import umap

    return umap.UMAP(n_neighbors=min(NEIGHBOURS, points - 1), init="pca", low_memory=True, random_state=seed,
                     transform_seed=seed, n_jobs=1)


def use_numba_cache() -> None:
    """Point numba's cache at a writable folder, unless the user chose one, so that later processes reuse
    the code umap-learn compiles (it is read when numba is first imported: call this before `import umap`)."""
    os.environ.setdefault("NUMBA_CACHE_DIR", str(Path.home() / ".cache" / "curation" / "numba"))
    Path(os.environ["NUMBA_CACHE_DIR"]).mkdir(parents=True, exist_ok=True)


def cached_layout(cache_dir: Path, model: str, keys: Sequence[int], matrix: np.ndarray, seed: int = 0,
                  **steps) -> np.ndarray | None:
    """`project_2d(matrix, seed, **steps)`, kept in `cache_dir` per model and set of keys (row i of `matrix`
    is item keys[i]); a hit returns the stored coordinates in the order of `keys`, however they were
    ordered then. None, and nothing stored, when the layout was cancelled."""
    keys = np.asarray(keys, dtype=np.int64)
    if len(keys) != len(matrix) or len(np.unique(keys)) != len(keys):
        raise ValueError(f"A map needs one distinct key per embedding: got {len(keys)} keys "
                         f"({len(np.unique(keys))} distinct) for {len(matrix)} embeddings.")
    stored = stored_layout(cache_dir, model, keys, seed)
    if stored is not None:
        return stored
    coords = project_2d(matrix, seed, **steps)
    if coords is None:
        return None
    buffer = io.BytesIO()
    np.savez(buffer, keys=keys, coords=coords)
    write_atomically(layout_path(cache_dir, model, keys, seed), buffer.getvalue(), tmp_dir=cache_dir)
    return coords


def stored_layout(cache_dir: Path, model: str, keys: Sequence[int], seed: int = 0) -> np.ndarray | None:
    """The cached layout of exactly these keys, in their order; None when it was never computed."""
    keys = np.asarray(keys, dtype=np.int64)
    return read_layout(layout_path(cache_dir, model, keys, seed), keys)


def read_layout(path: Path, keys: np.ndarray) -> np.ndarray | None:
    """The layout stored at `path` (see `layout_path`) of these keys, in their order; None when absent."""
    if not path.exists():
        return None
    with np.load(path) as stored:
        return coords_in_order(stored["keys"], stored["coords"], keys)


def layout_path(cache_dir: Path, model: str, keys: np.ndarray, seed: int) -> Path:
    digest = hashlib.sha256()
    digest.update(model.encode())
    digest.update((keys if is_sorted(keys) else np.sort(keys)).astype("<i8").tobytes())
    digest.update(str(seed).encode())
    return cache_dir / f"{re.sub(r'[^A-Za-z0-9._-]', '_', model)}-{digest.hexdigest()[:32]}.npz"


def is_sorted(keys: np.ndarray) -> bool:
    """Ascending (the page's keys come sorted: checking is 20 times cheaper than sorting a million again)."""
    return bool(np.all(keys[1:] >= keys[:-1]))


def coords_in_order(stored_keys: np.ndarray, stored_coords: np.ndarray, keys: np.ndarray) -> np.ndarray:
    order = np.argsort(stored_keys)
    return stored_coords[order[np.searchsorted(stored_keys, keys, sorter=order)]]


def display_sample(n: int, limit: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of the rows to draw: all n when n <= limit, else `limit` of them, the same for a seed."""
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def points_in_regions(xy: np.ndarray, boxes: Sequence = (), lassos: Sequence = ()) -> np.ndarray:
    """Which rows of an n x 2 array of points lie in any of the boxes ((x0, x1), (y0, y1)), corners in either
    order, edges included, or inside any lasso polygon ((xs, ys), its vertices, closed implicitly): a mask."""
    inside = np.zeros(len(xy), dtype=bool)
    for xs, ys in boxes:
        inside |= ((xy[:, 0] >= min(xs)) & (xy[:, 0] <= max(xs)) & (xy[:, 1] >= min(ys)) & (xy[:, 1] <= max(ys)))
    for xs, ys in lassos:
        inside |= in_polygon(xy, np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64))
    return inside


def in_polygon(xy: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Even-odd rule: a point is inside when a ray from it towards +x crosses the polygon's edges an odd
    number of times. Only points in the polygon's bounding box are tested, edge by edge, vectorised."""
    inside = np.zeros(len(xy), dtype=bool)
    if len(xs) < 3:
        return inside
    near = np.flatnonzero((xy[:, 0] >= xs.min()) & (xy[:, 0] <= xs.max()) & (xy[:, 1] >= ys.min())
                          & (xy[:, 1] <= ys.max()))
    px, py = xy[near, 0].astype(np.float64), xy[near, 1].astype(np.float64)
    odd = np.zeros(len(near), dtype=bool)
    for x0, y0, x1, y1 in zip(xs, ys, np.roll(xs, -1), np.roll(ys, -1)):
        if y0 == y1:
            continue  # a horizontal edge: a ray along it crosses nothing
        spans = (y0 > py) != (y1 > py)
        odd ^= spans & (px < x0 + (py - y0) * (x1 - x0) / (y1 - y0))
    inside[near] = odd
    return inside
