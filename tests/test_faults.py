"""What disks and people do to a project: truncated databases, read-only folders, full disks, killed
parents. Each ends as one sentence naming the real cause, and nothing already written is lost.

The disk faults use a small tmpfs (mounting one needs root; the tests skip without it)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from curation import jobs, synth
from curation.ingest import ingest
from curation.jobs import start_job
from curation.project import ProjectError
from curation.store import EditError, ReviewFilter, init_project, open_store
from helpers import make_operation

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "images"


def run_cli(*args, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "curation.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def one_sentence(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    for word in words:
        assert word in result.stderr


@pytest.fixture(scope="module")
def big_database(tmp_path_factory) -> Path:
    """A project whose database is well over 5 MB."""
    root = tmp_path_factory.mktemp("big") / "project"
    store = init_project(root)
    with store.transaction() as cur:
        cur.execute("INSERT INTO events SELECT i, now(), 'x', 'label', i, '{\"label\": \"a\"}', "
                    "'{\"label\": \"' || md5(i::varchar) || '\"}', md5(i::varchar), NULL FROM range(1, 300000) t(i)")
    store.close()
    assert (root / "project.duckdb").stat().st_size > 8_000_000
    return root


@pytest.mark.parametrize("size", [0, 100_000, 5_000_000])
def test_a_truncated_database_is_one_sentence(big_database, tmp_path, size):
    root = tmp_path / "project"
    root.mkdir()
    with open(big_database / "project.duckdb", "rb") as src:
        (root / "project.duckdb").write_bytes(src.read(size))
    with pytest.raises(ProjectError, match="restore it from a backup"):
        open_store(root)
    for command in (["report", root, "--json"], ["check", root], ["serve", root, "--port", "1"]):
        one_sentence(run_cli(*command), "project.duckdb", "restore it from a backup")


def test_a_database_that_is_a_folder_is_one_sentence(tmp_path):
    root = tmp_path / "project"
    (root / "project.duckdb").mkdir(parents=True)
    one_sentence(run_cli("report", root), "No project at")


def mount_tmpfs(path: Path, options: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.decode().strip() or 'not root'})")


@pytest.fixture
def tmpfs(tmp_path):
    """A 40 MB tmpfs at tmp_path/disk; unmounted after the test."""
    disk = tmp_path / "disk"
    mount_tmpfs(disk, "size=40m")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def remount(disk: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(disk)], check=True)


def fill(disk: Path, leave: int) -> Path:
    """Fill the disk but `leave` bytes."""
    stat = os.statvfs(disk)
    filler = disk / "filler"
    with open(filler, "wb") as fh:
        fh.write(b"\0" * max(0, stat.f_bavail * stat.f_frsize - leave))
    return filler


def test_a_read_only_folder_is_read_and_refuses_writes_in_one_sentence(project_copy, tmpfs, tmp_path):
    new = tmp_path / "new"
    new.mkdir()
    for n in range(3):
        synth.class_image("star", 500 + n).save(new / f"star-{n}.jpg")
    root = tmpfs / "project"
    shutil.copytree(project_copy, root)
    remount(tmpfs, "ro")
    try:
        result = run_cli("report", root, "--json")
        assert result.returncode == 0, result.stderr
        store = open_store(root)
        assert store.read_only and store.count_images(ReviewFilter()) == 333
        with pytest.raises(EditError, match="is read-only .*this change was not saved"):
            store.set_label([1], "zzz", "ada")
        store.close()
        one_sentence(run_cli("ingest", root, new), "is read-only", "Make it writable")
    finally:
        remount(tmpfs, "rw")


def test_a_folder_made_read_only_during_ingest_names_the_cause(tmp_path):
    """The originals' folder turns read-only under a running project (a read-only disk mounted there)."""
    store = init_project(tmp_path / "project")
    images = store.project.root / "images"
    mount_tmpfs(images, "size=1m,ro")
    try:
        with pytest.raises(ProjectError, match="is read-only .*the ingest stopped after 0 of 87 files"):
            ingest(store, [SAMPLE / "circle"], labels_from_folders=True, workers=2)
    finally:
        subprocess.run(["umount", "-l", str(images)], check=False)
    summary = ingest(store, [SAMPLE / "circle"], labels_from_folders=True, workers=2)
    assert summary.files == 87 and store.query("SELECT count(*) FROM images")[0][0] == 86
    store.close()


