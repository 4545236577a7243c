"""The pipeline at a glance: step figures and the next action, from hand-built reports."""

from __future__ import annotations

import copy

import pytest

from curation.pipeline import next_action, steps

EMPTY = {
    "images": {"total": 0, "ok": 0, "failed": 0},
    "failed_by_reason": {},
    "duplicates": {"exact": 0, "near": 0},
    "labels": {},
    "unlabelled": 0,
    "flags": {},
    "faces": 0,
    "embeddings": {},
    "downloads": {"ok": 0, "failed": 0, "refused": 0, "by_reason": {}},
    "suggestions": {"remove": 0, "relabel": 0, "merge": 0},
    "runs": [],
    "events": 0,
}


def report(**changes) -> dict:
    """EMPTY with top-level keys replaced, or nested ones merged when given a dict."""
    out = copy.deepcopy(EMPTY)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out[key], dict) and key not in ("labels", "flags", "embeddings"):
            out[key].update(value)
        else:
            out[key] = value
    return out


CLEAN = report(images={"total": 10, "ok": 10}, labels={"cat": 6, "dog": 4})


def by_name(rep: dict) -> dict:
    return {s.name: s for s in steps(rep)}


def test_steps_are_the_pipeline_in_order():
    assert [s.name for s in steps(EMPTY)] == ["Gather", "Verify", "Review", "Clean", "Train", "Evaluate"]


def test_empty_project_figures():
    got = by_name(EMPTY)
    assert (got["Verify"].value, got["Verify"].unit) == ("0", "usable images")
    assert got["Evaluate"].value == "-" and got["Evaluate"].detail == "no run yet"
    assert next_action(EMPTY).startswith("Add images")


def test_step_figures_come_from_the_report():
    rep = report(
        images={"total": 12, "ok": 10, "failed": 2},
        downloads={"ok": 7, "failed": 3, "refused": 1},
        labels={"cat": 6, "dog": 3},
        unlabelled=1,
        flags={"duplicate": 2, "label_conflict": 1, "other": 4},
        duplicates={"exact": 1, "near": 2},
        suggestions={"remove": 2, "relabel": 1, "merge": 1},
        faces=9,
        embeddings={"facenet-vggface2": 9, "dlib-resnet34": 8},
        runs=[{"id": 1, "metrics": {"accuracy": 0.5}}, {"id": 2, "metrics": {"accuracy": 0.875}},
              {"id": 3, "metrics": {}}],
    )
    got = {name: (step.value, step.unit, step.detail) for name, step in by_name(rep).items()}
    assert got == {
        "Gather": ("7", "downloaded", "3 failed, 1 refused"),
        "Verify": ("10", "usable images", "2 failed files"),
        "Review": ("9", "labelled", "1 unlabelled, 7 flags"),
        "Clean": ("4", "suggestions", "2 near duplicates, 1 label conflicts"),
        "Train": ("3", "runs", "9 faces, 17 embeddings"),
        "Evaluate": ("87.5%", "best accuracy", ""),
    }


@pytest.mark.parametrize("changes, starts", [
    ({}, "The dataset is verified and labelled"),
    ({"images": {"failed": 3}}, "Look at the 3 failed files"),
    ({"images": {"failed": 3}, "flags": {"duplicate": 2}}, "Check 2 near duplicates"),
    ({"flags": {"duplicate": 2}, "unlabelled": 5}, "Label 5 unlabelled images"),
    ({"flags": {"duplicate": 2, "label_conflict": 1}, "unlabelled": 5}, "Resolve 1 label conflicts"),
    ({"images": {"ok": 0}, "flags": {"label_conflict": 1}, "unlabelled": 5}, "Add images"),
])
def test_next_action_follows_the_order_of_the_work(changes, starts):
    rep = copy.deepcopy(CLEAN)
    for key, value in changes.items():
        if isinstance(value, dict) and key == "images":
            rep[key].update(value)
        else:
            rep[key] = value
    action = next_action(rep)
    assert action.startswith(starts), action
    assert action.endswith(".")


def test_a_flag_kind_with_no_images_does_not_count():
    rep = copy.deepcopy(CLEAN)
    rep["flags"] = {"label_conflict": 0, "duplicate": 0}
    assert next_action(rep).startswith("The dataset is verified and labelled")


def test_counts_too_long_for_a_tile_show_three_digits_and_the_exact_count_below():
    big = report(images={"total": 1_200_000, "ok": 1_188_092, "failed": 11_908},
                 labels={"a": 1_129_025}, unlabelled=59_067, flags={"label_conflict": 7_123})
    tiles = {step.name: step for step in steps(big)}
    assert (tiles["Verify"].value, tiles["Verify"].unit) == ("1.19M", "1,188,092 usable images")
    assert tiles["Verify"].detail == "11,908 failed files"
    assert (tiles["Review"].value, tiles["Review"].unit) == ("1.13M", "1,129,025 labelled")
    assert (tiles["Gather"].value, tiles["Gather"].unit) == ("0", "downloaded")
    small = {step.name: step for step in steps(report(images={"total": 9_999, "ok": 9_999}))}
    assert (small["Verify"].value, small["Verify"].unit) == ("9999", "usable images")


@pytest.mark.parametrize("n, text", [(10_000, "10k"), (12_110, "12.1k"), (99_950, "100k"), (121_100, "121k"),
                                     (999_500, "1M"), (1_188_092, "1.19M"), (12_345_678, "12.3M")])
def test_short_counts(n, text):
    from curation.pipeline import short_count

    assert short_count(n) == text
