"""Training and evaluation: splits, versions, metrics, a real run on the demo data, the CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from curation.ingest import ingest
from curation.jobs import start_job
from curation.store import init_project
from curation.train.dataset import make_snapshot, stratified_split, version_id
from curation.train.evaluate import (accuracy, confused_pairs, counts_of, final_metrics, matrix_from_counts,
                                     most_confused_labels, per_class)
from curation.jobs.kinds import TrainParams
from curation.train.fit import fit_linear

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data" / "images"
DEMO_ACCURACY = 0.8
QUICK = TrainParams(epochs=1, image_size=32)


def test_stratified_split_keeps_every_label_in_both_splits_and_is_seeded():
    labels = ["a"] * 10 + ["b"] * 5 + ["c"] * 2 + ["d"]
    split = stratified_split(labels, 0.2, seed=3)
    by_label = pd.DataFrame({"label": labels, "split": split}).groupby("label")["split"].apply(list)
    assert by_label["a"].count("val") == 2 and by_label["b"].count("val") == 1 and by_label["c"].count("val") == 1
    assert by_label["d"] == ["train"]
    assert split == stratified_split(labels, 0.2, seed=3)
    assert split != stratified_split(labels, 0.2, seed=4)


def test_version_id_depends_on_content_not_order():
    a = pd.DataFrame({"sha256": ["x", "y"], "label": ["cat", "dog"]})
    assert version_id(a) == version_id(a.iloc[::-1])
    assert version_id(a) != version_id(a.assign(label=["dog", "dog"]))
    snap = make_snapshot(a.assign(image_id=[2, 1], path=["p", "q"]), {}, 0.5, 0)
    assert list(snap.table["image_id"]) == [1, 2] and snap.labels == ["cat", "dog"]


def test_metrics_from_the_confusion_matrix():
    preds = pd.DataFrame({"label": ["a", "a", "a", "b", "b", "c"], "predicted": ["a", "a", "b", "b", "a", "c"],
                          "loss": [0.1] * 6, "split": ["val"] * 6})
    matrix = matrix_from_counts(counts_of(preds), ["a", "b", "c"])
    assert matrix.loc["a"].tolist() == [2, 1, 0] and matrix.loc["b"].tolist() == [1, 1, 0]
    assert accuracy(matrix) == pytest.approx(4 / 6)
    scores = per_class(matrix).set_index("label")
    assert scores.loc["a", "precision"] == pytest.approx(2 / 3) and scores.loc["a", "recall"] == pytest.approx(2 / 3)
    assert scores.loc["c", "f1"] == 1.0
    assert confused_pairs(matrix).values.tolist() == [["a", "b", 1], ["b", "a", 1]]
    assert final_metrics(preds)["accuracy"] == pytest.approx(4 / 6)


def test_the_labels_in_the_most_errors_in_the_matrix_order():
    labels = [f"l{i:03d}" for i in range(300)]
    counts = pd.DataFrame({"label": labels, "predicted": labels, "n": 50})
    errors = pd.DataFrame({"label": ["l007", "l200", "l200", "l150"], "predicted": ["l100", "l007", "l009", "l150"],
                           "n": [9, 4, 3, 99]})
    matrix = matrix_from_counts(pd.concat([counts, errors]), labels)
    assert most_confused_labels(matrix, 3) == ["l007", "l100", "l200"]
    assert most_confused_labels(matrix, 4) == ["l007", "l009", "l100", "l200"]
    assert confused_pairs(matrix, 2).values.tolist() == [["l007", "l100", 9], ["l200", "l007", 4]]


def test_confused_pairs_over_many_cells_equal_sorting_every_cell_ties_included():
    rng = np.random.default_rng(3)
    labels = [f"l{i:02d}" for i in range(60)]
    matrix = pd.DataFrame(rng.integers(0, 6, size=(60, 60)), index=labels, columns=labels)
    every = sorted(((a, b, int(matrix.loc[a, b])) for a in labels for b in labels if a != b and matrix.loc[a, b]),
                   key=lambda r: (-r[2], r[0], r[1]))
    for top in (1, 10, 400):
        assert confused_pairs(matrix, top).values.tolist() == [list(r) for r in every[:top]]


def test_linear_head_separates_clustered_embeddings():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(5, 64))
    labels = [f"id{i % 5}" for i in range(400)]
    vectors = [centres[i % 5] + 0.3 * rng.normal(size=64) for i in range(400)]
    table = pd.DataFrame({"image_id": range(400), "label": labels, "vector": vectors,
                          "split": stratified_split(labels, 0.25, 0)})
    epochs = []
    model, classes, preds = fit_linear(table, TrainParams(arch="linear"), epochs.append)
    assert classes == [f"id{i}" for i in range(5)] and model.out_features == 5
    assert final_metrics(preds)["val_accuracy"] >= 0.95 and epochs[0]["epoch"] == 1


@pytest.fixture
def project(project_copy):
    store = init_project(project_copy)
    yield store
    store.close()


@pytest.mark.slow
def test_a_default_run_on_the_demo_project_reaches_the_stated_accuracy(project):
    job_id = start_job(project, "train", TrainParams().as_dict(), wait=True)
    job = project.job(job_id)
    assert job.status == "done", job.error
    run = project.runs()[0]
    assert run["metrics"]["val_accuracy"] >= DEMO_ACCURACY, run["metrics"]
    epochs = project.run_epochs(run["id"])
    assert list(epochs["epoch"]) == list(range(1, 31))
    assert epochs["train_loss"].iloc[-1] < epochs["train_loss"].iloc[0]
    root = project.project.root
    assert (root / run["model_path"]).is_file() and (root / run["torchscript_path"]).is_file()


def test_a_run_records_its_version_split_predictions_and_model(project):
    job_id = start_job(project, "train", {**QUICK.as_dict(), "seed": 7}, "ada", wait=True)
    assert project.job(job_id).status == "done", project.job(job_id).error
    run = project.runs()[0]
    assert (run["status"], run["arch"], run["params"]["seed"], run["created_by"]) == ("done", "resnet34", 7, "ada")
    assert "from scratch" in run["weights"] and run["device"] == "cpu"
    rows, left_out = project.training_rows()
    assert left_out == {"label_conflicts": 2, "flagged": 3, "unlabelled": 0}
    version = project.query("SELECT images, left_out FROM dataset_versions WHERE id = ?", [run["dataset_version"]])
    assert version[0][0] == len(rows) and json.loads(version[0][1]) == {**left_out, "missing_original": 0}
    preds = project.query_df("SELECT * FROM predictions WHERE run_id = ?", [run["id"]])
    assert len(preds) == len(rows) and set(preds["split"]) == {"train", "val"}
    assert preds["confidence"].between(0, 1).all() and (preds["loss"] >= 0).all()
    flagged = project.query("SELECT image_id FROM flags WHERE active")
    assert not set(preds["image_id"]) & {r[0] for r in flagged}
    counts = project.prediction_counts(run["id"], "val")
    assert counts["n"].sum() == run["metrics"]["val_images"]
    import torch

    scripted = torch.jit.load(str(project.project.root / run["torchscript_path"]))
    assert scripted(torch.zeros(1, 3, 32, 32)).shape == (1, 4)


def test_same_data_same_version_and_a_relabel_makes_a_new_one(project):
    start_job(project, "train", QUICK.as_dict(), wait=True)
    first = project.runs()[0]
    rows, left_out = project.training_rows()
    assert make_snapshot(rows, left_out, 0.2, 99).version == first["dataset_version"]
    project.set_label([rows["image_id"].iloc[0]], "square", "ada")
    start_job(project, "train", QUICK.as_dict(), wait=True)
    second = project.runs()[0]
    assert second["dataset_version"] != first["dataset_version"]
    changed = project.changed_predictions(first["id"], second["id"])
    assert set(changed.columns) == {"image_id", "label", "before", "after", "confidence", "split"}
    assert (changed["before"] != changed["after"]).all()


def test_a_run_leaves_out_images_whose_original_is_missing(project):
    rows, _ = project.training_rows()
    lost = project.query("SELECT sha256, ext FROM images WHERE id = ?", [int(rows["image_id"].iloc[0])])[0]
    project.project.original_path(*lost).unlink()
    job_id = start_job(project, "train", QUICK.as_dict(), wait=True)
    job = project.job(job_id)
    assert job.status == "done", job.error
    assert "1 image left out: its original is missing" in job.message
    version = project.query("SELECT images, left_out FROM dataset_versions")[0]
    assert version[0] == len(rows) - 1 and json.loads(version[1])["missing_original"] == 1


def test_embedding_leaves_out_images_whose_original_is_missing(project):
    from curation.embed.run import embed_project

    lost = project.query("SELECT sha256, ext FROM images WHERE status = 'ok' ORDER BY id LIMIT 2")
    for sha, ext in lost:
        project.project.original_path(sha, ext).unlink()
    summary = embed_project(project, "hog")
    assert summary.missing == 2 and summary.embedded == project.scan_counts()["images"] - 2
    assert "2 left out because their file is missing" in summary.line()


def test_training_refuses_a_project_without_two_labels(tmp_path):
    store = init_project(tmp_path / "one")
    ingest(store, [SAMPLE / "circle"], labels_from_folders=True, workers=1)
    job = store.job(start_job(store, "train", QUICK.as_dict(), wait=True))
    assert job.status == "failed" and "at least two labels" in job.error
    store.close()


def test_cli_train_and_export_predictions(project_copy, tmp_path):
    root = project_copy
    cli = [sys.executable, "-m", "curation.cli"]
    done = subprocess.run(cli + ["train", str(root), "--epochs", "1", "--image-size", "32"], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "Run #1 finished: validation accuracy" in done.stdout
    out = tmp_path / "preds.csv"
    subprocess.run(cli + ["export", str(root), str(out), "--what", "predictions"], check=True, timeout=120)
    table = pd.read_csv(out)
    assert list(table.columns) == ["run", "source", "label", "predicted", "confidence", "loss", "split"]
    assert (table["run"] == 1).all() and table["source"].str.startswith("/").all()
    report = json.loads(subprocess.run(cli + ["report", str(root), "--json"], capture_output=True, text=True,
                                       check=True).stdout)
    assert [(r["id"], r["arch"], r["status"]) for r in report["runs"]] == [(1, "resnet34", "done")]
    assert 0 <= report["runs"][0]["metrics"]["accuracy"] <= 1
    bad = subprocess.run(cli + ["train", str(root), "--arch", "vgg"], capture_output=True, text=True)
    assert bad.returncode == 2


def test_linear_on_dlib_embeddings_of_lfw10_reaches_090(lfw_project, tmp_path):
    root = tmp_path / "lfw"
    shutil.copytree(lfw_project[0], root)
    store = init_project(root)
    job = store.job(start_job(store, "train", TrainParams(arch="linear", embedder="dlib-resnet34").as_dict(),
                              wait=True))
    assert job.status == "done", job.error
    run = store.runs()[0]
    store.close()
    assert run["arch"] == "linear" and run["params"]["embedder"] == "dlib-resnet34"
    assert run["metrics"]["val_images"] >= 20
    assert run["metrics"]["val_accuracy"] >= 0.9, run["metrics"]


def test_linear_without_embeddings_says_what_to_do(project):
    job = project.job(start_job(project, "train", TrainParams(arch="linear", embedder="dlib-resnet34").as_dict(),
                                wait=True))
    assert job.status == "failed" and "No image has a dlib-resnet34 embedding yet" in job.error
