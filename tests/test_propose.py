"""Attribute values proposed from a few tags: the proposal on constructed vectors, the job and bulk
confirmation on lfw10 (a stand-in attribute: the person's group), and the Audit page's section."""

from __future__ import annotations

import shutil
import time

import numpy as np
import pytest

from apptest import app, assert_clean, cached
from curation.propose import propose_values
from curation.propose_run import propose_attribute
from curation.store import open_store

RNG = np.random.default_rng(2)


def two_groups() -> np.ndarray:
    return np.vstack([RNG.normal(0, 0.05, (5, 3)), RNG.normal(0, 0.05, (5, 3)) + [1, 0, 0]]).astype(np.float32)


def test_one_tag_per_value_is_enough_to_propose():
    tags = np.array(["a", None, None, None, None, "b", None, None, None, None], dtype=object)
    values, confidence = propose_values(two_groups(), tags)
    assert list(values) == ["a"] * 5 + ["b"] * 5
    assert (confidence[[1, 2, 3, 4, 6, 7, 8, 9]] > 0.8).all() and confidence[0] == 1.0


def test_a_point_halfway_is_a_tie_and_one_value_is_certain():
    vectors = np.array([[0, 0], [2, 0], [1, 0]], dtype=np.float32)
    _, confidence = propose_values(vectors, np.array(["a", "b", None], dtype=object))
    assert confidence[2] == pytest.approx(0.5)
    values, confidence = propose_values(vectors, np.array(["a", None, None], dtype=object))
    assert list(values) == ["a"] * 3 and (confidence == 1).all()


def test_no_tag_no_proposal():
    with pytest.raises(ValueError, match="tag a few"):
        propose_values(two_groups(), np.full(10, None, dtype=object))


@pytest.fixture
def tagged_lfw(lfw_project, tmp_path):
    """lfw10 with an attribute 'group' (the first five people A, the others B), two images of each person
    tagged; the store and each image's true group."""
    root = tmp_path / "project"
    shutil.copytree(lfw_project[0], root)
    store = open_store(root)
    people = store.label_names()
    truth = {i: "A" if people.index(label) < 5 else "B" for i, label in store.query("SELECT id, label FROM images")}
    store.define_attribute("group", ["A", "B"], "admin")
    for person in people:
        ids = [i for i, in store.query("SELECT id FROM images WHERE label = ? ORDER BY id LIMIT 2", [person])]
        store.tag_images(ids, "group", truth[ids[0]], "tagger")
    yield store, truth
    store.close()


def test_proposals_on_lfw_are_right_and_confirmed_in_one_undoable_batch(tagged_lfw):
    store, truth = tagged_lfw
    assert not store.has_proposals()
    line = propose_attribute(store, "group", "dlib-resnet34")
    assert store.has_proposals()
    assert "80 values proposed from 20 tagged images" in line
    rows = store.open_proposals("group")
    assert len(rows) == 80
    assert (rows["value"] == rows["image_id"].map(truth)).mean() >= 0.95
    assert store.query("SELECT count(*) FROM image_attributes WHERE value IS NOT NULL")[0][0] == 20, "nothing silent"
    sure = rows[rows["confidence"] >= rows["confidence"].median()]
    assert store.confirm_proposals(sure["image_id"], "group", "reviewer") == len(sure) > 0
    assert len(store.open_proposals("group")) == 80 - len(sure)
    overview = store.proposal_overview()
    assert overview["confirmed"].sum() == 20 + len(sure) and overview["proposed"].sum() == 80 - len(sure)
    assert store.undo_last("reviewer").reverted == len(sure)
    assert len(store.open_proposals("group")) == 80


def test_audit_page_proposes_and_confirms(tagged_lfw, monkeypatch):
    store, truth = tagged_lfw
    root = store.project.root
    store.close()
    monkeypatch.setenv("CURATION_PROJECT", str(root))
    try:
        at = app("app_pages/audit.py")
        assert_clean(at)
        assert any("confirmed tags" in c.value for c in at.caption)
        at.button(key="propose-run").click().run()
        shared = cached(root)
        while shared.jobs("propose")[0].active:
            time.sleep(0.2)
        at.run()
        assert_clean(at)
        assert any("await confirmation" in c.value for c in at.caption), "the audit says what rests on proposals"
        open_before = len(shared.open_proposals("group"))
        at.slider(key="propose-confidence").set_value(0.55).run()
        chosen = shared.open_proposals("group").query("confidence >= 0.55")
        left_out = int(chosen["image_id"].iloc[0])
        at.multiselect(key="propose-leave-out").set_value([left_out]).run()
        at.button(key="propose-confirm").click().run()
        assert_clean(at)
        assert len(shared.open_proposals("group")) == open_before - (len(chosen) - 1)
        assert left_out in set(shared.open_proposals("group")["image_id"])
    finally:
        from curation.ui.context import cached_store

        cached_store(str(root)).close()
        cached_store.clear()
