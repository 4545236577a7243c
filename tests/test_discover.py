"""Discovering identities: the scores, the clustering on constructed faces, the job on lfw10 with its
labels removed, and the Clusters page's discovery section (name a group; merge two)."""

from __future__ import annotations

import shutil
import time

import numpy as np
import pytest

from apptest import app, assert_clean, cached
from curation.discover import bcubed_f, chinese_whispers, grow_people, nearest_neighbours, pairwise_f, proposed_people
from curation.discover_run import discover_people
from curation.store import open_store

RNG = np.random.default_rng(1)


def test_scores_of_perfect_and_lumped_groupings():
    truth = np.array([0, 0, 1, 1])
    assert pairwise_f(truth, np.array([5, 5, 7, 7])) == (1.0, 1.0, 1.0)
    assert bcubed_f(truth, np.array([5, 5, 7, 7])) == (1.0, 1.0, 1.0)
    precision, recall, _ = pairwise_f(truth, np.zeros(4))
    assert (precision, recall) == (pytest.approx(2 / 6), 1.0)
    precision, recall, _ = bcubed_f(truth, np.arange(4))
    assert (precision, recall) == (1.0, 0.5)


def two_people_and_a_bridge() -> tuple[np.ndarray, np.ndarray]:
    """Two tight people 1.16 apart and one face halfway between them (0.58 from each: under dlib's 0.6)."""
    a = RNG.normal(0, 0.03, (6, 4))
    b = RNG.normal(0, 0.03, (6, 4)) + np.array([1.16, 0, 0, 0])
    return np.vstack([a, b, [[0.58, 0, 0, 0]]]).astype(np.float32), np.array([0] * 6 + [1] * 6 + [2])


def test_chinese_whispers_separates_two_people():
    vectors, _ = two_people_and_a_bridge()
    groups = chinese_whispers(vectors[:12], 0.5)
    assert len(set(groups[:6])) == 1 and len(set(groups[6:])) == 1 and groups[0] != groups[6]


def test_a_face_between_two_people_does_not_join_them():
    vectors, truth = two_people_and_a_bridge()
    ours = grow_people(vectors, np.arange(len(vectors)), 0.6)
    assert len(set(ours[:6])) == 1 and len(set(ours[6:12])) == 1 and ours[0] != ours[6]
    assert ours[12] not in (ours[0], ours[6])


def test_faces_of_one_photo_are_never_one_person():
    vectors = np.vstack([RNG.normal(0, 0.01, (2, 4)), RNG.normal(0, 0.01, (2, 4))]).astype(np.float32)
    groups = grow_people(vectors, np.array([1, 1, 2, 3]), 0.6)
    assert groups[0] != groups[1]
    assert groups[2] == groups[3] and groups[2] in (groups[0], groups[1]), "the other photos join one of them"


def people_on_the_sphere(people: int, faces: int, spread: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`people` random directions in 32 dimensions, `faces` each scattered `spread` (root-mean-square
    distance between two faces of one person)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(people, 32))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    noise = rng.normal(0, spread / np.sqrt(2 * 32), (people, faces, 32))
    return (centres[:, None, :] + noise).reshape(-1, 32).astype(np.float32), np.repeat(np.arange(people), faces)


def test_the_join_follows_the_groups_own_spread():
    """Tight people 0.55 apart stay apart (a fixed cut at the same-person distance would join them);
    loose people whose faces are 0.55 apart are each one group."""
    tight, truth = people_on_the_sphere(2, 10, 0.25)
    shift = np.zeros(32, np.float32)
    shift[0] = 0.55 - np.linalg.norm(tight[:10].mean(0) - tight[10:].mean(0))
    tight[10:] = tight[10:] - tight[10:].mean(0) + tight[:10].mean(0) + shift
    groups = grow_people(tight, np.arange(20), 0.6)
    assert bcubed_f(truth, groups)[2] == 1.0
    loose, truth = people_on_the_sphere(8, 10, 0.5, seed=2)
    assert bcubed_f(truth, grow_people(loose, np.arange(80), 0.6))[2] == 1.0


