"""Ingest: counts, duplicates, conflicts, files on disk, repeat and interruption safety."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from curation import synth
from curation.ingest import THUMB_SIDE, ingest
from curation.store import init_project, open_store

FAILED_REASONS = {"zero_bytes", "truncated", "html", "svg", "decompression_bomb", "too_small", "not_an_image"}
TIMESTAMPS = {"added_at", "created_at"}
KEYS = {"images": "id", "sources": "source", "labels": "name", "flags": "id"}


def table_rows(store, table: str) -> list[tuple]:
    """Every row of `table` in key order, all columns but the timestamps."""
    columns = [r[0] for r in store.query(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position", [table])]
    kept = ", ".join(c for c in columns if c not in TIMESTAMPS)
    return store.query(f"SELECT {kept} FROM {table} ORDER BY {KEYS[table]}")


def all_tables(store) -> dict[str, list[tuple]]:
    return {table: table_rows(store, table) for table in KEYS}


def stored_files(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under the project's images/ and thumbs/."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for folder in ("images", "thumbs") if (root / folder).exists()
        for p in sorted((root / folder).rglob("*")) if p.is_file()
    }


def by_source(store) -> dict[str, dict]:
    rows = store.query(
        "SELECT s.source, i.id, i.sha256, i.status, i.reason, i.ext, i.label, i.near_group, i.normalised "
        "FROM sources s JOIN images i ON i.id = s.image_id")
    keys = ("id", "sha256", "status", "reason", "ext", "label", "near_group", "normalised")
    return {r[0]: dict(zip(keys, r[1:])) for r in rows}


def active_flags(store, kind: str | None = None) -> list[tuple]:
    return store.query(
        "SELECT image_id, kind, note FROM flags WHERE active AND (? IS NULL OR kind = ?) ORDER BY id", [kind, kind])


def test_phash64_is_imagehash_phash_bit_for_bit():
    """Projects hold hashes from imagehash's phash: the leaner code must give the very same bits,
    on photographs and on flat pictures whose coefficients tie or cancel (a uniform colour, bars)."""
    import imagehash
    import numpy as np

    from curation.ingest import phash64, thumbnail

    pictures = [synth.photo_like(i, (300 + 37 * i, 260)) for i in range(40)]
    pictures += [Image.new("RGB", (224, 150), colour) for colour in ((0, 0, 0), (255, 255, 255), (10, 200, 30))]
    stripes = np.zeros((200, 200, 3), np.uint8)
    stripes[:, ::20] = 255
    pictures += [Image.fromarray(stripes), Image.fromarray(stripes.transpose(1, 0, 2).copy())]
    for picture in pictures:
        thumb = thumbnail(picture.copy())
        small = thumb.convert("L").resize((64, 64), Image.Resampling.BOX)
        expected = int(np.packbits(imagehash.phash(small).hash.flatten()).view(">u8")[0])
        assert phash64(thumb) == expected


def test_the_ingest_worker_starts_without_the_job_machinery():
    """Its start is part of every ingest's cost: it loads none of the jobs package."""
    code = ("import sys, curation.ingest_worker as w; w.pool_context(); "
            "print(sorted(m for m in sys.modules if m.startswith('curation.jobs')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_write_new_makes_folders_keeps_what_is_there_and_leaves_no_partial_file(tmp_path):
    from curation.ingest import write_new

    target, tmp = tmp_path / "images" / "ab" / "abc.jpg", tmp_path / "tmp" / "w1"
    write_new(str(target), b"first", str(tmp))
    write_new(str(target), b"second", str(tmp))
    assert target.read_bytes() == b"first"
    assert list(tmp.iterdir()) == []
    assert target.stat().st_mode & 0o777 == 0o600  # as tempfile.mkstemp made them before
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where a folder should be")
    with pytest.raises(OSError):
        write_new(str(blocked / "ab" / "abd.jpg"), b"x", str(tmp))
    assert list(tmp.iterdir()) == []


def test_corpus_counts_match_the_report(project, corpus):
    summary = ingest(project, [corpus.root], labels_from_folders=True, workers=1)
    report = project.report()
    usable = corpus.usable()
    assert report["images"] == {"total": len(corpus.files), "ok": len(usable), "failed": len(FAILED_REASONS)}
    assert report["failed_by_reason"] == {reason: 1 for reason in FAILED_REASONS}
    assert report["labels"] == dict(sorted(Counter(p.parent.name for p in usable).items()))
    assert report["unlabelled"] == 0
    assert report["duplicates"] == {"exact": 0, "near": 0}
    assert report["flags"] == {}
    assert (summary.files, summary.new_images, summary.failed) == (len(corpus.files), len(usable), 7)
    assert summary.failed_by_reason == Counter({reason: 1 for reason in FAILED_REASONS})


def test_each_file_is_recorded_with_its_outcome(project, corpus):
    ingest(project, [corpus.root], labels_from_folders=True, workers=1)
    rows = by_source(project)
    assert set(rows) == {str(p) for p in corpus.files}
    for path in corpus.usable():
        assert rows[str(path)]["status"] == "ok" and rows[str(path)]["label"] == path.parent.name
    webp = rows[str(corpus.defects["webp_as_jpg"])]
    assert webp["ext"] == "webp"
    assert rows[str(corpus.defects["cmyk_jpeg"])]["normalised"] == "CMYK converted to RGB"
    assert rows[str(corpus.defects["animated_gif"])]["normalised"].startswith("first of 3 frames")
    assert rows[str(corpus.defects["garbage"])]["reason"] == "not_an_image"
    assert rows[str(corpus.defects["zero_bytes"])]["sha256"] == hashlib.sha256(b"").hexdigest()


def test_originals_and_thumbnails_are_content_addressed(project, corpus):
    ingest(project, [corpus.root], labels_from_folders=True, workers=1)
    ok = project.query("SELECT sha256, ext FROM images WHERE status = 'ok'")
    assert len(ok) == len(corpus.usable())
    for sha, ext in ok:
        original = project.project.original_path(sha, ext)
        assert original.parent.name == sha[:2]
        assert hashlib.sha256(original.read_bytes()).hexdigest() == sha
        with Image.open(project.project.thumb_path(sha)) as thumb:
            assert thumb.format == "JPEG" and max(thumb.size) <= THUMB_SIDE
    stored = stored_files(project.project.root)
    assert len([p for p in stored if p.startswith("images/")]) == len(ok), "failed files are not stored"
    assert len([p for p in stored if p.startswith("thumbs/")]) == len(ok)
    webp = hashlib.sha256(corpus.defects["webp_as_jpg"].read_bytes()).hexdigest()
    assert project.project.original_path(webp, "webp").is_file()


def test_exact_duplicate_is_one_image_with_two_sources(project, corpus):
    original = corpus.clean[0]
    copy = original.with_name("copy_of_" + original.name)
    shutil.copyfile(original, copy)
    summary = ingest(project, [corpus.root], labels_from_folders=True, workers=1)
    rows = by_source(project)
    assert rows[str(original)]["id"] == rows[str(copy)]["id"]
    report = project.report()
    assert report["images"]["ok"] == len(corpus.usable())
    assert report["duplicates"]["exact"] == 1
    assert summary.exact_duplicates == 1 and report["flags"] == {}
    assert len(project.export_images()) == len(corpus.files) + 1


def test_same_bytes_under_two_labels_raise_a_label_conflict(project, corpus):
    original = corpus.clean[0]
    other_label = next(label for label in synth.SHAPES if label != original.parent.name)
    elsewhere = corpus.root / other_label / "filed_twice.jpg"
    shutil.copyfile(original, elsewhere)
    summary = ingest(project, [corpus.root], labels_from_folders=True, workers=1)
    rows = by_source(project)
    image = rows[str(original)]
    assert rows[str(elsewhere)]["id"] == image["id"]
    first_label = min((original, elsewhere)).parent.name
    assert image["label"] == first_label
    conflicts = active_flags(project, "label_conflict")
    assert [c[0] for c in conflicts] == [image["id"]]
    assert original.parent.name in conflicts[0][2] and other_label in conflicts[0][2]
    assert summary.label_conflicts == 1
    assert project.report()["flags"] == {"label_conflict": 1}


def test_near_duplicate_is_flagged_and_grouped(project, corpus):
    original = corpus.clean[0]
    near = original.with_name("zz_resized.jpg")
    synth.near_duplicate(Image.open(original)).save(near, "JPEG", quality=90)
    summary = ingest(project, [corpus.root], labels_from_folders=True, workers=1)
    rows = by_source(project)
    first, second = rows[str(original)], rows[str(near)]
    assert first["id"] != second["id"]
    assert first["near_group"] is not None and first["near_group"] == second["near_group"]
    flagged = active_flags(project, "duplicate")
    assert [f[0] for f in flagged] == [max(first["id"], second["id"])]
    assert summary.near_duplicates == 1
    assert project.report()["duplicates"] == {"exact": 0, "near": 1}
    ungrouped = [r for r in rows.values() if r["status"] == "ok" and r["id"] not in (first["id"], second["id"])]
    assert all(r["near_group"] is None for r in ungrouped)


def test_near_duplicate_found_across_two_ingests(project, corpus, tmp_path):
    ingest(project, [corpus.root], labels_from_folders=True, workers=1)
    later = tmp_path / "later" / corpus.clean[3].parent.name
    later.mkdir(parents=True)
    synth.near_duplicate(Image.open(corpus.clean[3])).save(later / "again.jpg", "JPEG", quality=90)
    ingest(project, [later.parent], labels_from_folders=True, workers=1)
    rows = by_source(project)
    assert rows[str(later / "again.jpg")]["near_group"] == rows[str(corpus.clean[3])]["near_group"] is not None
    assert project.report()["duplicates"]["near"] == 1


def test_reingest_is_a_no_op(project, corpus):
    ingest(project, [corpus.root], labels_from_folders=True, workers=1)
    before_report, before_tables = project.report(), all_tables(project)
    before_files = stored_files(project.project.root)
    summary = ingest(project, [corpus.root], labels_from_folders=True, workers=1)
    assert summary.already_known == len(corpus.files) and summary.new_images == 0 and summary.failed == 0
    assert project.report() == before_report
    assert all_tables(project) == before_tables
    assert stored_files(project.project.root) == before_files


def test_a_label_from_a_later_copy_labels_an_unlabelled_image(project, corpus, tmp_path):
    loose = tmp_path / "loose.jpg"
    shutil.copyfile(corpus.clean[0], loose)
    ingest(project, [loose], workers=1)
    assert project.report()["unlabelled"] == 1
    ingest(project, [corpus.root], labels_from_folders=True, workers=1)
    rows = by_source(project)
    assert rows[str(loose)]["label"] == corpus.clean[0].parent.name
    assert project.report()["unlabelled"] == 0 and project.report()["flags"] == {}


def test_non_image_files_are_skipped(project, corpus):
    (corpus.root / "circle" / "notes.txt").write_text("not an image")
    (corpus.root / "circle" / ".hidden.jpg").write_bytes(corpus.clean[0].read_bytes())
    summary = ingest(project, [corpus.root], labels_from_folders=True, workers=1)
    assert summary.not_images == 2
    assert summary.files == len(corpus.files) + 2
    assert "2 non-image files skipped" in summary.line()
    sources = set(by_source(project))
    assert not any(s.endswith(("notes.txt", ".hidden.jpg")) for s in sources)
    assert project.report()["images"]["total"] == len(corpus.files)


def test_a_file_that_disappears_is_a_recorded_failure(project, corpus):
    victim = corpus.clean[-1]

    def progress(done, total):
        if victim.exists():
            victim.unlink()

    summary = ingest(project, [corpus.root], labels_from_folders=True, progress=progress, workers=1)
    assert summary.failed == 8 and summary.failed_by_reason["unreadable_file"] == 1
    row = by_source(project)[str(victim)]
    assert row["status"] == "failed" and row["reason"] == "unreadable_file"
    report = project.report()
    assert report["failed_by_reason"]["unreadable_file"] == 1
    assert report["images"]["ok"] == len(corpus.usable()) - 1
    exported = project.export_images().set_index("source")
    assert exported.loc[str(victim), "status"] == "failed"


def test_a_half_downloaded_png_is_a_failure_not_a_crash(project, corpus):
    whole = corpus.root / "circle" / "whole.png"
    synth.photo_like(7, (200, 150)).save(whole, "PNG")
    data = whole.read_bytes()
    whole.unlink()
    (corpus.root / "circle" / "half.png").write_bytes(data[: len(data) // 2])
    summary = ingest(project, [corpus.root], labels_from_folders=True, workers=1)
    assert summary.failed_by_reason["truncated"] == 2
    assert project.report()["images"]["ok"] == len(corpus.usable())


def test_a_missing_path_is_an_error_before_anything_is_written(project, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ingest(project, [tmp_path / "nowhere"], workers=1)
    assert project.report()["images"]["total"] == 0


def test_a_file_given_twice_is_ingested_once(project, corpus):
    summary = ingest(project, [corpus.root, corpus.clean[0]], labels_from_folders=True, workers=1)
    assert summary.files == len(corpus.files)
    assert len(project.export_images()) == len(corpus.files)


def test_progress_reaches_the_total(project, corpus):
    seen = []
    ingest(project, [corpus.root], labels_from_folders=True, progress=lambda d, t: seen.append((d, t)), workers=1)
    assert seen[0] == (0, len(corpus.files)) and seen[-1] == (len(corpus.files), len(corpus.files))


def add_photos(folder: Path, count: int, size: int = 96) -> None:
    for i in range(count):
        label_dir = folder / synth.SHAPES[i % len(synth.SHAPES)]
        label_dir.mkdir(parents=True, exist_ok=True)
        synth.photo_like(1000 + i, (size, size)).save(label_dir / f"photo_{i:03d}.jpg", "JPEG", quality=80)


def test_two_workers_give_the_same_tables_as_one(corpus, tmp_path):
    add_photos(corpus.root, 24)
    shutil.copyfile(corpus.clean[0], corpus.clean[0].with_name("dup.jpg"))
    synth.near_duplicate(Image.open(corpus.clean[1])).save(corpus.clean[1].with_name("near.jpg"), "JPEG")
    assert len([p for p in corpus.root.rglob("*") if p.is_file()]) >= 40
    tables = {}
    for workers in (1, 2):
        store = init_project(tmp_path / f"w{workers}")
        ingest(store, [corpus.root], labels_from_folders=True, workers=workers)
        tables[workers] = (all_tables(store), stored_files(store.project.root))
        store.close()
    assert tables[1][0]["images"] and tables[1][0]["flags"]
    assert tables[2] == tables[1]


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "curation.cli", *args]


def count_files(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


def recorded_images(root: Path) -> int:
    store = open_store(root)
    try:
        return store.query("SELECT count(*) FROM images")[0][0]
    finally:
        store.close()


def kill_when_stored(command: list[str], images_dir: Path, threshold: int) -> None:
    """Run `command` and SIGKILL its process group once `images_dir` holds `threshold` files."""
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 60
    while count_files(images_dir) < threshold and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, f"the ingest ended before the kill: {proc.stderr.read().decode()}"


@pytest.mark.slow
def test_sigkill_mid_ingest_then_rerun_equals_an_uninterrupted_ingest(tmp_path):
    """Originals reach images/ before their chunk is committed, so the kill comes once more than a
    chunk of them is there; should no chunk be committed yet (workers running ahead), it is run and
    killed again a little later, which a resumable ingest must survive as well."""
    from curation.ingest import CHUNK

    total = 300
    src = tmp_path / "src"
    for i in range(total):
        label_dir = src / f"label_{i % 3}"
        label_dir.mkdir(parents=True, exist_ok=True)
        synth.photo_like(i, (300, 300)).save(label_dir / f"img_{i:03d}.jpg", "JPEG", quality=80)
    killed, reference = tmp_path / "killed", tmp_path / "reference"
    init_project(killed).close()
    command = cli("ingest", str(killed), str(src), "--labels-from-folders", "--workers", "1")

    for threshold in (CHUNK + 30, CHUNK + 90, CHUNK + 150):
        kill_when_stored(command, killed / "images", threshold)
        recorded = recorded_images(killed)
        if recorded:
            break
    assert 0 < recorded < total, f"the kill should land mid-way, found {recorded} of {total} images recorded"

    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"{total} files" in done.stdout and f"{recorded} already in the project" in done.stdout

    store = init_project(reference)
    ingest(store, [src], labels_from_folders=True)
    expected = all_tables(store), stored_files(reference), store.report()
    store.close()

    store = open_store(killed)
    got = all_tables(store), stored_files(killed), store.report()
    store.close()
    assert len(got[0]["images"]) == total and len(got[0]["sources"]) == total
    assert got[0] == expected[0]
    assert got[1] == expected[1]
    assert json.dumps(got[2], sort_keys=True, default=str) == json.dumps(expected[2], sort_keys=True, default=str)
    assert not list(killed.glob("tmp/**/*.part"))
