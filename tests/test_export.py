"""Exports (issue 12, item 3): hostile labels never write outside OUT, and no CSV the project writes
holds a cell a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from curation import synth
from curation.cli import main
from curation.export import (ExportError, csv_text, export_imagefolder, folder_names, imagefolder_zip, inside,
                             file_chunks, table, unpack_imagefolder)
from curation.ingest import ingest

FORMULAS = ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"]
PATHS = ["../../../../tmp/escape-x", "/tmp/escape-y", "..", ".", "nul\x00byte", "Cat", "cat"]


def hostile_project(store, tmp_path: Path, labels: list[str]) -> None:
    """One image per label, the labels written straight into the table as an older version allowed."""
    src = tmp_path / "src"
    src.mkdir()
    for n in range(len(labels)):
        synth.class_image(synth.SHAPES[n % 4], n).save(src / f"{n:02d}.jpg", "JPEG")
    ingest(store, [src], workers=1)
    with store.transaction() as cur:
        for n, label in enumerate(labels, start=1):
            cur.execute("UPDATE images SET label = ? WHERE id = ?", [label, n])


def cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def assert_no_formula(text: str) -> None:
    starts = [cell for cell in cells(text) if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert not starts, starts


def test_imagefolder_keeps_every_file_inside_out(project, tmp_path):
    hostile_project(project, tmp_path, PATHS)
    out = tmp_path / "deep" / "out"
    assert export_imagefolder(project, out) == len(PATHS)
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) == len(PATHS)
    assert all(p.resolve().parent.parent == out.resolve() for p in files)
    assert not Path("/tmp/escape-x").exists() and not Path("/tmp/escape-y").exists()
    assert not list((tmp_path / "deep").glob("*.jpg")) and not list(tmp_path.glob("*.jpg"))
    folders = sorted(p.name for p in out.iterdir())
    assert len(folders) == len(PATHS) and "Cat" in folders and "cat (2)" in folders


def test_folder_names_are_unique_even_ignoring_case():
    names = folder_names(["A", "a", "..", "_.."])
    assert len({n.casefold() for n in names.values()}) == 4


def test_a_target_outside_out_is_refused(tmp_path):
    with pytest.raises(ExportError, match="outside"):
        inside(tmp_path, "..", "x.jpg")
    (tmp_path / "link").symlink_to("/tmp")
    with pytest.raises(ExportError, match="outside"):
        inside(tmp_path, "link", "x.jpg")


def test_csv_export_neutralises_formulas(project, tmp_path):
    hostile_project(project, tmp_path, FORMULAS)
    text = b"".join(file_chunks(table(project, "images", batch_rows=2).batches, "csv")).decode()
    assert_no_formula(text)
    labels = pd.read_csv(io.StringIO(text))["label"].tolist()
    assert sorted(labels) == sorted("'" + f for f in FORMULAS)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_an_export_written_in_small_batches_is_the_whole_table(project, tmp_path, fmt):
    hostile_project(project, tmp_path, ["a", "b", "c", "d", "e"])
    whole = table(project, "images")
    streamed = table(project, "images", batch_rows=2)
    data = b"".join(file_chunks(streamed.batches, fmt))
    read = pd.read_csv(io.BytesIO(data)) if fmt == "csv" else pd.read_parquet(io.BytesIO(data))
    assert streamed.rows == len(read) == len(whole) == 5
    assert list(read.columns) == list(whole.columns) and read["source"].tolist() == whole["source"].tolist()


def test_an_empty_export_still_has_its_columns(project):
    for fmt in ("csv", "parquet"):
        streamed = table(project, "predictions", batch_rows=2)
        data = b"".join(file_chunks(streamed.batches, fmt))
        read = pd.read_csv(io.BytesIO(data)) if fmt == "csv" else pd.read_parquet(io.BytesIO(data))
        assert streamed.rows == 0 and list(read.columns) == ["run", "source", "label", "predicted", "confidence", "loss", "split"]


def test_csv_text_leaves_numbers_and_plain_text_alone():
    frame = pd.DataFrame({"label": ["cat", "=1"], "score": [-0.5, 2.0], "=col": ["a", "b"]})
    assert csv_text(frame).splitlines() == ['"label","score","\'=col"', '"cat",-0.5,"a"', '"\'=1",2.0,"b"']


def test_the_cli_export_goes_through_the_library(project, tmp_path, capsys):
    hostile_project(project, tmp_path, ["../../../../tmp/escape-cli", "=cmd"])
    root = project.project.root
    project.close()
    out = tmp_path / "cli-out"
    assert main(["export", str(root), str(out), "--what", "images", "--format", "imagefolder"]) == 0
    assert not Path("/tmp/escape-cli").exists() and len(list(out.rglob("*.jpg"))) == 2
    assert main(["export", str(root), str(tmp_path / "t.csv"), "--what", "images"]) == 0
    assert_no_formula((tmp_path / "t.csv").read_bytes().decode())
    assert main(["export", str(root), str(out), "--what", "predictions", "--format", "imagefolder"]) == 1
    assert "imagefolder writes images only" in capsys.readouterr().err


def test_the_imagefolder_zip_streams_one_member_at_a_time(tmp_path):
    from curation.export import zip_chunks

    files = []
    for n in range(3):
        files.append((tmp_path / f"{n}.jpg", f"label/{n}.jpg"))
        files[-1][0].write_bytes(bytes([n]) * 200_000)
    chunks = list(zip_chunks(files))
    assert len(chunks) == 4 and all(len(chunk) < 250_000 for chunk in chunks)
    with zipfile.ZipFile(io.BytesIO(b"".join(chunks))) as archive:
        assert archive.testzip() is None
        assert [archive.read(f"label/{n}.jpg") for n in range(3)] == [bytes([n]) * 200_000 for n in range(3)]


def test_the_audit_tables_zip_neutralises_formulas():
    from curation.ui.audit import tables_zip

    data = tables_zip({"Representation": pd.DataFrame({"label": FORMULAS, "n": range(len(FORMULAS))})})
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            assert_no_formula(archive.read(name).decode())


def test_the_imagefolder_zip_uses_safe_folders_and_unpacking_refuses_escapes(project, tmp_path):
    hostile_project(project, tmp_path, PATHS)
    chunks, n = imagefolder_zip(project)
    data = b"".join(chunks)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
    assert n == len(PATHS) and all(".." not in name.split("/") and not name.startswith("/") for name in names)
    assert unpack_imagefolder(io.BytesIO(data), tmp_path / "unpacked") == len(PATHS)
    evil = io.BytesIO()
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("ok/a.jpg", b"x")
        archive.writestr("../../escape-zip.jpg", b"x")
    with pytest.raises(ExportError, match="outside"):
        unpack_imagefolder(evil, tmp_path / "evil")
    assert not (tmp_path / "evil" / "ok").exists() and not (tmp_path.parent / "escape-zip.jpg").exists()


class DiskFullClient:
    """A client whose export stream fails half-way, as a full disk would."""

    def export_into(self, file, *args, **kwargs) -> int:
        file.write(b"source,label\nhalf")
        raise OSError(28, "No space left on device")


def test_an_export_that_cannot_be_written_says_where_and_leaves_no_half_file(tmp_path):
    from curation.client import ClientError, ProjectClient

    client = type("Client", (DiskFullClient, ProjectClient), {})()
    with pytest.raises(ClientError, match=r"Could not write .*images\.csv \(No space left on device\)"):
        client.export("images", tmp_path / "images.csv", "csv")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(ClientError, match="Could not write"):
        client.export("images", tmp_path / "a-file" / "images.csv", "csv")
