"""Peeling the labels' pools on worker processes: the same groups, bit for bit, as peeling them in
the job's process, with progress and cancel per pool; the clean job uses them on large projects."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from curation.clean import peel
from curation.clean.joint import clean_labels, pools_of
from curation.clean.peel import PeelingCancelled, deal, peel_here, peel_in_workers
from curation.jobs.worker import WorkerFailed, follow_workers

SAME = 0.6
DIM = 16


def project(seed: int = 0, labels: int = 5, per_label: int = 40):
    """Labels of one person each plus a few of another's faces; two faces share an image in each
    pool, and an attribute is set on some faces (blocked pairs the peeling must honour)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(labels, DIM))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    person = np.repeat(np.arange(labels), per_label)
    impostor = rng.random(len(person)) < 0.1
    person[impostor] = (person[impostor] + rng.integers(1, labels, impostor.sum())) % labels
    vectors = centres[person] + rng.normal(scale=0.07, size=(len(person), DIM))
    images = np.arange(len(person))
    images[1::per_label] = images[0::per_label]
    attributes = np.full((len(person), 1), None, dtype=object)
    attributes[rng.random(len(person)) < 0.2, 0] = "glasses"
    attributes[rng.random(len(person)) < 0.1, 0] = "none"
    names = np.array([f"label {k}" for k in range(labels)], dtype=object)[np.repeat(np.arange(labels), per_label)]
    return vectors, images, names, attributes


def on_workers(root, **kwargs):
    return lambda pools, same: peel_in_workers(pools, same, root, 2, **kwargs)


def test_workers_find_the_groups_peeling_here_finds(tmp_path):
    vectors, images, labels, attributes = project()
    seen = []
    here = pools_of(vectors, images, labels, SAME, attributes)
    there = pools_of(vectors, images, labels, SAME, attributes,
                     on_workers(tmp_path, progress=lambda done, total: seen.append((done, total))))
    assert [pool.label for pool in there] == [pool.label for pool in here]
    assert all(len(a.groups) == len(b.groups) and all(np.array_equal(x, y) for x, y in zip(a.groups, b.groups))
               for a, b in zip(here, there))
    assert sum(len(pool.groups) for pool in here) >= len(here)
    assert seen == [(k, len(here)) for k in range(1, len(here) + 1)]
    assert not any((tmp_path / "work").iterdir())


def test_cleaning_on_workers_suggests_what_cleaning_here_suggests(tmp_path):
    vectors, images, labels, attributes = project(seed=1)
    here = clean_labels(vectors, images, labels, SAME, attributes)
    there = clean_labels(vectors, images, labels, SAME, attributes, peel=on_workers(tmp_path))
    pd.testing.assert_frame_equal(here.faces, there.faces)
    pd.testing.assert_frame_equal(here.merges, there.merges)
    assert (here.faces["action"] != "keep").any()


def test_a_cancel_stops_the_workers_and_leaves_no_file(tmp_path):
    vectors, images, labels, attributes = project()
    with pytest.raises(PeelingCancelled):
        pools_of(vectors, images, labels, SAME, attributes, on_workers(tmp_path, cancelled=lambda: True))
    assert not any((tmp_path / "work").iterdir())


def test_peeling_here_reports_each_pool_and_stops_between_pools():
    vectors, images, labels, attributes = project()
    pools = pools_of(vectors, images, labels, SAME, attributes, lambda pools, same: [[] for _ in pools])
    seen = []
    with pytest.raises(PeelingCancelled):
        peel_here(pools, SAME, lambda done, total: seen.append(done), cancelled=lambda: len(seen) == 2)
    assert seen == [1, 2]


def test_pools_are_dealt_largest_first_to_the_least_loaded_worker():
    assert deal([3, 2, 3, 2], 2) == [[0, 1], [2, 3]]
    assert deal([10, 1, 9, 2, 3], 2) == [[0], [2, 4, 3, 1]]  # the cost grows with the size squared: 100 against 95
    assert deal([5], 4) == [[0]]


def test_a_worker_that_fails_stops_the_others_with_its_last_line(tmp_path):
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    with pytest.raises(WorkerFailed, match="No such file"):
        follow_workers("curation.clean.peel", [[str(tmp_path / "absent.pkl")]] * 2, logs, lambda message: 1)


@pytest.fixture
def lfw_copy(lfw_project, tmp_path):
    root = tmp_path / "project"
    shutil.copytree(lfw_project[0], root)
    return root


def test_the_clean_job_peels_on_workers_with_the_same_suggestions(lfw_copy, monkeypatch):
    from curation.clean.run import clean_project
    from curation.store import open_store

    store = open_store(lfw_copy)
    here = clean_project(store, "dlib-resnet34", actor="tester")
    monkeypatch.setattr(peel, "WORKER_PAIRS", 0)
    messages = []
    there = clean_project(store, "dlib-resnet34", actor="tester",
                          progress=lambda done, total, message: messages.append(message))
    store.close()
    assert there == here
    peeled = [message for message in messages if "labels peeled" in message]
    assert len(peeled) == here.identities and peeled[-1].endswith(f"{here.identities} of {here.identities} labels peeled")


def test_a_cancelled_clean_job_records_nothing(lfw_copy, monkeypatch):
    from curation.jobs.runner import JobContext, start_job
    from curation.store import open_store

    store = open_store(lfw_copy)
    monkeypatch.setattr(peel, "WORKER_PAIRS", 0)
    monkeypatch.setattr(JobContext, "cancelled", lambda self: True)
    job_id = start_job(store, "clean", {"model": "dlib-resnet34"}, wait=True)
    job, runs = store.job(job_id), store.clean_runs()
    store.close()
    assert job.status == "cancelled" and "no suggestion recorded" in job.message
    assert runs.empty
