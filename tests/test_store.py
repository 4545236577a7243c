"""The store: schema, edits with their events, undo, review filters, the project lock, jobs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from PIL import Image

from curation import jobs, synth
from helpers import make_operation
from curation.ingest import ingest
from curation.store import EditError, ReviewFilter, open_store
from curation.store.db import utcnow
from curation.store.schema import MIGRATIONS, SCHEMA_VERSION, migrate


@pytest.fixture
def images(project, tmp_path) -> dict[str, int]:
    """A small project: name -> image id.

    c0 is filed under circle and square (label conflict), c1 has an exact copy, s0_near is a near
    duplicate of s0, broken is a failed file, u0 is unlabelled.
    """
    src = tmp_path / "src"
    (src / "circle").mkdir(parents=True)
    (src / "square").mkdir()
    for name, (label, index) in {"c0": ("circle", 0), "c1": ("circle", 1), "s0": ("square", 0)}.items():
        synth.class_image(label, index).save(src / label / f"{name}.jpg", "JPEG", quality=90)
    shutil.copyfile(src / "circle" / "c0.jpg", src / "square" / "c0_copy.jpg")
    shutil.copyfile(src / "circle" / "c1.jpg", src / "circle" / "c1_dup.jpg")
    synth.near_duplicate(Image.open(src / "square" / "s0.jpg")).save(src / "square" / "s0_near.jpg", "JPEG")
    synth.write_truncated_jpeg(src / "square" / "broken.jpg")
    loose = tmp_path / "loose"
    loose.mkdir()
    synth.class_image("star", 0).save(loose / "u0.jpg", "JPEG", quality=90)
    ingest(project, [src], labels_from_folders=True, workers=1)
    ingest(project, [loose], workers=1)
    ids = {}
    for source, image_id in project.query("SELECT source, image_id FROM sources"):
        ids.setdefault(Path(source).stem, image_id)
    return ids


def events(store, action: str | None = None) -> list[dict]:
    rows = store.query(
        "SELECT id, actor, action, image_id, before, after, batch, undoes FROM events "
        "WHERE ? IS NULL OR action = ? ORDER BY id", [action, action])
    keys = ("id", "actor", "action", "image_id", "before", "after", "batch", "undoes")
    return [dict(zip(keys, (*r[:4], json.loads(r[4]), json.loads(r[5]), *r[6:]))) for r in rows]


def label_of(store, image_id: int) -> str | None:
    return store.query("SELECT label FROM images WHERE id = ?", [image_id])[0][0]


def flag_rows(store) -> list[tuple]:
    return store.query("SELECT id, image_id, kind, active, created_by FROM flags ORDER BY id")


# schema


def test_schema_version_is_recorded_and_migrating_again_is_a_no_op(project):
    rows = project.query("SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
    assert [r[:2] for r in rows] == [(n + 1, name) for n, (name, _) in enumerate(MIGRATIONS)]
    assert rows[-1][0] == SCHEMA_VERSION
    assert migrate(project.cursor(), utcnow()) == SCHEMA_VERSION
    root = project.project.root
    project.close()
    again = open_store(root)
    try:
        assert again.query("SELECT version, name, applied_at FROM schema_migrations ORDER BY version") == rows
    finally:
        again.close()


def test_a_project_from_a_newer_version_is_refused(project):
    root = project.project.root
    with project.transaction() as cur:
        cur.execute("INSERT INTO schema_migrations VALUES (?, 'from the future', ?)", [SCHEMA_VERSION + 1, utcnow()])
    project.close()
    with pytest.raises(Exception, match="newer Curation Studio"):
        open_store(root)


# edits and their events


def test_set_label_writes_one_event_per_changed_image_in_one_batch(project, images):
    a, b, u = images["c0"], images["c1"], images["u0"]
    assert project.set_label([a, b, u], "circle", "alice") == 1
    assert label_of(project, u) == "circle"
    assert project.set_label([a, u], "round", "  bob ") == 2
    got = events(project, "label")
    assert [(e["actor"], e["image_id"], e["before"], e["after"]) for e in got] == [
        ("alice", u, {"label": None}, {"label": "circle"}),
        ("bob", a, {"label": "circle"}, {"label": "round"}),
        ("bob", u, {"label": "circle"}, {"label": "round"}),
    ]
    assert got[1]["batch"] == got[2]["batch"] != got[0]["batch"]
    assert "round" in project.label_names()


def test_add_flag_and_clear_flags_write_events_and_keep_the_rows(project, images):
    a, b = images["c1"], images["u0"]
    assert project.add_flag([a, b], "low_quality", " blurred ", "alice") == 2
    flagged = events(project, "flag")
    assert {e["image_id"] for e in flagged} == {a, b} and len({e["batch"] for e in flagged}) == 1
    assert all(e["before"] == {} and e["after"]["kind"] == "low_quality" and e["after"]["note"] == "blurred"
               for e in flagged)
    flag_ids = {e["after"]["flag_id"] for e in flagged}
    assert project.clear_flags([a, b], "low_quality", "bob") == 2
    cleared = events(project, "unflag")
    assert {e["after"]["flag_id"] for e in cleared} == flag_ids
    assert all(e["actor"] == "bob" and e["before"]["active"] is True and e["after"]["active"] is False
               for e in cleared)
    assert len({e["batch"] for e in cleared}) == 1
    rows = [r for r in flag_rows(project) if r[0] in flag_ids]
    assert len(rows) == 2 and all(r[3] is False and r[4] == "alice" for r in rows)
    assert project.clear_flags([a, b], None, "bob") == 0


def test_clear_flags_of_one_kind_leaves_the_others(project, images):
    c0 = images["c0"]
    project.add_flag([c0], "biased", "", "alice")
    assert project.clear_flags([c0], "biased", "alice") == 1
    assert project.report()["flags"] == {"duplicate": 1, "label_conflict": 1}
    assert project.clear_flags([c0], None, "alice") == 1
    assert project.report()["flags"] == {"duplicate": 1}


def sabotage_events(store, actor: str) -> None:
    """Make any event by `actor` violate a constraint, so the write fails after the change was made."""
    ddl = store.query("SELECT sql FROM duckdb_tables() WHERE table_name = 'events'")[0][0].rstrip().rstrip(";")
    assert ddl.endswith(")")
    with store.transaction() as cur:
        cur.execute("CREATE TABLE events_saved AS SELECT * FROM events")
        cur.execute("DROP TABLE events")
        cur.execute(ddl[:-1] + f", CHECK (actor <> '{actor}'))")
        cur.execute("INSERT INTO events SELECT * FROM events_saved")
        cur.execute("DROP TABLE events_saved")


@pytest.mark.parametrize("action", ["set_label", "add_flag", "clear_flags"])
def test_a_change_and_its_event_commit_together_or_not_at_all(project, images, action):
    ids = [images["c0"], images["s0"], images["u0"]]
    project.add_flag(ids, "other", "first", "alice")
    sabotage_events(project, "mallory")
    before = (project.query("SELECT id, label FROM images ORDER BY id"), flag_rows(project),
              project.label_names(), len(events(project)))
    call = {
        "set_label": lambda actor: project.set_label(ids, "brand new", actor),
        "add_flag": lambda actor: project.add_flag(ids, "biased", "", actor),
        "clear_flags": lambda actor: project.clear_flags(ids, "other", actor),
    }[action]
    with pytest.raises(duckdb.ConstraintException):
        call("mallory")
    after = (project.query("SELECT id, label FROM images ORDER BY id"), flag_rows(project),
             project.label_names(), len(events(project)))
    assert after == before
    assert call("carol") == 3
    assert len(events(project)) == before[3] + 3


@pytest.mark.parametrize("call", [
    lambda s, i: s.set_label([i], "   ", "alice"),
    lambda s, i: s.set_label([i], "circle", ""),
    lambda s, i: s.set_label([i], "x" * 101, "alice"),
    lambda s, i: s.add_flag([i], "not_a_kind", "", "alice"),
    lambda s, i: s.add_flag([i], "other", "", " "),
    lambda s, i: s.clear_flags([i], None, ""),
    lambda s, i: s.undo_last(""),
], ids=["empty-label", "empty-annotator", "long-label", "unknown-flag", "blank-annotator-flag",
        "empty-annotator-clear", "empty-annotator-undo"])
def test_bad_edits_raise_edit_error_and_change_nothing(project, images, call):
    before = project.query("SELECT count(*) FROM events")[0][0], flag_rows(project)
    with pytest.raises(EditError) as info:
        call(project, images["c1"])
    assert str(info.value).endswith(".")
    assert (project.query("SELECT count(*) FROM events")[0][0], flag_rows(project)) == before


# undo


def test_undo_reverts_the_actors_latest_batch_and_records_what_it_undoes(project, images):
    a, b = images["c1"], images["u0"]
    project.set_label([a, b], "first", "alice")
    project.set_label([a, b], "second", "alice")
    second_batch = [e["id"] for e in events(project, "label")][-2:]
    result = project.undo_last("alice")
    assert (result.action, result.reverted, result.skipped) == ("label", 2, 0)
    assert result.line() == "Undid label on 2 images."
    assert (label_of(project, a), label_of(project, b)) == ("first", "first")
    undos = events(project, "undo")
    assert sorted(u["undoes"] for u in undos) == sorted(second_batch)
    assert all(u["actor"] == "alice" and u["after"] == {"label": "first"} for u in undos)
    project.undo_last("alice")
    assert (label_of(project, a), label_of(project, b)) == ("circle", None)
    assert project.undo_last("alice").line() == "Nothing to undo."


def test_undo_of_flag_and_unflag(project, images):
    c1 = images["c1"]
    project.add_flag([c1], "wrong_identity", "", "alice")
    project.clear_flags([c1], "wrong_identity", "alice")
    assert project.report()["flags"].get("wrong_identity") is None
    assert project.undo_last("alice").action == "unflag"
    assert project.report()["flags"]["wrong_identity"] == 1
    assert project.undo_last("alice").action == "flag"
    assert project.report()["flags"].get("wrong_identity") is None
    assert [r[2:4] for r in flag_rows(project) if r[1] == c1] == [("wrong_identity", False)]


def test_undo_skips_an_image_someone_else_changed_since(project, images):
    a, b = images["c1"], images["u0"]
    project.set_label([a, b], "old", "alice")
    project.set_label([a, b], "mine", "alice")
    project.set_label([b], "theirs", "bob")
    result = project.undo_last("alice")
    assert (result.reverted, result.skipped) == (1, 1)
    assert "1 left as they are because they were changed since" in result.line()
    assert (label_of(project, a), label_of(project, b)) == ("old", "theirs")
    again = project.undo_last("alice")
    assert (again.reverted, again.skipped) == (1, 1), "the next undo goes on to alice's batch before"
    assert (label_of(project, a), label_of(project, b)) == ("circle", "theirs")
    assert project.undo_last("alice").action is None


def test_undo_never_touches_another_actors_batch(project, images):
    project.set_label([images["u0"]], "alices", "alice")
    assert project.undo_last("bob").action is None
    assert label_of(project, images["u0"]) == "alices"
    assert events(project, "undo") == []


def test_nothing_is_hard_deleted(project, images):
    counts = project.query("SELECT (SELECT count(*) FROM images), (SELECT count(*) FROM sources)")[0]
    flags_before = len(flag_rows(project))
    everything = list(images.values())
    project.set_label(everything, "one", "alice")
    project.add_flag(everything, "other", "", "alice")
    project.clear_flags(everything, None, "bob")
    project.undo_last("bob")
    project.undo_last("alice")
    project.undo_last("alice")
    assert project.query("SELECT (SELECT count(*) FROM images), (SELECT count(*) FROM sources)")[0] == counts
    assert len(flag_rows(project)) == flags_before + len(set(everything))


# review filters


def ids_of(store, **kwargs) -> set[int]:
    flt = ReviewFilter(**kwargs)
    ids = {item.id for item in store.page_images(flt, 0, 1000)}
    assert store.count_images(flt) == len(ids)
    return ids


def test_review_filters_return_the_right_images(project, images):
    i = images
    ok = {i["c0"], i["c1"], i["s0"], i["s0_near"], i["u0"]}
    assert i["c0"] == i["c0_copy"] and i["c1"] == i["c1_dup"]
    assert ids_of(project) == ok
    assert ids_of(project, labels=("circle",)) == {i["c0"], i["c1"]}
    assert ids_of(project, labels=("circle", "square")) == {i["c0"], i["c1"], i["s0"], i["s0_near"]}
    assert ids_of(project, unlabelled=True) == {i["u0"]}
    assert ids_of(project, labels=("square",), unlabelled=True) == {i["s0"], i["s0_near"], i["u0"]}
    assert ids_of(project, status="failed") == {i["broken"]}
    assert ids_of(project, status=None) == ok | {i["broken"]}
    assert ids_of(project, flag_kind="label_conflict") == {i["c0"]}
    assert ids_of(project, flag_kind="duplicate") == {i["s0_near"]}
    assert ids_of(project, flag_kind="any") == {i["c0"], i["s0_near"]}
    assert ids_of(project, flag_kind="none") == ok - {i["c0"], i["s0_near"]}
    assert ids_of(project, source="C1_DUP") == {i["c1"]}
    assert ids_of(project, source=" loose ") == {i["u0"]}
    assert ids_of(project, duplicates_only=True) == {i["c0"], i["c1"], i["s0"], i["s0_near"]}
    group = project.query("SELECT near_group FROM images WHERE id = ?", [i["s0_near"]])[0][0]
    assert ids_of(project, group=group) == {i["s0"], i["s0_near"]}
    assert ids_of(project, labels=("circle",), flag_kind="none") == {i["c1"]}


def test_filters_follow_edits(project, images):
    project.clear_flags([images["c0"]], "label_conflict", "alice")
    assert ids_of(project, flag_kind="label_conflict") == set()
    project.set_label([images["u0"]], "star", "alice")
    assert ids_of(project, unlabelled=True) == set()
    assert ids_of(project, labels=("star",)) == {images["u0"]}


def test_page_images_pages_in_id_order(project, images):
    flt = ReviewFilter(status=None)
    everything = sorted(set(images.values()))
    assert project.count_images(flt) == len(everything) == 6
    pages = [project.page_images(flt, page, 4) for page in range(3)]
    assert [len(p) for p in pages] == [4, 2, 0]
    assert [item.id for page in pages for item in page] == everything
    items = {item.id: item for page in pages for item in page}
    assert items[images["c1"]].sources == 2 and items[images["c0"]].flags == ("label_conflict",)
    assert items[images["broken"]].status == "failed" and items[images["broken"]].reason == "truncated"
    assert items[images["u0"]].label is None and items[images["u0"]].flags == ()
    circle = project.page_images(ReviewFilter(labels=("circle",)), 0, 1)
    assert [item.id for item in circle] == [min(images["c0"], images["c1"])]


# the project lock


def test_a_second_process_is_refused_at_once_while_the_project_is_open(project):
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "curation.cli", "report", str(project.project.root), "--json"],
                          capture_output=True, text=True, timeout=60)
    assert time.monotonic() - started < 10
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "is open in" in lines[0] and str(os.getpid()) in lines[0]


# jobs


def test_fail_orphaned_jobs_marks_jobs_of_a_stopped_process_failed(project):
    running = project.create_job("ingest", {"paths": []}, "alice")
    ours = project.create_job("detect", {}, "alice")
    finished = project.create_job("other", {}, "alice")
    project.finish_job(finished, "done", "ok")
    with project.transaction() as cur:
        cur.execute("UPDATE jobs SET pid = -1 WHERE id = ?", [running])
    assert project.fail_orphaned_jobs() == 1
    job = project.job(running)
    assert job.status == "failed" and "Interrupted" in job.error and job.finished_at is not None
    assert project.job(finished).status == "done"
    assert project.job(ours).status == "running", "a job of this process still runs"
    assert project.fail_orphaned_jobs() == 0


def test_ingest_job_runs_to_done_with_full_progress(project, tmp_path):
    folder = tmp_path / "few" / "circle"
    folder.mkdir(parents=True)
    for index in range(3):
        synth.class_image("circle", index).save(folder / f"{index}.jpg", "JPEG")
    job_id = jobs.start_job(project, "ingest", {"paths": [str(folder.parent)], "labels_from_folders": True},
                            actor="alice", wait=True)
    job = project.job(job_id)
    assert (job.kind, job.status, job.created_by, job.error) == ("ingest", "done", "alice", None)
    assert job.done == job.total == 3
    assert job.message.startswith("3 files, 3 new images")
    assert job.params["labels_from_folders"] is True
    assert project.report()["labels"] == {"circle": 3}


@pytest.fixture
def job_kind(monkeypatch):
    """Register throwaway job kinds (no params) for one test."""
    def register(name, fn):
        monkeypatch.setitem(jobs.OPERATIONS, name, make_operation(name, fn))

    return register


def test_a_job_that_raises_ends_failed_with_its_error(project, job_kind):
    def explode(ctx):
        ctx.progress(1, 4)
        raise RuntimeError("the disk caught fire")

    job_kind("test_explodes", explode)
    job = project.job(jobs.start_job(project, "test_explodes", {}, wait=True))
    assert job.status == "failed" and job.error == "RuntimeError: the disk caught fire"
    assert (job.done, job.total) == (1, 4)
    assert not job.active


def test_a_job_that_fails_with_the_projects_own_error_reads_as_its_sentence(project, job_kind):
    def refuse(ctx):
        raise jobs.JobError("There is nothing to do yet: ingest some images first.")

    job_kind("test_refuses", refuse)
    job = project.job(jobs.start_job(project, "test_refuses", {}, wait=True))
    assert job.status == "failed" and job.error == "There is nothing to do yet: ingest some images first."


def test_jobs_refuse_unknown_kinds_and_a_second_run_of_a_kind(project, job_kind):
    with pytest.raises(jobs.JobError, match="There is no job kind"):
        jobs.start_job(project, "no_such_kind", {})
    job_kind("test_once", lambda ctx: ("ran", False))
    project.create_job("test_once", {}, None)
    with pytest.raises(jobs.JobError, match="already running"):
        jobs.start_job(project, "test_once", {})


def test_a_background_job_can_be_cancelled(project, job_kind):
    def wait_for_cancel(ctx):
        deadline = time.monotonic() + 20
        while not ctx.cancelled() and time.monotonic() < deadline:
            time.sleep(0.02)
        return "stopped", ctx.cancelled()

    job_kind("test_waits", wait_for_cancel)
    job_id = jobs.start_job(project, "test_waits", {})
    assert project.job(job_id).active
    project.request_cancel(job_id)
    deadline = time.monotonic() + 20
    while project.job(job_id).active and time.monotonic() < deadline:
        time.sleep(0.02)
    job = project.job(job_id)
    assert job.status == "cancelled" and job.message == "stopped"
    assert "test_waits" not in [j.kind for j in project.jobs() if j.active]
