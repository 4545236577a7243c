"""The command line, DESIGN.md's public interface: commands, report keys, export columns, exit status."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from curation.cli import main

DESIGN_EXPORT_COLUMNS = ["source", "sha256", "label", "status", "reason", "width", "height", "provider", "url",
                         "license"]


def curation(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "curation.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def one_sentence(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.fixture(scope="module")
def ingested(_corpus_master, tmp_path_factory):
    """A project made through the command line from the corpus plus one exact copy: (dir, corpus dir, report)."""
    base = tmp_path_factory.mktemp("cli")
    corpus = base / "corpus"
    shutil.copytree(_corpus_master.root, corpus)
    shutil.copyfile(_corpus_master.clean[0], corpus / _corpus_master.clean[0].parent.name / "exact_copy.jpg")
    project = base / "project"
    init = curation("init", project)
    assert init.returncode == 0 and "Project ready" in init.stdout, init.stderr
    done = curation("ingest", project, corpus, "--labels-from-folders", "--workers", "1")
    assert done.returncode == 0, done.stderr
    assert "Ingested: 23 files, 15 new images, 7 failed, 1 exact duplicates" in done.stdout
    report = curation("report", project, "--json")
    assert report.returncode == 0, report.stderr
    return project, corpus, json.loads(report.stdout)


def test_report_json_has_every_key_of_the_contract(ingested):
    _, _, report = ingested
    counts = {"images": {"total", "ok", "failed"}, "duplicates": {"exact", "near"},
              "downloads": {"ok", "failed", "refused"}, "suggestions": {"remove", "relabel", "merge"}}
    for key, fields in counts.items():
        assert isinstance(report[key], dict) and fields <= set(report[key]), key
        assert all(type(report[key][f]) is int for f in fields), key
    for key in ("failed_by_reason", "labels", "flags", "embeddings"):
        assert isinstance(report[key], dict), key
        assert all(isinstance(k, str) and type(v) is int for k, v in report[key].items()), key
    assert isinstance(report["downloads"]["by_reason"], dict)
    assert type(report["faces"]) is int and type(report["events"]) is int
    assert isinstance(report["runs"], list)
    for run in report["runs"]:
        assert {"id", "arch", "dataset_version", "status", "metrics"} <= set(run)
        assert isinstance(run["metrics"], dict)


def test_report_json_figures_match_the_corpus(ingested):
    _, _, report = ingested
    assert report["images"] == {"total": 22, "ok": 15, "failed": 7}, "total: distinct usable images + failed files"
    assert sum(report["failed_by_reason"].values()) == 7
    assert report["duplicates"] == {"exact": 1, "near": 0}
    assert sum(report["labels"].values()) == 15
    assert report["events"] == 0 and report["flags"] == {}


def test_report_as_text(ingested):
    project, _, _ = ingested
    done = curation("report", project)
    assert done.returncode == 0, done.stderr
    assert "Images: 15 usable, 7 failed files, 0 unlabelled" in done.stdout
    assert "Duplicates: 1 exact, 0 near" in done.stdout


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_images_has_the_design_columns_and_one_row_per_source(ingested, tmp_path, fmt):
    project, corpus, report = ingested
    out = tmp_path / f"images.{fmt}"
    done = curation("export", project, out, "--what", "images", "--format", fmt)
    assert done.returncode == 0, done.stderr
    df = pd.read_csv(out) if fmt == "csv" else pd.read_parquet(out)
    assert list(df.columns) == DESIGN_EXPORT_COLUMNS
    sources = sorted(str(p) for p in corpus.rglob("*") if p.is_file())
    assert sorted(df["source"]) == sources
    assert len(df) == report["images"]["total"] + report["duplicates"]["exact"]
    ok = df[df["status"] == "ok"]
    assert len(ok) == report["images"]["ok"] + report["duplicates"]["exact"]
    assert ok["sha256"].str.fullmatch(r"[0-9a-f]{64}").all() and ok["reason"].isna().all()
    assert (ok["width"] >= 32).all() and (ok["height"] >= 32).all()
    failed = df[df["status"] == "failed"]
    assert failed["reason"].notna().all() and len(failed) == report["images"]["failed"]
    for source, label in zip(ok["source"], ok["label"]):
        assert label == Path(source).parent.name


def test_export_into_a_folder_names_the_file(ingested, tmp_path):
    project, _, _ = ingested
    done = curation("export", project, tmp_path, "--what", "images")
    assert done.returncode == 0, done.stderr
    assert list(pd.read_csv(tmp_path / "images.csv").columns) == DESIGN_EXPORT_COLUMNS


def test_export_imagefolder_writes_label_folders_of_originals(ingested, tmp_path):
    project, _, report = ingested
    out = tmp_path / "folder"
    done = curation("export", project, out, "--what", "images", "--format", "imagefolder")
    assert done.returncode == 0, done.stderr
    files = sorted(p for p in out.rglob("*") if p.is_file())
    assert len(files) == report["images"]["ok"]
    assert {p.parent.name: 0 for p in files}.keys() == report["labels"].keys()
    for path in files:
        assert path.parent.parent == out
        assert hashlib.sha256(path.read_bytes()).hexdigest() == path.stem
        assert path.suffix in (".jpg", ".png", ".gif", ".webp")
    assert sum(1 for p in files if p.suffix == ".webp") == 1


@pytest.mark.parametrize("argv", [
    [],
    ["frobnicate"],
    ["init"],
    ["ingest", "DIR"],
    ["report"],
    ["export", "DIR", "OUT"],
    ["export", "DIR", "OUT", "--what", "everything"],
    ["export", "DIR", "OUT", "--what", "images", "--format", "xml"],
    ["ingest", "DIR", "PATH", "--workers", "many"],
    ["serve", "DIR", "--port", "http"],
], ids=lambda argv: " ".join(argv) or "nothing")
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_usage_error_exit_status_from_a_real_process(tmp_path):
    done = curation("export", tmp_path, tmp_path / "out", "--what", "nothing")
    assert done.returncode == 2 and "usage:" in done.stderr


@pytest.mark.parametrize("argv", [
    ["report", "{missing}", "--json"],
    ["ingest", "{missing}", "{tmp}"],
    ["export", "{missing}", "{tmp}/out", "--what", "images"],
], ids=["report", "ingest", "export"])
def test_a_missing_project_exits_1_with_one_sentence(argv, tmp_path, capsys):
    args = [a.format(missing=tmp_path / "nowhere", tmp=tmp_path) for a in argv]
    assert main(args) == 1
    captured = capsys.readouterr()
    line = one_sentence(captured.err)
    assert "No project at" in line and "curation init" in line
    assert captured.out == ""
    assert not (tmp_path / "nowhere").exists()


def test_a_missing_project_from_a_real_process(tmp_path):
    done = curation("report", tmp_path / "nowhere", "--json")
    assert done.returncode == 1 and done.stdout == ""
    assert "No project at" in one_sentence(done.stderr)


def test_serve_on_a_missing_project_exits_1(tmp_path):
    done = curation("serve", tmp_path / "nowhere", "--port", "8599", timeout=60)
    assert done.returncode == 1
    assert "No project at" in one_sentence(done.stderr)


def test_ingest_of_a_missing_path_exits_1(tmp_path, capsys):
    assert main(["init", str(tmp_path / "p")]) == 0
    try:
        assert main(["ingest", str(tmp_path / "p"), str(tmp_path / "no_such_folder")]) == 1
        assert "does not exist" in one_sentence(capsys.readouterr().err)
    finally:
        from curation.store import open_store
        open_store(tmp_path / "p").close()


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out.startswith("curation ")
