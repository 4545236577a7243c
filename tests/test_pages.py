"""Each page under Streamlit's AppTest, on a real project built from the sample data."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from curation.store import init_project
from apptest import ROOT, app, assert_clean, cached

SAMPLE = ROOT / "sample_data" / "images"


@pytest.fixture
def project(project_copy, monkeypatch) -> Path:
    monkeypatch.setenv("CURATION_PROJECT", str(project_copy))
    return project_copy


def test_home_without_a_project_offers_to_create_one(tmp_path, monkeypatch):
    monkeypatch.delenv("CURATION_PROJECT", raising=False)
    at = app("app_pages/home.py")
    assert not at.metric
    at.text_input(key="project-path").set_value(str(tmp_path / "fresh")).run()
    at.button(key="create-project").click().run()
    assert_clean(at)
    assert (tmp_path / "fresh" / "project.duckdb").is_file()
    assert [m.value for m in at.metric][:2] == ["0", "0"]
    assert "Add images" in at.info[0].value


def test_home_with_a_served_project_that_is_gone_says_so_and_offers_no_other(tmp_path, monkeypatch):
    monkeypatch.setenv("CURATION_PROJECT", str(tmp_path / "gone"))
    at = app("app_pages/home.py")
    assert not at.exception
    assert "holds no project" in at.error[0].value and str(tmp_path) not in at.error[0].value
    assert not at.text_input, "a served project is fixed: no picker"


def test_a_bare_server_offers_another_project_when_the_chosen_one_is_gone(tmp_path, monkeypatch):
    monkeypatch.delenv("CURATION_PROJECT", raising=False)
    at = app("app_pages/home.py")
    at.session_state["project"] = str(tmp_path / "gone")
    at.run()
    assert not at.exception and "no project in that folder" in at.error[0].value
    at.text_input(key="project-path").set_value(str(tmp_path / "fresh")).run()
    at.button(key="create-project").click().run()
    assert (tmp_path / "fresh" / "project.duckdb").is_file()
    assert not at.error


def test_home_shows_the_pipeline_and_the_next_step(project):
    at = app("app_pages/home.py")
    assert_clean(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Verify"] == "333" and metrics["Review"] == "333"
    assert "label conflicts" in at.info[0].value


def test_home_ingests_a_folder_as_a_job(tmp_path, monkeypatch):
    root = tmp_path / "empty"
    init_project(root).close()
    monkeypatch.setenv("CURATION_PROJECT", str(root))
    at = app("app_pages/home.py")
    at.text_input(key="ingest-path").set_value(str(SAMPLE / "circle"))
    at.button[-1].click().run()
    store = cached(root)
    deadline = time.monotonic() + 60
    while store.jobs("ingest")[0].active and time.monotonic() < deadline:
        time.sleep(0.2)
    job = store.jobs("ingest")[0]
    assert (job.status, job.error, job.done, job.total) == ("done", None, 87, 87)
    at.run()
    assert_clean(at)
    assert any("finished" in s.value for s in at.success)
    assert {m.label: m.value for m in at.metric}["Verify"] == "84"


def test_home_refuses_a_missing_folder(project):
    at = app("app_pages/home.py")
    at.text_input(key="ingest-path").set_value("/no/such/folder")
    at.button[-1].click().run()
    assert "no folder or file" in at.error[0].value


def grid_data(at: AppTest) -> dict:
    """What the Review grid component was sent: its tiles, label keys and commands."""
    grids = at.get("bidi_component")
    return json.loads(grids[0].proto.json) if grids else {}


def grid_ids(at: AppTest) -> list[int]:
    return [t["id"] for t in grid_data(at).get("tiles", [])]


def test_review_asks_for_the_annotator_once(project):
    at = app("app_pages/review.py", who=None)
    assert at.text_input[0].label == "Your name" and not grid_ids(at)
    at.text_input[0].set_value("Ada")
    at.button[0].click().run()
    assert_clean(at)
    assert at.query_params["who"] == ["Ada"] or at.query_params["who"] == "Ada"
    assert len(grid_ids(at)) == 96


def test_review_grid_sends_tiles_label_keys_and_the_flag_setting(project):
    at = app("app_pages/review.py")
    assert_clean(at)
    data = grid_data(at)
    assert data["labels"] == ["circle", "square", "star", "triangle"]
    tiles = data["tiles"]
    assert all(t["src"].startswith("data:image/jpeg;base64,") for t in tiles)
    assert [t["title"] for t in tiles[:2]] == ["circle", "circle"] and tiles[0]["id"] == 1
    conflict = next(t for t in tiles if any(b["text"] == "Label conflict" for b in t["badges"]))
    assert conflict
    at.selectbox(key="bulk-flag").set_value("biased").run()
    assert {"kind": "flag", "key": "F", "shortcut": "F", "text": "Flag: Biased"} in grid_data(at)["commands"]


def test_review_grid_shows_the_latest_runs_disagreeing_prediction(project):
    store = cached(project)
    run_id = store.create_run("linear", "v1", {}, None, "tester")
    store.finish_run(run_id, "done", {"metrics": {"accuracy": 0.5}})
    with store.transaction() as cur:
        cur.execute("INSERT INTO predictions VALUES (?, 4, 'circle', 'star', 0.83, 2.1, 'val'), "
                    "(?, 5, 'circle', 'circle', 0.9, 0.1, 'val')", [run_id, run_id])
    tiles = {t["id"]: t for t in grid_data(app("app_pages/review.py"))["tiles"]}
    assert tiles[4]["pred"] == "model: star 83%" and "pred" not in tiles[5]


def test_review_grid_shows_a_placeholder_for_a_missing_thumbnail(project):
    store = cached(project)
    sha = store.query("SELECT sha256 FROM images WHERE id = 4")[0][0]
    store.project.thumb_path(sha).unlink()
    at = app("app_pages/review.py")
    assert_clean(at)
    tile = next(t for t in grid_data(at)["tiles"] if t["id"] == 4)
    assert tile["missing"] == "Thumbnail missing" and "src" not in tile


def test_review_filters(project):
    at = app("app_pages/review.py")
    at.selectbox(key="f_flag").set_value("label_conflict").run()
    assert_clean(at)
    assert len(grid_ids(at)) == 2 and at.caption[0].value.startswith("2 images")
    at.selectbox(key="f_flag").set_value(None)
    at.segmented_control(key="f_status").set_value("failed").run()
    assert len(grid_ids(at)) == 7
    assert any(t["missing"].startswith("Truncated") for t in grid_data(at)["tiles"])
    at.segmented_control(key="f_status").set_value("ok")
    at.text_input(key="f_source").set_value("/star/").run()
    assert at.caption[0].value.startswith("84 images")


def test_review_pages_through_the_grid(project):
    at = app("app_pages/review.py")
    first_page = grid_ids(at)
    at.button(key="next-page").click().run()
    assert_clean(at)
    second_page = grid_ids(at)
    assert len(second_page) == 96 and min(second_page) > max(first_page)


def test_review_detail_shows_sources_history_and_navigates(project):
    at = app("app_pages/review.py")
    first, second = grid_ids(at)[:2]
    at.session_state["detail"] = first
    at.run()
    assert_clean(at)
    assert any(m.value.startswith(f"### #{first}") for m in at.markdown)
    at.toggle(key="detail-stay").set_value(True)
    at.button(key="quick-2").click().run()
    assert any(f"Labelled #{first}" in s.value for s in at.success)
    assert any(m.value.startswith(f"### #{first}") for m in at.markdown), "the setting keeps it on the image"
    assert not at.dataframe, "sources and history wait for their toggle"
    at.toggle(key="detail-more").set_value(True).run()
    history = at.dataframe[-1].value
    assert list(history["action"]) == ["label"] and list(history["actor"]) == ["tester"]
    at.toggle(key="detail-stay").set_value(False)
    at.button(key="quick-3").click().run()
    assert any(m.value.startswith(f"### #{second}") for m in at.markdown), "a label key moves on"
    at.button(key="prev-image").click().run()
    assert any(m.value.startswith(f"### #{first}") for m in at.markdown)
    at.button(key="back").click().run()
    assert grid_ids(at)


def test_failed_files_lists_every_failure_with_its_reason(project):
    at = app("app_pages/failed_files.py")
    assert_clean(at)
    table = at.dataframe[0].value
    assert len(table) == 7
    assert set(table["problem"]) >= {"Empty file (0 bytes)", "Truncated: the file ends before the image does"}
    at.selectbox(key="failed-reason").set_value("Too small to use").run()
    assert len(at.dataframe[0].value) == 1


def test_pages_without_a_project_point_home(monkeypatch):
    monkeypatch.delenv("CURATION_PROJECT", raising=False)
    for page in ("app_pages/review.py", "app_pages/failed_files.py"):
        at = app(page)
        assert "No project is open" in at.info[0].value


def test_entry_page_builds_the_navigation(project):
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60).run()
    assert_clean(at)
    assert at.metric, "the entry page runs Home by default"


def finished_run(store, tmp_path, wrong: int) -> int:
    """A done run over 10 images, `wrong` of them predicted as another label."""
    ids = [r[0] for r in store.query("SELECT id FROM images WHERE status = 'ok' AND label = 'circle' ORDER BY id LIMIT 10")]
    predictions = pd.DataFrame({"image_id": ids, "label": "circle",
                                "predicted": ["star" if n < wrong else "circle" for n in range(len(ids))],
                                "confidence": 0.9, "loss": 0.1, "split": "val"})
    path = tmp_path / f"predictions-{wrong}.parquet"
    predictions.to_parquet(path)
    run_id = store.create_run("linear", "v1", {"epochs": 1}, None, "tester")
    store.finish_run(run_id, "done", {"metrics": {"accuracy": 0.5}}, predictions=str(path))
    return run_id


def test_evaluate_shows_each_runs_own_figures_though_they_are_cached(project, tmp_path):
    store = cached(project)
    finished_run(store, tmp_path, wrong=2)
    at = app("app_pages/evaluate.py")
    assert_clean(at)
    assert at.metric[0].value == "80.0%"
    finished_run(store, tmp_path, wrong=5)
    at = app("app_pages/evaluate.py")  # the newest run first
    assert_clean(at)
    assert at.metric[0].value == "50.0%"
    assert any("star: 5" in b.label for b in at.button if b.key.startswith("pair-"))
    at.selectbox(key="eval-run").select_index(1).run()
    assert at.metric[0].value == "80.0%"


def test_reading_ahead_computes_the_latest_runs_matrix_before_a_first_visit(project, tmp_path, monkeypatch):
    from curation.ui.warm import wait_warm, warm_pages

    store = cached(project)
    finished_run(store, tmp_path, wrong=3)
    warm_pages(store)
    wait_warm(store)
    counts, asked = store.prediction_counts, []
    monkeypatch.setattr(store, "prediction_counts", lambda *args: asked.append(args) or counts(*args))
    at = app("app_pages/evaluate.py")
    assert_clean(at)
    assert asked == [] and at.metric[0].value == "70.0%"
    at.segmented_control(key="eval-split").set_value(None).run()
    assert len(asked) == 1, "another split is computed when asked for"
