"""A project that lost files in a real browser: Review's grid and detail and Train show placeholders."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from curation.check import check_project
from curation.project import Project
from curation.store import open_store

from .grid import tile
from .harness import screenshot, served, wait_for_app
from .test_review_flow import first_usable_ids

pytestmark = pytest.mark.e2e


def damage(root, ids: list[int]) -> None:
    """Delete two thumbnails, corrupt one, delete one original and alter another."""
    store = open_store(root)
    rows = store.query("SELECT id, sha256, ext FROM images WHERE id IN (SELECT unnest(?))", [ids])
    store.close()
    project = Project(root)
    (a, sa, _), (b, sb, _), (c, sc, _), (d, sd, ed), (e, se, ee) = sorted(rows)
    project.thumb_path(sa).unlink()
    project.thumb_path(sb).unlink()
    project.thumb_path(sc).write_bytes(b"\x00" * 64)
    project.original_path(sd, ed).unlink()
    original = project.original_path(se, ee)
    original.write_bytes(original.read_bytes() + b"tampered")
    store = open_store(root)
    first = store.training_rows()[0].groupby("label").head(1).iloc[1]
    project.original_path(first["sha256"], first["ext"]).unlink(missing_ok=True)
    check_project(store)
    store.close()


def no_traceback(page) -> None:
    assert page.locator("[data-testid='stException']").count() == 0
    assert "Traceback" not in page.content()


def test_review_and_train_with_missing_files(project_copy, page, tmp_path):
    root = project_copy
    ids = first_usable_ids(root, 5)
    damage(root, ids)
    with served(root, tmp_path / "serve.log") as url:
        page.goto(f"{url}/?who=e2e-annotator")
        wait_for_app(page)
        assert page.get_by_text("The last check of the project's files").count() == 1
        screenshot(page, "missing-files-home-banner")
        page.goto(f"{url}/review?who=e2e-annotator")
        wait_for_app(page)
        page.wait_for_timeout(1500)
        no_traceback(page)
        assert tile(page, ids[0]).count() == 1
        assert tile(page, ids[0]).get_by_text("Thumbnail missing").count() == 1
        screenshot(page, "missing-files-review-grid")
        tile(page, ids[3]).dblclick()
        wait_for_app(page)
        no_traceback(page)
        assert page.get_by_text("is missing").count() >= 1
        screenshot(page, "missing-files-review-detail")
        page.goto(f"{url}/train?who=e2e-annotator")
        wait_for_app(page)
        page.get_by_text("Preview augmentation").click()
        wait_for_app(page)
        page.wait_for_timeout(1000)
        no_traceback(page)
        screenshot(page, "missing-files-train")


def curation(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "curation.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=600)


def test_check_and_repair_through_a_running_server(project_copy, tmp_path):
    root = project_copy
    store = open_store(root)
    sha = store.query("SELECT sha256 FROM images WHERE status = 'ok' ORDER BY id LIMIT 1")[0][0]
    store.close()
    thumb = Project(root).thumb_path(sha)
    thumb.unlink()
    with served(root, tmp_path / "serve.log"):
        found = curation("check", root)
        assert found.returncode == 1 and "1 thumbnails missing" in found.stdout, found.stderr
        through_the_server = curation("check", root, "--json")
        assert through_the_server.returncode == 1 and "1 problem found" in through_the_server.stderr
        assert json.loads(through_the_server.stdout)["missing_thumbnails"] == 1
        repaired = curation("check", root, "--repair")
        assert repaired.returncode == 0, repaired.stderr
        assert "1 thumbnails rebuilt" in repaired.stdout and repaired.stdout.strip().endswith("Nothing is wrong.")
        assert thumb.is_file()
