"""The smaller doors of issue 12 (item 8): wildcards in "Source contains", long notes, a symbolic
link loop given to ingest, and files that failed for a reason that can pass."""

from __future__ import annotations

import pytest

from curation import ingest as ingest_module
from curation import synth
from curation.cli import main
from curation.ingest import ingest
from curation.store import EditError, ReviewFilter
from curation.store.edits import MAX_NOTE_LENGTH
from curation.verify import Failure


def test_source_contains_matches_percent_and_underscore_literally(project, tmp_path):
    for n, name in enumerate(["a_b", "axb", "100%", "100x", "back\\slash"]):
        synth.class_image("circle", n).save(tmp_path / f"{name}.jpg", "JPEG")
    ingest(project, [tmp_path], workers=1)
    assert project.count_images(ReviewFilter(source="a_b")) == 1
    assert project.count_images(ReviewFilter(source="100%")) == 1
    assert project.count_images(ReviewFilter(source="%")) == 1
    assert project.count_images(ReviewFilter(source="back\\slash")) == 1
    assert project.count_images(ReviewFilter(source=".jpg")) == 5


def test_a_note_has_a_length_limit(project, tmp_path):
    synth.class_image("circle", 0).save(tmp_path / "a.jpg", "JPEG")
    ingest(project, [tmp_path], workers=1)
    with pytest.raises(EditError, match=f"at most {MAX_NOTE_LENGTH} characters"):
        project.add_flag([1], "biased", "x" * (MAX_NOTE_LENGTH + 1), "ada")
    assert project.add_flag([1], "biased", "x" * MAX_NOTE_LENGTH, "ada") == 1


def test_a_symlink_loop_given_to_ingest_is_one_sentence(project, tmp_path, capsys):
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    root = project.project.root
    project.close()
    assert main(["ingest", str(root), str(loop)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "loops back on itself" in err and "Traceback" not in err


def test_a_file_that_could_not_be_read_is_tried_again(project, tmp_path, monkeypatch):
    synth.class_image("circle", 0).save(tmp_path / "a.jpg", "JPEG")
    with monkeypatch.context() as patch:
        patch.setattr(ingest_module, "read_source", lambda path: Failure("unreadable_file", "Permission denied."))
        ingest(project, [tmp_path], workers=1)
    assert project.report()["images"] == {"total": 1, "ok": 0, "failed": 1}
    summary = ingest(project, [tmp_path], workers=1)
    assert summary.already_known == 0
    assert project.report()["images"] == {"total": 1, "ok": 1, "failed": 0}
    assert project.query("SELECT status FROM images ORDER BY id") == [("retried",), ("ok",)]
    assert ingest(project, [tmp_path], workers=1).already_known == 1, "a usable file is not read again"


def test_a_file_unreadable_twice_stays_one_failure(project, tmp_path, monkeypatch):
    synth.class_image("circle", 0).save(tmp_path / "a.jpg", "JPEG")
    monkeypatch.setattr(ingest_module, "read_source", lambda path: Failure("unreadable_file", "Permission denied."))
    ingest(project, [tmp_path], workers=1)
    ingest(project, [tmp_path], workers=1)
    assert project.report()["images"] == {"total": 1, "ok": 0, "failed": 1}
    assert project.report()["failed_by_reason"] == {"unreadable_file": 1}
