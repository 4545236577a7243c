"""`curation check`: find what a disk or a person did to a project, repair what can be rebuilt."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from curation.check import check_project
from curation.jobs import start_job
from curation.store import open_store


def run_cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "curation.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def originals(store, n: int) -> list[tuple[int, str, str]]:
    return store.query("SELECT id, sha256, ext FROM images WHERE status = 'ok' ORDER BY id LIMIT ?", [n])


def add_face(store, image_id: int) -> str:
    """A face row as detection would write it (its chip not on disk yet)."""
    chip = f"faces/xx/face-{image_id}.jpg"
    marks = [30.0, 30.0, 40.0, 30.0, 60.0, 30.0, 70.0, 30.0, 50.0, 50.0]
    with store.transaction() as cur:
        cur.execute("INSERT INTO faces VALUES (?, ?, 0, 10, 10, 90, 90, 0.99, ?, ?, ?)",
                    [image_id, image_id, marks, marks, chip])
    return chip


def test_a_whole_project_checks_clean(project_copy):
    result = run_cli("check", project_copy, "--json")
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["ok"] and found["originals_checked"] == 333
    assert (found["missing_originals"], found["altered_originals"], found["missing_thumbnails"]) == (0, 0, 0)
    assert found["database"]["checkpoint_error"] is None


def test_check_finds_repairs_and_restores(project_copy):
    store = open_store(project_copy)
    (a, sa, ea), (b, sb, eb), (c, sc, _), (d, sd, _) = originals(store, 4)
    project = store.project
    missing = project.original_path(sa, ea)
    kept = missing.read_bytes()
    missing.unlink()
    altered = project.original_path(sb, eb)
    altered.write_bytes(altered.read_bytes() + b"!")
    project.thumb_path(sc).unlink()
    project.thumb_path(sd).write_bytes(b"")
    orphan = project.root / "images" / "zz" / ("f" * 64 + ".jpg")
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"stray")
    chip = add_face(store, c)
    with store.transaction() as cur:
        cur.execute("INSERT INTO jobs (id, kind, params, status, pid, started_at) "
                    "VALUES (999, 'detect', '{}', 'running', 1, now())")
    store.close()

    result = run_cli("check", project_copy, "--json")
    assert result.returncode == 1 and "problems found" in result.stderr
    found = json.loads(result.stdout)
    assert (found["missing_originals"], found["altered_originals"], found["missing_thumbnails"]) == (1, 1, 2)
    assert (found["missing_chips"], found["orphan_files"], found["jobs_left_running"]) == (1, 1, 1)
    assert found["lists"]["missing_originals"][0]["image_id"] == a

    result = run_cli("check", project_copy, "--repair")
    assert result.returncode == 1
    assert "2 thumbnails rebuilt, 1 chips rebuilt" in result.stdout
    assert "2 problems remain: 1 originals missing, 1 originals altered" in result.stdout
    assert Image.open(project.thumb_path(sc)).size[0] > 0 and Image.open(project.thumb_path(sd)).size[0] > 0
    assert Image.open(project.root / chip).size == (150, 150)
    assert (project.root / "orphans" / orphan.relative_to(project.root)).read_bytes() == b"stray"
    assert not orphan.exists()

    store = open_store(project_copy)
    assert store.query("SELECT id, status, reason FROM images WHERE id IN (?, ?) ORDER BY id", [a, b]) == [
        (a, "failed", "missing_original"), (b, "failed", "altered_original")]
    assert store.query("SELECT status FROM jobs WHERE id = 999") == [("failed",)]
    assert store.last_check()["remaining"] == 2
    store.close()

    missing.write_bytes(kept)
    result = run_cli("check", project_copy, "--repair", "--json")
    assert result.returncode == 1
    assert json.loads(result.stdout)["repaired"]["originals restored"] == 1
    store = open_store(project_copy)
    assert store.query("SELECT status, reason FROM images WHERE id = ?", [a]) == [("ok", None)]
    actions = [r[0] for r in store.query("SELECT action FROM events ORDER BY id")]
    assert actions == ["file_check", "file_check", "undo"]
    store.close()


def test_undo_puts_back_what_a_repair_recorded(project_copy):
    store = open_store(project_copy)
    (a, sa, ea), = originals(store, 1)
    store.project.original_path(sa, ea).unlink()
    report = check_project(store, repair=True, actor="ada")
    assert report.repaired["originals recorded as failed"] == 1
    assert store.query("SELECT status FROM images WHERE id = ?", [a]) == [("failed",)]
    assert store.undo_last("ada").reverted == 1
    assert store.query("SELECT status, reason FROM images WHERE id = ?", [a]) == [("ok", None)]
    store.close()


def test_check_runs_as_a_job_with_progress(project_copy):
    store = open_store(project_copy)
    job_id = start_job(store, "check", {"repair": False}, wait=True)
    job = store.job(job_id)
    assert (job.status, job.done, job.total) == ("done", 333, 333)
    assert job.message.startswith("Checked 333 originals: all is well.")
    assert store.last_check()["problems"] == 0
    store.close()


@pytest.mark.parametrize("flags", [[], ["--json"]])
def test_check_of_a_missing_project_is_one_sentence(tmp_path, flags):
    result = run_cli("check", tmp_path / "nothing", *flags)
    assert result.returncode == 1 and "No project at" in result.stderr and "Traceback" not in result.stderr


def test_pages_still_open_after_a_repair(project_copy):
    """Images recorded as failed for their file show up with their reason among the failed ones."""
    store = open_store(project_copy)
    (a, sa, ea), = originals(store, 1)
    store.project.original_path(sa, ea).unlink()
    check_project(store, repair=True)
    report = store.report()
    assert report["failed_by_reason"]["missing_original"] == 1
    assert Path(store.project.thumb_path(sa)).is_file()
    store.close()


def test_home_shows_a_banner_after_a_check_found_problems(project_copy, monkeypatch):
    from apptest import app, assert_clean, cached

    monkeypatch.setenv("CURATION_PROJECT", str(project_copy))
    at = app("app_pages/home.py")
    assert not at.warning
    store = cached(project_copy)
    (a, sha, ext), = originals(store, 1)
    store.project.thumb_path(sha).unlink()
    check_project(store)
    at.run()
    assert_clean(at)
    assert "1 missing thumbnails" in at.warning[0].value
    at.button(key="check-repair").click().run()
    deadline = time.monotonic() + 120
    while store.jobs("check", limit=1)[0].active and time.monotonic() < deadline:
        time.sleep(0.2)
    assert store.last_check()["remaining"] == 0 and store.project.thumb_path(sha).is_file()
    at.run()
    assert_clean(at)
    assert not at.warning and "Check #" in at.success[0].value
