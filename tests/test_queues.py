"""Work queues: membership, order (the model's doubts by loss), leaving a queue, and the pace."""

from __future__ import annotations

from datetime import timedelta

import pytest

from curation.store import ReviewFilter, open_store
from curation.store.db import utcnow


@pytest.fixture
def store(project_copy):
    s = open_store(project_copy)
    yield s
    s.close()


def add_run(store, losses: dict[int, tuple[str, str, float, float]]) -> int:
    run_id = store.create_run("linear", "v1", {}, None, "tester")
    store.finish_run(run_id, "done", {"metrics": {"accuracy": 0.5}})
    with store.transaction() as cur:
        for image_id, (label, predicted, confidence, loss) in losses.items():
            cur.execute("INSERT INTO predictions VALUES (?, ?, ?, ?, ?, ?, 'val')",
                        [run_id, image_id, label, predicted, confidence, loss])
    return run_id


def test_the_models_doubts_come_by_loss_and_leave_once_changed(store):
    add_run(store, {1: ("circle", "star", 0.9, 2.0), 4: ("circle", "circle", 0.4, 0.9),
                    5: ("circle", "square", 0.7, 3.0), 6: ("circle", "circle", 0.99, 0.01)})
    doubts = ReviewFilter(queue="doubts")
    assert [i.id for i in store.page_images(doubts, 0, 10)] == [5, 1, 4]
    assert store.queue_counts()["doubts"] == 3
    assert store.neighbour_id(doubts, 5, 1) == 1 and store.neighbour_id(doubts, 1, -1) == 5
    store.set_label([5], "square", "tester")
    assert [i.id for i in store.page_images(doubts, 0, 10)] == [1, 4]
    assert store.neighbour_id(doubts, 5, 1) == 1, "the next one is defined once an image has left the queue"
    assert store.position_of(doubts, 4) == 1


def test_unlabelled_and_flagged_queues(store):
    counts = store.queue_counts()
    assert counts["unlabelled"] == 0 and counts["flagged"] == 5
    store.add_flag([10], "biased", "", "tester")
    assert store.queue_counts()["flagged"] == 6
    store.clear_flags([10], None, "tester")
    assert store.queue_counts()["flagged"] == 5


def test_the_pace_is_working_time_per_image_without_breaks(store):
    assert store.seconds_per_image("ann") is None
    start = utcnow()
    with store.transaction() as cur:
        for n, (offset, images) in enumerate([(0, [1]), (10, [4, 5]), (30, [6]), (1000, [7]), (1006, [8])]):
            for image_id in images:
                cur.execute("INSERT INTO events VALUES (?, ?, 'ann', 'label', ?, '{}', '{}', ?, NULL)",
                            [100 + n * 10 + image_id, start + timedelta(seconds=offset), image_id, f"b{n}"])
    # gaps 10 s (2 images), 20 s (1 image), 970 s (a break, left out), 6 s (1 image): 36 s for 4 images
    assert store.seconds_per_image("ann") == pytest.approx(9.0)
