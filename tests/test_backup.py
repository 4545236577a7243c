"""Backups taken while the project is in use, restored, and compared table by table and file by file."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from curation.backup import backup_project, project_files, restore_project
from curation.project import ProjectError
from curation.store import open_store


def run_cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "curation.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def assert_same_project(a: Path, b: Path) -> None:
    first, second = open_store(a), open_store(b)
    try:
        assert first.table_names() == second.table_names()
        for table in first.table_names():
            assert first.table_rows(table) == second.table_rows(table), table
    finally:
        first.close()
        second.close()
    files = project_files(a)
    assert files == project_files(b)
    for relative in files:
        assert (a / relative).read_bytes() == (b / relative).read_bytes(), relative


def test_backup_while_edits_go_on_is_consistent(project_copy, tmp_path):
    store = open_store(project_copy)
    ids = [r[0] for r in store.query("SELECT id FROM images WHERE status = 'ok' ORDER BY id")]
    stop = threading.Event()

    def edit() -> None:
        for image_id in ids:
            if stop.is_set():
                return
            store.set_label([image_id], "zzz", "writer")

    writer = threading.Thread(target=edit)
    writer.start()
    try:
        backup_project(store, tmp_path / "during")
    finally:
        stop.set()
        writer.join()
    copy = restore_project(tmp_path / "during", tmp_path / "restored-during").path
    restored = open_store(copy)
    labelled = restored.query("SELECT count(*) FROM images WHERE label = 'zzz'")[0][0]
    events = restored.query("SELECT count(*) FROM events WHERE action = 'label'")[0][0]
    restored.close()
    assert labelled == events
    store.close()


def test_restore_gives_back_every_table_and_file(project_copy, tmp_path):
    store = open_store(project_copy)
    first = store.query("SELECT id FROM images WHERE status = 'ok' ORDER BY id LIMIT 3")
    store.set_label([r[0] for r in first], "zzz", "ada")
    store.add_flag([first[0][0]], "biased", "a note", "ada")
    (project_copy / "runs" / "run-0001").mkdir(parents=True)
    (project_copy / "runs" / "run-0001" / "model.pt").write_bytes(b"weights")
    summary = backup_project(store, tmp_path / "backup")
    store.close()
    assert summary.files == len(project_files(project_copy)) and summary.files > 600
    result = run_cli("restore", tmp_path / "backup", tmp_path / "restored")
    assert result.returncode == 0, result.stderr
    assert_same_project(project_copy, tmp_path / "restored")


def test_cli_backup_and_refusals(project_copy, tmp_path):
    result = run_cli("backup", project_copy, tmp_path / "b")
    assert result.returncode == 0 and "Backed up the database and" in result.stdout
    again = run_cli("backup", project_copy, tmp_path / "b")
    assert again.returncode == 1 and "already exists and is not empty" in again.stderr
    inside = run_cli("backup", project_copy, project_copy / "backups" / "one")
    assert inside.returncode == 1 and "cannot go inside the project" in inside.stderr
    next(iter((tmp_path / "b" / "thumbs").rglob("*.jpg"))).unlink()
    broken = run_cli("restore", tmp_path / "b", tmp_path / "r")
    assert broken.returncode == 1 and "is incomplete: 1 files are missing" in broken.stderr
    assert not (tmp_path / "r").exists()
    with pytest.raises(ProjectError, match="not a finished backup"):
        restore_project(tmp_path, tmp_path / "r")
