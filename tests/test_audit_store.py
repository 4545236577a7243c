"""The audit frame read from a constructed project, the audit tables on it, tag coverage, tagging and undo.

Twelve usable labelled images (plus a failed and an unlabelled one), tagged and predicted so that
every figure is known by construction; run 2 is the audited one:

    #   label   source                  gender  run 2 split  run 2 predicted
    c0  circle  wikimedia (and a copy)  female  val          circle
    c1  circle  wikimedia               female  val          circle
    c2  circle  openverse               female  val          square
    c3  circle  local file              female  train        circle
    c4  circle  openverse               male    val          circle
    c5  circle  openverse               male    -            -
    s0  square  local file              male    val          square
    s1  square  local file              male    val          circle
    s2  square  wikimedia               -       val          square
    s3  square  wikimedia               female  val          square
    s4  square  local file              female  val          square
    s5  square  local file              -       train        square
"""

from __future__ import annotations

import io
from functools import partial

import pandas as pd
import pytest

from curation import synth
from curation.clean.audit import (accuracy_figure, disparities, representation, source_skew, subgroup_metrics,
                                  tag_coverage)
from curation.ingest import FileTask, IngestSummary, NearDuplicateIndex, outcome_for_bytes, plan_chunk
from curation.store import EditError

WIKI, OPENVERSE = "wikimedia", "openverse"
IMAGES = {  # name: (label, source, provider, query, gender)
    "c0": ("circle", "https://Upload.Wikimedia.org/c0.jpg", WIKI, "round things", "female"),
    "c1": ("circle", "https://ada:secret@upload.wikimedia.org:443/c1.jpg?x=1", WIKI, "round things", "female"),
    "c2": ("circle", "https://www.flickr.com/photos/c2.jpg", OPENVERSE, "circle", "female"),
    "c3": ("circle", "/data/circle/c3.jpg", None, None, "female"),
    "c4": ("circle", "https://www.flickr.com/photos/c4.jpg", OPENVERSE, "circle", "male"),
    "c5": ("circle", "https://www.flickr.com/photos/c5.jpg", OPENVERSE, "circle", "male"),
    "s0": ("square", "/data/square/s0.jpg", None, None, "male"),
    "s1": ("square", "/data/square/s1.jpg", None, None, "male"),
    "s2": ("square", "https://upload.wikimedia.org/s2.jpg", WIKI, "square", None),
    "s3": ("square", "https://upload.wikimedia.org/s3.jpg", WIKI, "square", "female"),
    "s4": ("square", "/data/square/s4.jpg", None, None, "female"),
    "s5": ("square", "/data/square/s5.jpg", None, None, None),
}
RUN_2 = {  # name: (split, predicted)
    "c0": ("val", "circle"), "c1": ("val", "circle"), "c2": ("val", "square"), "c3": ("train", "circle"),
    "c4": ("val", "circle"), "s0": ("val", "square"), "s1": ("val", "circle"), "s2": ("val", "square"),
    "s3": ("val", "square"), "s4": ("val", "square"), "s5": ("train", "square"),
}


def jpeg(label: str, index: int) -> bytes:
    out = io.BytesIO()
    synth.class_image(label, index).save(out, "JPEG", quality=90)
    return out.getvalue()


def record(store, tasks: list[tuple[FileTask, bytes]]) -> None:
    """Record files as ingest and gather do: verify and store each, then plan and write the chunk."""
    batch = [outcome_for_bytes(task, data, store.project) for task, data in tasks]
    index = NearDuplicateIndex(*store.phash_index())
    store.record_ingest(batch, partial(plan_chunk, batch, index=index, summary=IngestSummary()))


def web(provider, query, url) -> dict | None:
    return None if provider is None else {"provider": provider, "query": query, "url": url, "rank": 1}


