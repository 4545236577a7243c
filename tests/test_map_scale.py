"""The map at scale, on bench/map_scale.py's synthetic faces: the map job (a worker fitting UMAP on a
sample and placing the rest, with progress and cancel) and the Map page drawing 25,000 points as
typed arrays over a density layer, a selection of them flagged."""

from __future__ import annotations

import base64
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from apptest import app, assert_clean, cached
from curation import maps
from curation.map_run import lay_out, maps_dir
from curation.store import open_store
from synthetic_map import MODEL, map_scale, mapped_faces

@pytest.fixture(scope="module")
def small_faces(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("map300") / "project"
    map_scale().build_project(root, 300, 10)
    return root


@pytest.fixture
def faces_copy(small_faces, tmp_path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(small_faces, root)
    return root


def test_the_map_job_places_every_face_and_reports_each_batch(faces_copy):
    store = open_store(faces_copy)
    steps = []
    try:
        done = lay_out(store, MODEL, lambda done, total, message: steps.append((done, total)), fit_sample=200,
                       batch=50)
        keys, _ = store.map_vectors(MODEL, "face")
        coords = maps.stored_layout(maps_dir(store), MODEL, keys)
    finally:
        store.close()
    assert done == (300, False)
    assert coords.shape == (300, 2) and np.isfinite(coords).all()
    assert len(np.unique(coords, axis=0)) == 300
    # the job's start, the worker's fit (start, end) and two batches of 50, the job's end
    assert steps == [(0, 300), (0, 300), (200, 300), (250, 300), (300, 300), (300, 300)]


def test_cancelling_the_map_job_stops_its_worker_and_stores_nothing(faces_copy):
    store = open_store(faces_copy)
    steps = []
    try:
        done = lay_out(store, MODEL, lambda done, total, message: steps.append(message), fit_sample=200,
                       cancelled=lambda: len(steps) > 1)
        stored = list(maps_dir(store).glob("*.npz")) if maps_dir(store).exists() else []
    finally:
        store.close()
    assert done == (300, True)
    assert steps[1].startswith("Fitting UMAP on 200 of 300")
    assert stored == []


@pytest.fixture(scope="module")
def many_faces(tmp_path_factory) -> Path:
    """25,000 faces of 200 people, laid out: past DENSITY_FROM and TOP_COLOURS."""
    return mapped_faces(tmp_path_factory.mktemp("map25k") / "project", 25_000, 200)


@pytest.fixture
def served_many(many_faces, monkeypatch):
    monkeypatch.setenv("CURATION_PROJECT", str(many_faces))
    yield many_faces
    from curation.ui.context import cached_store

    cached_store(str(many_faces)).close()
    cached_store.clear()


def typed_length(array) -> int:
    """Items in a plotly typed array ({"dtype", "bdata"}); fails on a plain JSON list."""
    assert set(array) == {"dtype", "bdata"}, "a JSON list, not a typed array"
    return len(base64.b64decode(array["bdata"])) // np.dtype(array["dtype"]).itemsize


def test_the_map_draws_every_point_as_typed_arrays_over_a_density_layer(served_many):
    from curation.ui.map import TOP_COLOURS

    at = app("app_pages/map.py", "ada")
    assert_clean(at)
    traces = json.loads(at.get("plotly_chart")[0].proto.spec)["data"]
    assert traces[0]["type"] == "heatmap"
    points = traces[1:]
    assert {t["type"] for t in points} == {"scattergl"}
    assert len(points) == TOP_COLOURS + 1 and points[0]["name"] == f"{200 - TOP_COLOURS} other values"
    assert len({t["marker"]["color"] for t in points}) == TOP_COLOURS + 1
    assert sum(typed_length(t["x"]) for t in points) == 25_000
    assert all(typed_length(t["customdata"]) == typed_length(t["y"]) for t in points)
    assert "face #%{customdata}" in points[0]["hovertemplate"]


def test_a_selection_on_the_map_is_flagged_from_its_grid(served_many):
    at = app("app_pages/map.py", "ada")
    traces = json.loads(at.get("plotly_chart")[0].proto.spec)["data"]
    first = np.frombuffer(base64.b64decode(traces[2]["customdata"]["bdata"]), dtype=traces[2]["customdata"]["dtype"])
    # a lasso as Streamlit reports it: trace 2 (the first label of its own), its first five points
    at.session_state["map-chart"] = {"selection": {"points": [
        {"curve_number": 2, "point_index": i} for i in range(5)], "point_indices": list(range(5)), "box": [],
        "lasso": []}}
    at.run()
    assert_clean(at)
    assert any("5 points selected, 5 images" in h.value for h in at.subheader)
    at.button(key="select-all").click().run()
    at.button(key="apply-flag").click().run()
    assert_clean(at)
    flagged = cached(served_many).query("SELECT image_id FROM flags WHERE active ORDER BY image_id")
    assert [i for i, in flagged] == sorted(int(k) for k in first[:5])  # one face per image: face id = image id


def test_colour_slots_give_each_common_value_its_trace_and_the_rare_values_one_grey_trace_first():
    from curation.ui.map import OTHERS_COLOUR, PALETTE, colour_slots

    codes = np.array([0, 1, 1, 2, 2, 2, 3, 3, 3, 3, 4], dtype=np.int32)
    slots, lookup = colour_slots(codes, ["e", "d", "c", "b", "a"], top=3)
    assert slots == [("2 other values", OTHERS_COLOUR), ("b", PALETTE[0]), ("c", PALETTE[1]), ("d", PALETTE[2])]
    assert lookup[codes].tolist() == [0, 3, 3, 2, 2, 2, 1, 1, 1, 1, 0]
    assert [name for name, _ in colour_slots(codes, ["e", "d", "c", "b", "a"], top=5)[0]] == ["a", "b", "c", "d", "e"]


def picture_pixels(source: str) -> np.ndarray:
    """The RGBA pixels of a PNG data URI."""
    from PIL import Image

    assert source.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1]))).convert("RGBA"))


