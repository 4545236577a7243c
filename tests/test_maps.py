"""The 2-D map: UMAP layouts of small clustered sets, the layout cache, tiny sets, the display sample.

umap-learn compiles with numba on its first fit in a process (up to a minute), so the fits are few:
one module-scoped layout, one module-scoped fit on a sample with the rest placed by transform, and one
more of each (fast once compiled) for determinism.
"""

from __future__ import annotations

import io
import time

import numpy as np
import pytest

from curation import maps

CLUSTERS = 4
PER_CLUSTER = 75
DUPLICATES = 20


def clustered_points(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """4 well-separated 16-d clusters, with some rows repeated exactly (as re-ingested images are)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((CLUSTERS, 16)) * 5
    labels = np.repeat(np.arange(CLUSTERS), PER_CLUSTER)
    points = (centres[labels] + rng.standard_normal((len(labels), 16))).astype(np.float32)
    repeated = rng.choice(len(points), DUPLICATES, replace=False)
    return np.vstack([points, points[repeated]]), np.concatenate([labels, labels[repeated]])


def knn_accuracy(coords: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    """Share of points whose k nearest 2-D neighbours mostly share their label."""
    distances = np.linalg.norm(coords[:, None] - coords[None], axis=-1)
    np.fill_diagonal(distances, np.inf)
    neighbours = np.argsort(distances, axis=1)[:, :k]
    return float(np.mean((labels[neighbours] == labels[:, None]).mean(axis=1) > 0.5))


@pytest.fixture(scope="module")
def clustered():
    points, labels = clustered_points()
    return points, labels, maps.project_2d(points, seed=3)


def test_layout_is_n_by_2_float32(clustered):
    points, _, coords = clustered
    assert coords.shape == (len(points), 2)
    assert coords.dtype == np.float32
    assert np.isfinite(coords).all()


def test_clusters_stay_apart_in_2d(clustered):
    _, labels, coords = clustered
    assert knn_accuracy(coords, labels) > 0.9


def test_same_seed_same_layout(clustered):
    points, _, coords = clustered
    np.testing.assert_array_equal(maps.project_2d(points, seed=3), coords)


@pytest.mark.parametrize("n", [0, 1, 2, 5])
def test_tiny_sets_get_a_layout(n):
    points = np.random.default_rng(n).standard_normal((n, 128)).astype(np.float32)
    coords = maps.project_2d(points)
    assert coords.shape == (n, 2) and coords.dtype == np.float32
    assert np.isfinite(coords).all()
    if n >= 2:
        assert len(np.unique(coords, axis=0)) == n


def test_identical_rows_share_one_point():
    coords = maps.project_2d(np.ones((40, 8), dtype=np.float32))
    assert coords.shape == (40, 2)
    assert np.isfinite(coords).all() and len(np.unique(coords, axis=0)) == 1


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_embeddings_are_refused(bad):
    points = np.zeros((30, 4), dtype=np.float32)
    points[7, 2] = bad
    with pytest.raises(ValueError, match="1 of 30 embeddings contain NaN"):
        maps.project_2d(points)


def fake_projection(calls: list[int]):
    """A stand-in for project_2d that counts its calls and gives each row its own coordinates."""
    def project(matrix, seed=0):
        calls.append(seed)
        return np.column_stack([matrix[:, 0], matrix[:, 0] * 2 + seed]).astype(np.float32)
    return project


def test_cache_hit_returns_stored_coords_in_callers_order(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(maps, "project_2d", fake_projection(calls))
    keys = [30, 10, 20]
    matrix = np.array([[3.0], [1.0], [2.0]], dtype=np.float32)
    first = maps.cached_layout(tmp_path, "dlib-resnet34", keys, matrix)
    again = maps.cached_layout(tmp_path, "dlib-resnet34", keys, matrix)
    reordered = maps.cached_layout(tmp_path, "dlib-resnet34", [10, 20, 30], matrix[[1, 2, 0]])
    assert len(calls) == 1
    np.testing.assert_array_equal(again, first)
    np.testing.assert_array_equal(reordered, first[[1, 2, 0]])
    assert [p.suffix for p in tmp_path.iterdir()] == [".npz"]


def test_cache_is_per_model_key_set_and_seed(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(maps, "project_2d", fake_projection(calls))
    matrix = np.arange(6, dtype=np.float32).reshape(3, 2)
    maps.cached_layout(tmp_path, "dlib-resnet34", [1, 2, 3], matrix)
    maps.cached_layout(tmp_path, "resnet34-imagenet", [1, 2, 3], matrix)
    maps.cached_layout(tmp_path, "dlib-resnet34", [1, 2, 4], matrix)
    maps.cached_layout(tmp_path, "dlib-resnet34", [1, 2, 3], matrix, seed=1)
    assert len(calls) == 4
    assert len(list(tmp_path.glob("*.npz"))) == 4


def test_cache_refuses_keys_that_do_not_match_rows(tmp_path):
    with pytest.raises(ValueError, match="one distinct key per embedding"):
        maps.cached_layout(tmp_path, "m", [1, 1, 2], np.zeros((3, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="one distinct key per embedding"):
        maps.cached_layout(tmp_path, "m", [1, 2], np.zeros((3, 2), dtype=np.float32))


def test_numba_cache_defaults_to_a_created_folder_in_home(tmp_path, monkeypatch):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    maps.use_numba_cache()
    expected = tmp_path / ".cache" / "curation" / "numba"
    assert maps.os.environ["NUMBA_CACHE_DIR"] == str(expected) and expected.is_dir()


def test_numba_cache_keeps_the_users_choice(tmp_path, monkeypatch):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "mine"))
    maps.use_numba_cache()
    assert maps.os.environ["NUMBA_CACHE_DIR"] == str(tmp_path / "mine")


def test_display_sample_keeps_everything_up_to_the_limit():
    np.testing.assert_array_equal(maps.display_sample(500, 500), np.arange(500))


def test_display_sample_is_sorted_distinct_and_repeatable():
    sample = maps.display_sample(100_000, 50_000, seed=4)
    assert len(sample) == 50_000 == len(np.unique(sample))
    assert np.all(np.diff(sample) > 0) and sample[0] >= 0 and sample[-1] < 100_000
    np.testing.assert_array_equal(sample, maps.display_sample(100_000, 50_000, seed=4))
    assert not np.array_equal(sample, maps.display_sample(100_000, 50_000, seed=5))


SQUARE = ([0, 4, 4, 0], [0, 0, 4, 4])
L_SHAPE = ([0, 4, 4, 2, 2, 0], [0, 0, 2, 2, 4, 4])  # the square without its top right quarter


def test_a_square_lasso_holds_exactly_the_points_inside_it():
    xy = np.array([[1, 1], [3, 3], [2, 0.5], [5, 1], [-1, 2], [2, 5], [2, -0.1]], dtype=np.float64)
    assert maps.points_in_regions(xy, lassos=[SQUARE]).tolist() == [True, True, True] + [False] * 4


def test_a_concave_lasso_leaves_out_its_notch_and_the_points_beyond_its_far_side():
    xy = np.array([[1, 1], [3, 1], [1, 3], [3, 3], [3.9, 3.9], [5, 1], [5, 3], [-3, 3]], dtype=np.float64)
    # (3, 3) is in the L's bounding box but in its notch; (5, 1) and (-3, 3) lie on a ray across the L
    assert maps.points_in_regions(xy, lassos=[L_SHAPE]).tolist() == [True, True, True] + [False] * 5


def test_several_boxes_and_lassos_select_their_union_and_box_corners_come_in_any_order():
    xy = np.array([[1, 1], [3, 3], [11, 11], [21, 1], [50, 50], [10, 10]], dtype=np.float64)
    boxes = [([12, 10], [12, 10]), ([20, 22], [2, 0])]
    assert maps.points_in_regions(xy, boxes, [L_SHAPE]).tolist() == [True, False, True, True, False, True]
    assert not maps.points_in_regions(xy).any()
    assert not maps.points_in_regions(xy, lassos=[([0, 1], [0, 1])]).any()  # two vertices enclose nothing


def slow_in_polygon(x: float, y: float, xs: list[float], ys: list[float]) -> bool:
    """The even-odd rule for one point, edge by edge, in plain Python."""
    inside = False
    for i in range(len(xs)):
        x0, y0, x1, y1 = xs[i], ys[i], xs[(i + 1) % len(xs)], ys[(i + 1) % len(xs)]
        if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
            inside = not inside
    return inside


def test_lassos_agree_with_a_point_by_point_reference_on_random_polygons():
    rng = np.random.default_rng(7)
    xy = rng.uniform(-1, 11, size=(2_000, 2))
    for _ in range(20):
        # a star-shaped, often concave polygon like a hand-drawn lasso, with a random centre and radii
        corners = int(rng.integers(3, 40))
        angles = np.sort(rng.uniform(0, 2 * np.pi, corners))
        radii = rng.uniform(0.5, 5, corners)
        centre = rng.uniform(2, 8, 2)
        xs, ys = (centre[0] + radii * np.cos(angles)).tolist(), (centre[1] + radii * np.sin(angles)).tolist()
        expected = [slow_in_polygon(x, y, xs, ys) for x, y in xy]
        assert maps.points_in_regions(xy, lassos=[(xs, ys)]).tolist() == expected
        assert 0 < sum(expected) < len(xy)


FIT_SAMPLE, BATCH = 200, 50  # 120 of the 320 points placed by transform, in 3 batches


@pytest.fixture(scope="module")
def placed():
    """The clustered points laid out by a fit on 200 of them and transform for the rest, with its progress."""
    points, labels = clustered_points()
    steps = []
    coords = maps.project_2d(points, seed=3, fit_sample=FIT_SAMPLE, batch=BATCH,
                             progress=lambda done, total, message: steps.append((done, total, message)))
    return points, labels, coords, steps


def test_past_the_sample_every_point_is_placed(placed):
    points, labels, coords, _ = placed
    assert coords.shape == (len(points), 2) and coords.dtype == np.float32
    assert np.isfinite(coords).all()
    assert knn_accuracy(coords, labels) > 0.9
    fitted = maps.display_sample(len(points), FIT_SAMPLE, 3)
    placed_only = np.setdiff1d(np.arange(len(points)), fitted)
    assert knn_accuracy(coords[placed_only], labels[placed_only]) > 0.9


def test_placing_reports_each_batch(placed):
    points, _, _, steps = placed
    rest = len(points) - FIT_SAMPLE
    assert [done for done, _, _ in steps] == [0, FIT_SAMPLE, FIT_SAMPLE + BATCH, FIT_SAMPLE + 2 * BATCH, len(points)]
    assert {total for _, total, _ in steps} == {len(points)}
    assert steps[-1][2] == f"Placed {rest} of {rest}"


def test_same_seed_same_placed_layout(placed):
    points, _, coords, _ = placed
    np.testing.assert_array_equal(maps.project_2d(points, seed=3, fit_sample=FIT_SAMPLE, batch=BATCH), coords)


def test_a_cancel_between_batches_stores_nothing(tmp_path):
    points, _ = clustered_points()
    checks = []

    def cancelled():
        checks.append(1)
        return len(checks) > 1

    coords = maps.cached_layout(tmp_path, "dlib-resnet34", np.arange(len(points)), points, fit_sample=FIT_SAMPLE,
                                batch=BATCH, cancelled=cancelled)
    assert coords is None and len(checks) == 2
    assert not list(tmp_path.iterdir())


def test_the_job_default_sample_is_the_librarys():
    from curation.jobs.kinds import MapParams

    assert MapParams().sample == maps.FIT_SAMPLE


def test_the_pages_density_is_kept_per_layout_file_and_a_new_layout_replaces_it(tmp_path):
    from curation.project import write_atomically
    from curation.ui.map import density, layout_density, layout_version

    keys = np.arange(30_000, dtype=np.int64)
    path = maps.layout_path(tmp_path, "m", keys, 0)

    def lay_out(coords: np.ndarray) -> tuple:
        buffer = io.BytesIO()
        np.savez(buffer, keys=keys, coords=coords)
        write_atomically(path, buffer.getvalue(), tmp_dir=tmp_path)
        return layout_version(path)

    rng = np.random.default_rng(0)
    first, second = rng.normal(size=(len(keys), 2)).astype(np.float32), rng.uniform(size=(len(keys), 2)).astype(np.float32)
    version = lay_out(first)
    grid = layout_density(*version, maps.read_layout(path, keys))
    assert all(np.array_equal(a, b) for a, b in zip(grid, density(first)))
    assert np.array_equal(layout_density(*version, second)[2], grid[2]), "one file's density is computed once"
    path.unlink()  # a layout removed and computed again
    time.sleep(0.05)
    newer = lay_out(second)
    assert newer != version
    assert all(np.array_equal(a, b) for a, b in zip(layout_density(*newer, maps.read_layout(path, keys)), density(second)))