def add_predictions(store, tmp_path, run_no: int, rows: dict[str, tuple[str, str]], ids: dict[str, int]) -> int:
    """A finished run with these predictions, recorded as the training job records them (a Parquet file)."""
    table = pd.DataFrame([
        {"image_id": ids[name], "label": IMAGES[name][0], "predicted": predicted, "confidence": 0.9, "loss": 0.1,
         "split": split} for name, (split, predicted) in rows.items()])
    path = tmp_path / f"predictions-{run_no}.parquet"
    table.to_parquet(path)
    run_id = store.create_run("linear", "v-test", {"epochs": 1}, None, "tester")
    store.finish_run(run_id, "done", {"metrics": {"accuracy": 0.8}}, predictions=str(path))
    return run_id


@pytest.fixture
def audited(project, tmp_path):
    """The project in the module docstring: (store, image id by name, run 1, run 2)."""
    names = list(IMAGES)
    # c0 arrives first as a local file, then from the web: the web source should describe it.
    record(project, [(FileTask("/data/dup/c0.jpg", "circle"), jpeg("circle", 0))])
    record(project, [(FileTask(source, label, web(provider, query, source)), jpeg(label, names.index(name)))
                     for name, (label, source, provider, query, _) in IMAGES.items()]
           + [(FileTask("/data/broken.jpg", "circle"), b"not an image"),
              (FileTask("/data/unlabelled.jpg", None), jpeg("star", 99))])
    ids = dict(project.query("SELECT source, image_id FROM sources"))
    ids = {name: ids[IMAGES[name][1]] for name in names} | {"broken": ids["/data/broken.jpg"],
                                                           "unlabelled": ids["/data/unlabelled.jpg"]}
    project.define_attribute("gender", ["female", "male"], "ada")
    project.define_attribute("pose", ["frontal", "profile"], "ada")
    for value in ("female", "male"):
        project.tag_images([ids[n] for n, spec in IMAGES.items() if spec[4] == value], "gender", value, "ada")
    project.tag_images([ids["c0"], ids["s0"], ids["broken"], ids["unlabelled"]], "pose", "frontal", "ada")
    first = add_predictions(project, tmp_path, 1, {n: ("val", IMAGES[n][0]) for n in names}, ids)
    second = add_predictions(project, tmp_path, 2, RUN_2, ids)
    return project, ids, first, second


def counted(frame: pd.DataFrame, **where) -> dict[tuple, int]:
    """The frame's rows matching `where`, as {(label, predicted, provider, domain, query, gender, pose): n}."""
    mask = pd.Series(True, index=frame.index)
    for column, value in where.items():
        mask &= frame[column] == value
    return {tuple(row[:-1]): row[-1] for row in frame[mask].itertuples(index=False)}


def test_audit_frame_counts_the_usable_labelled_images_alike_in_source_tags_and_prediction(audited):
    store, ids, first_run, run = audited
    frame = store.audit_frame(run)
    assert list(frame.columns) == ["label", "predicted", "provider", "domain", "query", "gender", "pose", "n"]
    assert frame["n"].sum() == len(IMAGES) and not frame.drop(columns="n").duplicated().any()
    rows = counted(frame)
    assert rows[("circle", "circle", WIKI, "upload.wikimedia.org", "round things", "female", "frontal")] == 1, "c0"
    assert rows[("circle", "circle", WIKI, "upload.wikimedia.org", "round things", "female", None)] == 1, "c1"
    assert rows[("circle", "square", OPENVERSE, "www.flickr.com", "circle", "female", None)] == 1, "c2"
    assert rows[("square", "circle", None, None, None, "male", None)] == 1, "s1"
    assert rows[("square", "square", WIKI, "upload.wikimedia.org", "square", None, None)] == 1, "s2, untagged"
    assert rows[("circle", None, None, None, None, "female", None)] == 1, "c3: a training-split prediction is not one"
    assert rows[("circle", None, OPENVERSE, "www.flickr.com", "circle", "male", None)] == 1, "c5: the run never saw it"
    unrun = store.audit_frame(None)
    assert unrun["predicted"].isna().all() and unrun["n"].sum() == len(IMAGES)
    first = store.audit_frame(first_run)
    assert (first["predicted"] == first["label"]).all(), "run 1 predicted every image as its label"


