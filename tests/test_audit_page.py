"""The Audit page and the Review page's tag controls under Streamlit's AppTest, on the sample project.

With a run, 20 circles are tagged female (18 predicted right) and 20 stars male (12 right); no
other image is evaluated: female accuracy 0.9, male 0.6, a gap of 0.3.
"""

from __future__ import annotations

import io
import json
import zipfile
from functools import partial
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from curation.clean import audit
from curation.ui.audit import audit_data, full_report, set_tables, tables_zip
from apptest import app, assert_clean, cached



def progress_texts(at: AppTest) -> list[str]:
    return [p.proto.text for p in at.get("progress")]


@pytest.fixture
def project(project_copy, monkeypatch) -> Path:
    monkeypatch.setenv("CURATION_PROJECT", str(project_copy))
    return project_copy


@pytest.fixture
def audited(project, tmp_path):
    """The sample project with gender defined, 40 images tagged and a run that evaluated them."""
    store = cached(project)
    store.define_attribute("gender", ["female", "male"], "tester")
    ids = {label: [r[0] for r in store.query(
        "SELECT id FROM images WHERE status = 'ok' AND label = ? ORDER BY id LIMIT 20", [label])]
        for label in ("circle", "star")}
    store.tag_images(ids["circle"], "gender", "female", "tester")
    store.tag_images(ids["star"], "gender", "male", "tester")
    rows = [(i, "circle", "circle" if n < 18 else "star") for n, i in enumerate(ids["circle"])]
    rows += [(i, "star", "star" if n < 12 else "circle") for n, i in enumerate(ids["star"])]
    predictions = pd.DataFrame(rows, columns=["image_id", "label", "predicted"]).assign(
        confidence=0.9, loss=0.1, split="val")
    predictions.to_parquet(tmp_path / "predictions.parquet")
    run_id = store.create_run("linear", "v-test", {"epochs": 1}, None, "tester")
    store.finish_run(run_id, "done", {"metrics": {"accuracy": 0.75}}, predictions=str(tmp_path / "predictions.parquet"))
    return project


def test_without_attributes_the_page_offers_presets_and_defines_one(project):
    at = app("app_pages/audit.py")
    assert_clean(at)
    assert "No attribute is defined yet" in at.info[0].value
    at.selectbox(key="attr-start").set_value("fitzpatrick_skin_type").run()
    assert at.text_input(key="attr-name").value == "fitzpatrick_skin_type"
    assert at.text_input(key="attr-values").value == "I, II, III, IV, V, VI"
    at.button(key="save-attribute").click().run()
    assert_clean(at)
    assert at.success[0].value == "Saved fitzpatrick_skin_type: I, II, III, IV, V, VI."
    assert cached(project).attributes() == {"fitzpatrick_skin_type": ["I", "II", "III", "IV", "V", "VI"]}
    assert progress_texts(at) == ["0 of 333 images tagged for fitzpatrick_skin_type"]
    assert at.selectbox(key="audit-run").value is None, "no run yet: representation only"
    assert list(tables_shown(at)) == ["representation", "skew"]


def test_an_attribute_may_not_take_an_audit_column_name(project):
    at = app("app_pages/audit.py")
    at.text_input(key="attr-name").set_value("label")
    at.text_input(key="attr-values").set_value("a, b")
    at.button(key="save-attribute").click().run()
    assert "names a column of the audit" in at.error[0].value
    assert cached(project).attributes() == {}


#: The audit tables, known by their columns (st.dataframe without selection keeps no key under AppTest).
TABLE_COLUMNS = {"representation": audit.REPRESENTATION_COLUMNS, "metrics": audit.METRICS_COLUMNS,
                 "rates": audit.RATES_COLUMNS, "disparities": audit.DISPARITY_COLUMNS, "skew": audit.SKEW_COLUMNS}


def tables_shown(at: AppTest) -> dict[str, pd.DataFrame]:
    return {name: d.value for d in at.dataframe for name, columns in TABLE_COLUMNS.items()
            if list(d.value.columns) == columns}


def dataframe(at: AppTest, name: str) -> pd.DataFrame:
    return tables_shown(at)[name]


def test_with_a_run_the_page_shows_the_known_accuracies_and_flags_the_gap(audited):
    at = app("app_pages/audit.py")
    assert_clean(at)
    assert progress_texts(at) == ["40 of 333 images tagged for gender"]
    assert at.selectbox(key="audit-run").value["id"] == 1, "the latest run by default"
    metrics = dataframe(at, "metrics").set_index("subgroup")
    assert metrics.loc["female", ["images", "n", "correct"]].tolist() == [20, 20, 18]
    assert metrics.loc["female", "accuracy"] == pytest.approx(0.9)
    assert metrics.loc["male", "accuracy"] == pytest.approx(0.6)
    assert metrics.loc["(untagged)", ["images", "n"]].tolist() == [293, 0]
    gaps = dataframe(at, "disparities")
    assert gaps[["best", "worst", "flagged"]].values.tolist() == [["female", "male", True]]
    assert "1 attribute set with an accuracy gap" in at.warning[0].value
    rates = dataframe(at, "rates").set_index(["subgroup", "label"])
    assert rates.loc[("male", "star"), "fnr"] == pytest.approx(8 / 20)
    at.slider(key="audit-threshold").set_value(0.35).run()
    assert not dataframe(at, "disparities")["flagged"].any() and not at.warning
    shares = dataframe(at, "representation").set_index(["label", "subgroup"])["n"]
    assert shares[("circle", "female")] == 20 and shares[("square", "female")] == 0