def test_past_drawn_points_all_are_one_picture_a_sample_is_marked_and_a_lasso_or_box_selects_among_all(
        served_many, monkeypatch):
    from curation.ui.map import PICTURE_SIZE

    monkeypatch.setattr("curation.ui.map.DRAWN_POINTS", 5_000)
    monkeypatch.setattr("curation.ui.map.MARKED_POINTS", 1_000)
    at = app("app_pages/map.py", "ada")
    assert_clean(at)
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    traces, [image] = spec["data"], spec["layout"]["images"]
    assert {t["type"] for t in traces} == {"scatter"}, "SVG markers: no WebGL context to start"
    assert sum(typed_length(t["x"]) for t in traces) == 1_000
    assert "face #%{customdata}" in traces[-1]["hovertemplate"]
    pixels = picture_pixels(image["source"])
    assert pixels.shape == (PICTURE_SIZE[1], PICTURE_SIZE[0], 4) and image["layer"] == "below"
    assert 0 < (pixels[..., 3] > 0).sum() < pixels[..., 3].size
    assert [image["x"], image["x"] + image["sizex"]] == spec["layout"]["xaxis"]["range"]
    assert any("a random 1,000 of them are" in c.value and "among all 25,000" in c.value for c in at.caption)
    store = cached(served_many)
    keys, _ = store.map_vectors(MODEL, "face")
    x, y = maps.stored_layout(maps_dir(store), MODEL, keys).T
    middle, below, above = float(np.median(x)), float(y.min()) - 1, float(y.max()) + 1
    left = float(x.min()) - 1
    # the whole map boxed, then a lasso around its left half (the frontend sends these beside the drawn points)
    for box, lasso, expected in [([{"x": [left, float(x.max()) + 1], "y": [below, above]}], [], 25_000),
                                 ([], [{"x": [left, middle, middle, left], "y": [below, below, above, above]}],
                                  int((x < middle).sum()))]:
        at.session_state["map-chart"] = {"selection": {"points": [], "point_indices": [], "box": box,
                                                       "lasso": lasso}}
        at.run()
        assert_clean(at)
        assert any(f"{expected:,} points selected, {expected:,} images" in h.value for h in at.subheader)
    # a click on a marker selects that marker's face
    marker_trace = len(traces) - 1
    face = int(np.frombuffer(base64.b64decode(traces[marker_trace]["customdata"]["bdata"]),
                             dtype=traces[marker_trace]["customdata"]["dtype"])[0])
    at.session_state["map-chart"] = {"selection": {"points": [{"curve_number": marker_trace, "point_index": 0}],
                                                   "point_indices": [0], "box": [], "lasso": []}}
    at.run()
    assert any("1 points selected, 1 images" in h.value for h in at.subheader)
    at.button(key="select-all").click().run()
    at.button(key="apply-flag").click().run()
    assert_clean(at)
    flagged = cached(served_many).query("SELECT image_id FROM flags WHERE active")
    assert face in {i for i, in flagged}  # one face per image: face id = image id


def test_the_picture_puts_each_point_in_its_pixel_in_its_colour_and_leaves_the_rest_clear():
    from curation.ui.map import picture

    coords = np.array([[0, 0], [10, 5], [10, 5], [5, 2.5]], dtype=np.float32)
    source, (x0, x1, y0, y1) = picture(coords, np.array([0, 1, 1, 0]), ("#ff0000", "#0000ff"), size=(11, 6))
    pixels = picture_pixels(source)
    assert x0 < 0 < 10 < x1 and y0 < 0 < 5 < y1
    assert pixels[-1, 0, :3].tolist() == [255, 0, 0] and 100 < pixels[-1, 0, 3] < 255, "one point: half opaque"
    assert pixels[0, -1, :3].tolist() == [0, 0, 255] and pixels[0, -1, 3] == 255, "two points: the most opaque"
    assert (pixels[..., 3] > 0).sum() == 3


def test_the_pages_colours_are_read_once_per_revision_and_a_write_leaves_them_behind(faces_copy):
    from curation.ui.map import map_colours

    store = open_store(faces_copy)
    try:
        keys, image_ids, codes, names = first = map_colours(store, MODEL, "face", "flags")
        assert map_colours(store, MODEL, "face", "flags") is first, "the same revision: read once"
        assert names == ["no flag"] and not codes.flags.writeable
        store.add_flag([int(image_ids[0])], "blurry", "", "ada")
        keys, image_ids, codes, names = map_colours(store, MODEL, "face", "flags")
    finally:
        store.close()
    assert names[codes[0]] == "blurry" and {names[c] for c in codes[1:]} == {"no flag"}


def test_reading_ahead_when_the_project_opens_leaves_the_maps_first_visit_no_colour_query(served_many, monkeypatch):
    from apptest import cached
    from curation.ui.warm import wait_warm, warm_pages

    store = cached(served_many)
    warm_pages(store)
    wait_warm(store)
    asked = []
    colours = store.map_colours
    monkeypatch.setattr(store, "map_colours", lambda *args: asked.append(args) or colours(*args))
    at = app("app_pages/map.py", "ada")
    assert_clean(at)
    assert asked == [], "the first model's colours by label were read ahead"
    at.segmented_control(key="map-colour").set_value("flags").run()
    assert asked == [(MODEL, "face", "flags")]