def test_audit_tables_on_the_frame_give_the_known_figures(audited):
    store, _, _, run = audited
    frame = store.audit_frame(run)
    metrics = subgroup_metrics(frame, ["gender"]).set_index("subgroup")
    assert metrics.loc["female", ["images", "n", "correct"]].tolist() == [6, 5, 4]
    assert metrics.loc["male", ["images", "n", "correct"]].tolist() == [4, 3, 2]
    assert metrics.loc["(untagged)", ["images", "n", "correct"]].tolist() == [2, 1, 1]
    assert metrics.loc["female", "accuracy"] == pytest.approx(0.8)
    gaps = disparities(subgroup_metrics(frame, ["gender"]), threshold=0.05, min_n=3)
    assert gaps[["best", "worst", "flagged"]].values.tolist() == [["female", "male", True]]
    assert gaps["gap"].iloc[0] == pytest.approx(0.8 - 2 / 3)
    shares = representation(frame, ["gender"]).set_index(["label", "subgroup"])["n"]
    assert shares[("circle", "female")] == 4 and shares[("square", "female")] == 2
    assert shares[("circle", "(untagged)")] == 0 and shares[("square", "(untagged)")] == 2
    skew = source_skew(frame).set_index(["by", "value", "label"])["n"]
    assert skew[("domain", "upload.wikimedia.org", "circle")] == 2 and skew[("provider", "(unknown)", "square")] == 4
    figure = accuracy_figure(subgroup_metrics(frame, ["gender"]))
    assert dict(zip(figure.data[0].y, figure.data[0].x)) == pytest.approx(
        {"gender: female": 0.8, "gender: male": 2 / 3, "gender: (untagged)": 1.0})


def test_tag_coverage_counts_usable_labelled_images_only(audited):
    store, ids, _, run = audited
    for audited_run in (None, run):
        coverage = tag_coverage(store.audit_frame(audited_run), store.attribute_names())
        assert coverage.values.tolist() == [["gender", 10, 12], ["pose", 2, 12]]
    assert store.image_tags(ids["c0"]) == {"gender": "female", "pose": "frontal"}
    assert store.image_tags(ids["s5"]) == {}


def test_tagging_is_an_event_and_undo_restores_the_tags(audited):
    store, ids, _, run = audited
    assert store.tag_images([ids["s2"], ids["s3"]], "gender", "male", "bea") == 2
    square_wiki = {"label": "square", "provider": WIKI}
    assert counted(store.audit_frame(run), **square_wiki) == {
        ("square", "square", WIKI, "upload.wikimedia.org", "square", "male", None): 2}, "s2 and s3, now alike"
    events = store.query("SELECT action, before, after FROM events WHERE actor = 'bea' ORDER BY id")
    assert [e[0] for e in events] == ["tag", "tag"]
    assert store.undo_last("bea").line() == "Undid tag on 2 images."
    assert counted(store.audit_frame(run), **square_wiki) == {
        ("square", "square", WIKI, "upload.wikimedia.org", "square", "female", None): 1,
        ("square", "square", WIKI, "upload.wikimedia.org", "square", None, None): 1}
    assert store.tag_images([ids["c0"]], "gender", None, "bea") == 1
    assert store.image_tags(ids["c0"]) == {"pose": "frontal"}
    with pytest.raises(EditError, match="not a value of gender"):
        store.tag_images([ids["c0"]], "gender", "robot", "bea")


def test_an_attribute_named_like_an_audit_column_is_refused_with_a_reason(audited):
    store, _, _, run = audited
    store.define_attribute("query", ["a", "b"], "ada")
    with pytest.raises(EditError, match="may not be called query"):
        store.audit_frame(run)
    store.define_attribute("n", ["a", "b"], "ada")
    with pytest.raises(EditError, match="may not be called n, query"):
        store.audit_frame(run)