def test_exact_and_approximate_neighbours_agree(monkeypatch):
    vectors, _ = people_on_the_sphere(40, 10, 0.4)
    exact = nearest_neighbours(vectors, 5)
    monkeypatch.setattr("curation.discover.EXACT_UP_TO", 100)
    approximate = nearest_neighbours(vectors, 5)
    assert (exact[0][:, 0] == approximate[0][:, 0]).mean() > 0.95
    assert np.allclose(exact[1][:, 0], approximate[1][:, 0], atol=1e-3) or \
        (np.isclose(exact[1][:, 0], approximate[1][:, 0], atol=1e-3).mean() > 0.95)


def test_proposed_people_leave_lone_faces_out():
    vectors, _ = two_people_and_a_bridge()
    vectors = np.vstack([vectors, [[0, 9, 0, 0]]]).astype(np.float32)
    groups, distance = proposed_people(vectors, np.arange(len(vectors)), 0.6)
    assert groups[-1] == -1 and distance[-1] == 0
    assert (distance[:12] < 0.2).all()


@pytest.fixture
def unlabelled_lfw(lfw_project, tmp_path):
    """lfw10 with every label removed (the folder each photo came from is still in `sources`)."""
    root = tmp_path / "project"
    shutil.copytree(lfw_project[0], root)
    store = open_store(root)
    with store.transaction() as cur:
        cur.execute("UPDATE images SET label = NULL")
    yield root, store
    store.close()


def test_discovery_on_lfw_without_labels_finds_the_ten_people(unlabelled_lfw):
    root, store = unlabelled_lfw
    line = discover_people(store, "dlib-resnet34")
    assert "proposed people" in line
    run = store.latest_discovery()
    rows = store.discovered_groups(int(run["id"]))
    folder = dict(store.query("SELECT image_id, label_hint FROM sources"))
    rows["person"] = rows["image_id"].map(folder)
    big = rows[rows["size"] >= 5]
    assert big.groupby("grp")["person"].nunique().max() == 1, "a large group mixes people"
    assert big.groupby("grp")["person"].first().nunique() == 10


def test_clusters_page_names_and_merges_discovered_people(unlabelled_lfw, monkeypatch):
    root, store = unlabelled_lfw
    store.close()
    monkeypatch.setenv("CURATION_PROJECT", str(root))
    try:
        at = app("app_pages/clusters.py")
        assert_clean(at)
        at.button(key="discover-run").click().run()
        shared = cached(root)
        while shared.jobs("discover")[0].active:
            time.sleep(0.2)
        at.run()
        assert_clean(at)
        groups = shared.discovered_groups(int(shared.latest_discovery()["id"]))
        first, second, third = list(dict.fromkeys(groups["grp"]))[:3]
        first_images = set(groups.loc[groups["grp"] == first, "image_id"])
        person_a, person_b = shared.label_names()[:2]  # the labels stay defined after their images lost them
        at.selectbox(key=f"discover-name-{first}").set_value(person_a).run()
        at.button(key=f"discover-label-{first}").click().run()
        assert_clean(at)
        labelled = {i for i, in shared.query("SELECT id FROM images WHERE label = ?", [person_a])}
        assert labelled == first_images
        at.checkbox(key=f"discover-tick-{second}").check().run()
        at.checkbox(key=f"discover-tick-{third}").check().run()
        at.selectbox(key="discover-merge-name").set_value(person_b).run()
        at.button(key="discover-merge").click().run()
        assert_clean(at)
        merged = {i for i, in shared.query("SELECT id FROM images WHERE label = ?", [person_b])}
        assert merged == set(groups.loc[groups["grp"].isin([second, third]), "image_id"])
        assert shared.query("SELECT count(*) FROM events WHERE action = 'label' AND actor = 'tester'")[0][0] == \
            len(labelled) + len(merged)
    finally:
        from curation.ui.context import cached_store

        cached_store(str(root)).close()
        cached_store.clear()