def test_no_run_shows_representation_only(audited):
    at = app("app_pages/audit.py")
    at.selectbox(key="audit-run").select_index(0).run()
    assert_clean(at)
    assert list(tables_shown(at)) == ["representation", "skew"]


def test_the_audit_is_computed_once_per_state_of_the_data_and_again_after_a_change(audited, monkeypatch):
    store = cached(audited)
    frame_of, runs = store.audit_frame, []
    monkeypatch.setattr(store, "audit_frame", lambda run: runs.append(run) or frame_of(run))
    at = app("app_pages/audit.py")
    at.slider(key="audit-threshold").set_value(0.35).run()
    app("app_pages/audit.py")
    assert runs == [1], "a widget's rerun and another session reuse the audit"
    squares = [r[0] for r in store.query(
        "SELECT id FROM images WHERE status = 'ok' AND label = 'square' ORDER BY id LIMIT 20")]
    store.tag_images(squares, "gender", "female", "tester")
    at.run()
    assert_clean(at)
    assert runs == [1, 1]
    assert progress_texts(at) == ["60 of 333 images tagged for gender"]
    metrics = dataframe(at, "metrics").set_index("subgroup")
    assert metrics.loc["female", ["images", "n", "correct"]].tolist() == [40, 20, 18]
    at.selectbox(key="audit-run").select_index(0).run()
    assert runs == [1, 1, None] and list(tables_shown(at)) == ["representation", "skew"]


def test_the_page_computes_the_set_it_shows_and_the_downloads_hold_every_set(audited):
    store = cached(audited)
    store.define_attribute("pose", ["frontal", "profile"], "tester")
    at = app("app_pages/audit.py")
    assert_clean(at)
    assert set(dataframe(at, "metrics")["attributes"]) == {"gender"} == set(dataframe(at, "rates")["attributes"])
    at.selectbox(key="audit-set").set_value("gender × pose").run()
    assert set(dataframe(at, "representation")["attributes"]) == {"gender × pose"}
    run, names = store.runs()[0], store.attribute_names()
    data = audit_data(store, run, names)
    report = full_report(partial(set_tables, data, store, run, names, audit.attribute_sets(names)), data, (0.05, 10))
    assert list(report.tables) == ["Tag coverage", "Representation", "Subgroup accuracy", "Error rates per label",
                                   "Disparities", "Source skew"]
    for table in ("Representation", "Subgroup accuracy", "Error rates per label"):
        assert set(report.tables[table]["attributes"]) == {"gender", "pose", "gender × pose"}, table
    assert list(report.figures) == ["Representation by subgroup", "Accuracy by subgroup"]
    data = audit_data(store, None, names)
    dataset = full_report(partial(set_tables, data, store, None, names, audit.attribute_sets(names)), data, None)
    assert list(dataset.tables) == ["Tag coverage", "Representation", "Source skew"]
    assert list(dataset.figures) == ["Representation by subgroup"]


def test_the_tables_zip_holds_one_csv_per_table():
    tables = {"Representation": pd.DataFrame({"n": [1, 2]}), "Source skew": pd.DataFrame({"by": ["provider"]})}
    with zipfile.ZipFile(io.BytesIO(tables_zip(tables))) as archive:
        assert archive.namelist() == ["representation.csv", "source_skew.csv"]
        assert archive.read("representation.csv").decode().splitlines() == ['"n"', "1", "2"]


def grid_ids(at: AppTest) -> list[int]:
    return [t["id"] for t in json.loads(at.get("bidi_component")[0].proto.json)["tiles"]]


def test_review_tags_an_image_in_its_detail(project):
    store = cached(project)
    store.define_attribute("gender", ["female", "male"], "tester")
    store.define_attribute("pose", ["frontal", "profile"], "tester")
    at = app("app_pages/review.py")
    first = grid_ids(at)[0]
    store.tag_images([first], "gender", "male", "tester")
    at.session_state["detail"] = first
    at.run()
    at.selectbox(key=f"tag-{first}-gender-male").set_value("").run()
    assert at.success[0].value == f"Cleared gender on #{first}."
    at.selectbox(key=f"tag-{first}-pose-").set_value("profile").run()
    assert_clean(at)
    assert at.success[0].value == f"Tagged #{first} pose: profile."
    assert store.image_tags(first) == {"pose": "profile"}
    assert at.selectbox(key=f"tag-{first}-pose-profile").value == "profile"
    at.button(key="detail-undo").click().run()
    assert store.image_tags(first) == {}
    assert at.selectbox(key=f"tag-{first}-pose-").value == "", "the select shows the stored tag after an undo"


def test_reading_ahead_when_the_project_opens_leaves_a_first_visit_nothing_to_compute(audited, monkeypatch):
    from curation.ui.warm import wait_warm, warm_pages

    store = cached(audited)
    warm_pages(store)
    wait_warm(store)
    frame_of, runs = store.audit_frame, []
    monkeypatch.setattr(store, "audit_frame", lambda run: runs.append(run) or frame_of(run))
    at = app("app_pages/audit.py")
    assert_clean(at)
    assert runs == [], "the page's first view (latest run, first attribute set) was read ahead"
    assert set(dataframe(at, "metrics")["subgroup"]) >= {"female", "male"}