def test_a_full_disk_refuses_edits_in_one_sentence_and_loses_none(project_copy, tmpfs):
    root = tmpfs / "project"
    shutil.copytree(project_copy, root)
    store = open_store(root)
    ids = [r[0] for r in store.query("SELECT id FROM images WHERE status = 'ok' ORDER BY id")]
    filler = fill(tmpfs, 200_000)
    saved = 0
    with pytest.raises(EditError) as refused:
        for n in range(5000):
            store.set_label([ids[n % len(ids)]], f"label-{n}", "ada")
            saved += 1
    assert "is full: this change was not saved" in str(refused.value)
    assert "rollback" not in str(refused.value)
    filler.unlink()
    store.set_label([ids[0]], "after", "ada")
    store.close()
    store = open_store(root)
    assert store.query("SELECT count(*) FROM events WHERE action = 'label'")[0][0] == saved + 1
    store.close()


def test_a_full_disk_during_ingest_names_the_cause_and_a_rerun_finishes(tmpfs):
    root = tmpfs / "project"
    store = init_project(root)
    filler = fill(tmpfs, 1_500_000)
    result_error = None
    try:
        ingest(store, [SAMPLE], labels_from_folders=True, workers=2)
    except ProjectError as exc:
        result_error = str(exc)
    assert result_error is not None and "is full: the ingest stopped after" in result_error
    filler.unlink()
    summary = ingest(store, [SAMPLE], labels_from_folders=True, workers=2)
    assert store.query("SELECT count(*) FROM images")[0][0] == 340
    assert summary.files == 344
    store.close()


def test_workers_end_when_their_parent_is_killed(tmp_path):
    """A parent killed with SIGKILL takes a busy worker that armed its lifeline with it; a control
    child without one runs on (what the face worker did: parent 1, 92% CPU)."""
    busy = "import time\nwhile True: time.sleep(0.05)\n"
    script = tmp_path / "parent.py"
    script.write_text(
        "import subprocess, sys, time\n"
        f"armed = subprocess.Popen([sys.executable, '-c', 'from curation.lifeline import exit_with_parent\\n'\n"
        f"                          'exit_with_parent()\\n' + {busy!r}])\n"
        f"control = subprocess.Popen([sys.executable, '-c', {busy!r}])\n"
        "print(armed.pid, control.pid, flush=True)\n"
        "time.sleep(600)\n")
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                              env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    armed, control = map(int, parent.stdout.readline().split())
    try:
        time.sleep(3)
        assert alive(armed) and alive(control)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 10
        while alive(armed) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(armed) and alive(control)
    finally:
        for pid in (armed, control):
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def fill_the_disk_job(ctx, disk: Path) -> tuple[str, bool]:
    """A job whose disk fills up under it (test only): its progress writes are soon refused."""
    fill(disk, 0)
    for n in range(10_000):
        ctx.progress(n, 10_000, f"step {n} of a job whose disk is full")
    return "never", False


def test_a_job_on_a_full_disk_ends_with_the_real_cause_once_space_is_freed(project_copy, tmpfs, monkeypatch):
    monkeypatch.setattr("curation.jobs.runner.FINISH_RETRY_S", 0.2)
    monkeypatch.setitem(jobs.OPERATIONS, "fill-the-disk",
                        make_operation("fill-the-disk", lambda ctx: fill_the_disk_job(ctx, tmpfs)))
    root = tmpfs / "project"
    shutil.copytree(project_copy, root)
    store = open_store(root)
    job_id = start_job(store, "fill-the-disk", {})
    time.sleep(2)
    assert store.job(job_id).active
    (tmpfs / "filler").unlink()
    deadline = time.monotonic() + 30
    while store.job(job_id).active and time.monotonic() < deadline:
        time.sleep(0.2)
    job = store.job(job_id)
    assert job.status == "failed" and "is full: this change was not saved" in job.error
    assert "rollback" not in job.error
    store.close()


def test_the_app_serves_a_read_only_project_and_says_why_an_edit_fails(project_copy, tmpfs, monkeypatch):
    from apptest import app, assert_clean
    from test_pages import grid_ids

    from curation.store import EditError
    from curation.ui.context import cached_store
    from curation.ui.review import GRID_HANDLERS

    root = tmpfs / "project"
    shutil.copytree(project_copy, root)
    remount(tmpfs, "ro")
    try:
        monkeypatch.setenv("CURATION_PROJECT", str(root))
        home = app("app_pages/home.py")
        assert_clean(home)
        review = app("app_pages/review.py")
        assert_clean(review)
        first = grid_ids(review)[0]
        label = {"kind": "label", "seq": 1, "ids": [first], "label": "star"}
        with pytest.raises(EditError) as refused:
            GRID_HANDLERS["label"](cached_store(str(root)), "tester", label)
        assert "is read-only" in str(refused.value) and "this change was not saved" in str(refused.value), \
            "the grid shows this sentence (an EditError's text) where the annotator pressed the key"
    finally:
        cached_store.clear()
        remount(tmpfs, "rw")
