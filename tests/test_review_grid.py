"""The Review grid's actions as the server runs them: each is one batch of events."""

from __future__ import annotations

import pytest

from curation.store import open_store
from curation.ui.review import GRID_HANDLERS


@pytest.fixture
def store(project_copy):
    s = open_store(project_copy)
    yield s
    s.close()


def act(store, kind: str, **action):
    return GRID_HANDLERS[kind](store, "tester", {"kind": kind, "seq": 1, **action})


def test_a_label_key_labels_every_selected_image_in_one_batch(store):
    ids = [r[0] for r in store.query("SELECT id FROM images WHERE status = 'ok' ORDER BY id LIMIT 20")]
    assert act(store, "label", ids=ids, label="star") == ("Labelled 20 images 'star'.", True)
    batches = store.query("SELECT count(DISTINCT batch), count(*) FROM events WHERE action = 'label'")[0]
    changed = store.query("SELECT count(*) FROM images WHERE id IN (SELECT unnest(?)) AND label = 'star'", [ids])[0][0]
    assert batches[0] == 1 and changed == 20


def test_flag_clear_tag_and_undo_from_the_grid(store):
    first, second = [r[0] for r in store.query("SELECT id FROM images WHERE status = 'ok' ORDER BY id LIMIT 2")]
    assert act(store, "flag", ids=[first], flag="biased", note="one photographer") == (
        "Flagged 1 image as Biased.", True)
    assert store.query("SELECT kind, note FROM flags WHERE image_id = ? AND active", [first]) == [
        ("biased", "one photographer")]
    assert act(store, "unflag", ids=[first]) == ("Cleared the flags of 1 image.", True)
    assert act(store, "undo") == ("Undid clearing flags on 1 image.", False)
    assert act(store, "tag", ids=[first, second], tag_name=None) == (
        "No attribute to tag: define one on the Audit page first.", False)
    store.define_attribute("gender", ["female", "male"], "tester")
    assert act(store, "tag", ids=[first, second], tag_name="gender", tag_value="male") == (
        "Tagged 2 images gender: male.", True)
    assert store.image_tags(first) == store.image_tags(second) == {"gender": "male"}
    assert act(store, "tag", ids=[second], tag_name="gender", tag_value="") == ("Cleared gender on 1 image.", True)
    assert store.image_tags(second) == {}


def test_an_action_without_images_says_what_to_do(store):
    assert act(store, "label", ids=[], label="star") == (
        "Select images first (click, Shift+click, drag, or Ctrl+A).", False)
    assert act(store, "flag", ids=[], flag="biased")[0] == "Select images first."
    assert store.query("SELECT count(*) FROM events")[0][0] == 0
