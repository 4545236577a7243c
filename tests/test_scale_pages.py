"""Pages on a project shaped like bench/scale.py's (500 labels, no files on disk), kept small."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from apptest import ROOT, app, assert_clean
from curation.store import init_project


def scale_module():
    spec = importlib.util.spec_from_file_location("bench_scale", ROOT / "bench" / "scale.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def scale_project(tmp_path_factory) -> Path:
    """3,000 image rows over 500 labels, flags and events, built by bench/scale.py's SQL; no originals."""
    scale = scale_module()
    root = tmp_path_factory.mktemp("scale") / "project"
    store = init_project(root)
    values = {"names": scale.NAMES, "nrows": 3000, "nevents": 200}
    with store.transaction() as cur:
        for sql in scale.BUILD_SQL:
            cur.execute(sql, {k: v for k, v in values.items() if f"${k}" in sql})
    store.close()
    return root


def test_label_counts_in_sql_equal_the_rows_a_run_trains_on(scale_project):
    from curation.store import open_store

    store = open_store(scale_project)
    try:
        rows, left_out = store.training_rows()
        counts = store.training_label_counts()
        assert dict(zip(counts["label"], counts["images"])) == rows["label"].value_counts().to_dict()
        assert store.left_out_of_training() == left_out
        sample = store.training_sample(4)
        assert list(sample["label"]) == sorted(rows["label"].unique())[:4]
        first = rows.sort_values("image_id").groupby("label").head(1).set_index("label")
        assert list(sample["sha256"]) == [first.loc[label, "sha256"] for label in sample["label"]]
    finally:
        store.close()


def test_train_page_shows_the_top_labels_and_their_spread_and_names_missing_originals(scale_project, monkeypatch):
    monkeypatch.setenv("CURATION_PROJECT", str(scale_project))
    from curation.store import open_store

    store = open_store(scale_project)
    labels = len(store.training_label_counts())
    store.close()
    at = app("app_pages/train.py")
    assert_clean(at)
    assert labels > 400
    assert int(next(m for m in at.metric if m.label == "Labels").value) == labels
    assert len(at.get("plotly_chart")) == 2  # the top labels, and images per label over all of them
    assert not at.get("image"), "the augmentation preview is drawn only once its expander is open"
    at.session_state["train-preview"] = True
    at.run()
    assert_clean(at)
    captions = [img.caption for element in at.get("image") for img in element.proto.imgs]
    assert captions and all("original missing" in c for c in captions), \
        "each label's preview is a placeholder naming the missing original"


@pytest.fixture(scope="module")
def faces_project(tmp_path_factory) -> Path:
    """bench/scale.py's project at 20,000 rows with its face layer: faces, vectors, a cleaning run, a map."""
    scale = scale_module()
    root = tmp_path_factory.mktemp("scale-faces") / "project"
    store = init_project(root)
    values = {"names": scale.NAMES, "nrows": 20_000, "nevents": 200}
    with store.transaction() as cur:
        for sql in scale.BUILD_SQL:
            cur.execute(sql, {k: v for k, v in values.items() if f"${k}" in sql})
    scale.add_faces(store, root)
    store.close()
    return root


def test_the_face_layer_is_what_the_jobs_leave(faces_project):
    from curation.map_run import maps_dir
    from curation.maps import stored_layout
    from curation.store import open_store

    store = open_store(faces_project)
    try:
        scans = store.scan_counts()
        assert scans["scanned"] == scans["images"] and 0.75 < scans["with_faces"] / scans["images"] < 0.85
        assert store.embedding_counts() == {"dlib-resnet34": scans["faces"]}
        keys, matrix = store.map_vectors("dlib-resnet34", "face")
        assert matrix.shape == (scans["faces"], 128)
        assert stored_layout(maps_dir(store), "dlib-resnet34", keys).shape == (len(keys), 2)
        assert set(store.open_suggestion_counts().values()) != {0}
    finally:
        store.close()


@pytest.mark.parametrize("page", ["faces", "clusters", "map", "quality", "evaluate"])
def test_pages_of_the_face_layer_run_clean(faces_project, monkeypatch, page):
    monkeypatch.setenv("CURATION_PROJECT", str(faces_project))
    at = app(f"app_pages/{page}.py")
    assert_clean(at)
    if page == "faces":
        tiles = {m.label: m.value for m in at.metric}
        assert tiles["Images searched, of 19.8k"] == "all" and tiles["Faces"].endswith("k"), tiles
        assert all(len(value) <= 5 for value in tiles.values()), "a tile's figure fits its column"


def test_clusters_draws_the_first_open_suggestions_and_says_how_many_more(faces_project, monkeypatch):
    import curation.ui.clusters as clusters

    monkeypatch.setenv("CURATION_PROJECT", str(faces_project))
    monkeypatch.setattr(clusters, "OPEN_SHOWN", 2)
    at = app("app_pages/clusters.py")
    assert_clean(at)
    label = at.selectbox(key="clusters-identity").value
    from apptest import cached

    rows = cached(faces_project).identity_suggestions(label)
    waiting = int(((rows["status"] == "open") & (rows["action"] != "merge")).sum())
    assert waiting > 2
    tiles = [b for b in at.button if b.key.startswith("accept-") and b.key[len("accept-"):].isdigit()]
    assert len(tiles) == 2
    assert any(f"The first 2 of {waiting} are shown" in c.value for c in at.caption)
    assert at.button(key="accept-all").label == f"Accept all {waiting}"


def test_evaluate_draws_the_labels_in_the_most_errors_and_recall_over_all(faces_project, monkeypatch):
    from curation.ui.evaluate import MATRIX_LABELS

    monkeypatch.setenv("CURATION_PROJECT", str(faces_project))
    at = app("app_pages/evaluate.py")
    assert_clean(at)
    assert any(f"The {MATRIX_LABELS} labels in the most errors, of 500" in c.value for c in at.caption)
    assert len(at.get("plotly_chart")) == 2, "the matrix of the most confused labels, and recall's spread"
    assert len(at.selectbox(key="eval-true").options) == 500, "any cell can still be chosen"


def test_failed_files_are_counted_in_sql_and_listed_up_to_a_limit(scale_project, monkeypatch):
    from apptest import cached

    store = cached(scale_project)  # the pages' own store: earlier tests here have opened it
    by_reason = store.failed_by_reason()
    total = sum(by_reason.values())
    assert total == len(store.failed_files()) > 10 and len(store.failed_files(limit=5)) == 5
    reason, n = max(by_reason.items(), key=lambda item: item[1])
    assert set(store.failed_files(reason)["reason"]) == {reason} and len(store.failed_files(reason)) == n
    monkeypatch.setenv("CURATION_PROJECT", str(scale_project))
    at = app("app_pages/failed_files.py")
    assert_clean(at)
    assert len(at.dataframe[0].value) == total and f"{total:,} files could not be used" in at.caption[0].value
