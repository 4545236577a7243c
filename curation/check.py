"""`curation check`: is the project whole? Repair what can be rebuilt, record what cannot.

Every original is hashed and compared with its SHA-256 name; thumbnails and face chips must exist
and open; files no row points to, rows whose files are gone, jobs left running by a process that
died and the database's own health (schema version, a checkpoint) are reported. With `repair`,
thumbnails and chips are rebuilt from their originals, jobs left running end as failed, files no
row points to are moved (never deleted) into `orphans/`, and an image whose original is missing or
altered is recorded as failed (`missing_original`, `altered_original`) through an event; when its
file is whole again, the next repair restores it (the event's undo). Nothing is ever deleted.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .files import Unreadable, file_problem, load_original
from .project import Project, write_atomically

ORPHANS_DIR = "orphans"
#: The last line of a check that leaves nothing wrong (a served check's exit status reads it).
ALL_WELL = "Nothing is wrong."
#: Folders of files whose names come from rows (originals, thumbnails, chips).
FILE_FOLDERS = ("images", "thumbs", "faces")
COUNTED = ("missing_originals", "altered_originals", "unreadable_originals", "missing_thumbnails",
           "missing_chips", "orphan_files", "missing_run_files", "jobs_left_running", "database_problems")


@dataclass
class CheckReport:
    """What a check found, as lists; `counts()` and `as_json()` are what the CLI prints."""

    missing_originals: list[dict] = field(default_factory=list)
    altered_originals: list[dict] = field(default_factory=list)
    unreadable_originals: list[dict] = field(default_factory=list)
    missing_thumbnails: list[dict] = field(default_factory=list)
    missing_chips: list[dict] = field(default_factory=list)
    orphan_files: list[str] = field(default_factory=list)
    missing_run_files: list[dict] = field(default_factory=list)
    jobs_left_running: list[dict] = field(default_factory=list)
    database_problems: list[str] = field(default_factory=list)
    database: dict = field(default_factory=dict)
    originals_checked: int = 0
    found: dict = field(default_factory=dict)
    repaired: dict = field(default_factory=dict)
    remaining: int = 0
    cancelled: bool = False

    def counts(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in COUNTED}

    def problems(self) -> int:
        return sum(self.counts().values())

    def as_json(self) -> dict:
        """Counts of what was found (before any repair) at the top, `remaining` after it, and the
        lists of what is still wrong."""
        lists = {name: getattr(self, name) for name in COUNTED}
        found = self.found or self.counts()
        return {**found, "problems": sum(found.values()), "remaining": self.remaining, "ok": self.remaining == 0,
                "originals_checked": self.originals_checked, "database": self.database, "repaired": self.repaired,
                "cancelled": self.cancelled, "lists": lists}

    @classmethod
    def from_json(cls, data: dict) -> CheckReport:
        """The report `as_json` wrote (what a server's check job kept), to print its lines here."""
        return cls(**data["lists"], database=data["database"], originals_checked=data["originals_checked"],
                   found={name: data[name] for name in COUNTED}, repaired=data["repaired"],
                   remaining=data["remaining"], cancelled=data["cancelled"])

    def lines(self) -> list[str]:
        """The findings in words, one line per kind of problem found."""
        words = {"missing_originals": "originals missing", "altered_originals": "originals altered",
                 "unreadable_originals": "originals unreadable", "missing_thumbnails": "thumbnails missing",
                 "missing_chips": "face chips missing", "orphan_files": "files no row points to",
                 "missing_run_files": "run or dataset files missing", "jobs_left_running": "jobs left running",
                 "database_problems": "database problems"}
        found = [f"{n} {words[name]}" for name, n in (self.found or self.counts()).items() if n]
        lines = [f"Checked {self.originals_checked} originals: " + (", ".join(found) if found else "all is well") + "."]
        lines += self.database_problems
        if self.repaired:
            done = ", ".join(f"{n} {what}" for what, n in self.repaired.items() if n) or "nothing to repair"
            lines.append(f"Repaired: {done}.")
        if self.remaining:
            lines.append(f"{self.remaining} problems remain: " + ", ".join(
                f"{n} {words[name]}" for name, n in self.counts().items() if n) + ".")
        else:
            lines.append(ALL_WELL)
        return lines


Progress = Callable[[int, int | None, str | None], None]


def check_project(store, repair: bool = False, actor: str = "cli", progress: Progress | None = None,
                  cancelled: Callable[[], bool] = lambda: False) -> CheckReport:
    """Check the project `store` holds (and repair it with `repair`); the findings are also kept in
    the database for Home's banner."""
    progress = progress or (lambda done, total, message=None: None)
    report = CheckReport()
    project = store.project
    originals = store.originals_to_check()
    whole_again = check_originals(project, originals, report, progress, cancelled)
    if report.cancelled:
        return report
    check_thumbnails(project, originals, report)
    check_chips(project, store.face_chip_rows(), report)
    check_orphans(project, store.known_hashes(), {row[4] for row in store.face_chip_rows()}, report)
    check_run_files(project, store.run_file_rows(), report)
    check_jobs(store.active_job_rows(), report)
    check_database(store.database_health(), report)
    report.found = report.counts()
    if repair:
        repair_project(store, report, whole_again, actor, progress)
    report.remaining = report.problems()
    store.record_check({"checked_at": _now_text(), **report.as_json()})
    return report


def check_originals(project: Project, originals: list[tuple], report: CheckReport, progress: Progress,
                    cancelled: Callable[[], bool]) -> list[int]:
    """Hash every original; sort the bad ones into the report. Returns the ids of images a check
    recorded as failed whose original is whole again."""
    whole_again = []
    for n, (image_id, sha, ext, status, reason) in enumerate(originals):
        if n % 50 == 0:
            progress(n, len(originals), "hashing originals")
            if cancelled():
                report.cancelled = True
                return whole_again
        path = project.original_path(sha, ext)
        problem = file_problem(path, sha)
        report.originals_checked += 1
        if problem is None:
            if status != "ok":
                whole_again.append(image_id)
            continue
        entry = {"image_id": image_id, "sha256": sha, "path": str(path), "detail": problem.detail,
                 "recorded": status != "ok"}
        {"missing": report.missing_originals, "altered": report.altered_originals}.get(
            problem.problem, report.unreadable_originals).append(entry)
    progress(len(originals), len(originals), "originals hashed")
    return whole_again


def check_thumbnails(project: Project, originals: list[tuple], report: CheckReport) -> None:
    for image_id, sha, ext, status, _ in originals:
        path = project.thumb_path(sha)
        problem = file_problem(path) or _empty(path)
        if problem is not None:
            report.missing_thumbnails.append({"image_id": image_id, "sha256": sha, "ext": ext, "path": str(path),
                                              "problem": problem.problem})


def check_chips(project: Project, faces: list[tuple], report: CheckReport) -> None:
    for face_id, image_id, sha, ext, chip, landmarks in faces:
        path = project.root / chip
        problem = file_problem(path) or _empty(path)
        if problem is not None:
            report.missing_chips.append({"face_id": face_id, "image_id": image_id, "sha256": sha, "ext": ext,
                                         "path": str(path), "landmarks": list(landmarks), "problem": problem.problem})


def check_orphans(project: Project, hashes: set[str], chips: set[str], report: CheckReport) -> None:
    """Files under images/, thumbs/ and faces/ that no row names."""
    for folder in FILE_FOLDERS:
        base = project.root / folder
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            if not path.is_file():
                continue
            relative = path.relative_to(project.root).as_posix()
            owned = relative in chips if folder == "faces" else path.name.split(".")[0] in hashes
            if not owned:
                report.orphan_files.append(relative)


def check_run_files(project: Project, rows: list[tuple], report: CheckReport) -> None:
    for what, key, relative in rows:
        if not (project.root / relative).is_file():
            report.missing_run_files.append({"what": what, "id": key, "path": relative})


def check_jobs(rows: list[tuple], report: CheckReport) -> None:
    """Jobs marked running by another process. This process holds the database, and DuckDB allows
    one writer, so no other process can still be running them: it died (the app, or a command)."""
    for job_id, kind, pid in rows:
        if pid != os.getpid():
            report.jobs_left_running.append({"job_id": job_id, "kind": kind, "pid": pid})


def check_database(health: dict, report: CheckReport) -> None:
    report.database = health
    if health["schema_version"] != health["expected_schema_version"]:
        report.database_problems.append(
            f"The schema is at version {health['schema_version']}, this code expects {health['expected_schema_version']}.")
    if health["checkpoint_error"]:
        report.database_problems.append(f"A checkpoint of the database failed: {health['checkpoint_error']}")


def repair_project(store, report: CheckReport, whole_again: list[int], actor: str, progress: Progress) -> None:
    project = store.project
    bad = ([(e["image_id"], "missing_original", "The original file is missing from the project folder.")
            for e in report.missing_originals if not e["recorded"]]
           + [(e["image_id"], "altered_original", "The original's bytes no longer match its SHA-256 name.")
              for e in report.altered_originals + report.unreadable_originals if not e["recorded"]])
    lost = {e["image_id"] for e in report.missing_originals + report.altered_originals + report.unreadable_originals}
    report.repaired = {
        "originals recorded as failed": store.mark_original_failed(bad, actor) if bad else 0,
        "originals restored": store.restore_returned_originals(whole_again, actor) if whole_again else 0,
        "thumbnails rebuilt": rebuild_thumbnails(project, report, lost, progress),
        "chips rebuilt": rebuild_chips(project, report, lost, progress),
        "jobs ended as failed": end_jobs(store, report),
        "orphan files moved to orphans/": move_orphans(project, report, store),
    }


def rebuild_thumbnails(project: Project, report: CheckReport, lost: set[int], progress: Progress) -> int:
    from .ingest import jpeg_bytes, thumbnail

    rebuilt = []
    for n, entry in enumerate(report.missing_thumbnails):
        progress(n, len(report.missing_thumbnails), "rebuilding thumbnails")
        if entry["image_id"] in lost:
            continue
        image = load_original(project.original_path(entry["sha256"], entry["ext"]), entry["sha256"])
        if isinstance(image, Unreadable):
            continue
        write_atomically(Path(entry["path"]), jpeg_bytes(thumbnail(image)), project.tmp_dir, overwrite=True)
        rebuilt.append(entry)
    report.missing_thumbnails = [e for e in report.missing_thumbnails if e not in rebuilt]
    return len(rebuilt)


def rebuild_chips(project: Project, report: CheckReport, lost: set[int], progress: Progress) -> int:
    """Cut each lost chip again from its original, the way detection cut it (at detection size)."""
    from .faces.align import align_face
    from .faces.detect import DETECT_SIDE, jpeg

    rebuilt = []
    for n, entry in enumerate(report.missing_chips):
        progress(n, len(report.missing_chips), "rebuilding face chips")
        if entry["image_id"] in lost:
            continue
        path = project.original_path(entry["sha256"], entry["ext"])
        picture = load_original(path, entry["sha256"], DETECT_SIDE)
        full = load_original(path, entry["sha256"]) if not isinstance(picture, Unreadable) else picture
        if isinstance(full, Unreadable):
            continue
        scale = picture.width / full.width
        points = np.asarray(entry["landmarks"], dtype=float).reshape(5, 2) * scale
        write_atomically(Path(entry["path"]), jpeg(align_face(picture, points)), project.tmp_dir, overwrite=True)
        rebuilt.append(entry)
    report.missing_chips = [e for e in report.missing_chips if e not in rebuilt]
    return len(rebuilt)


def end_jobs(store, report: CheckReport) -> int:
    ids = [job["job_id"] for job in report.jobs_left_running]
    if ids:
        store.fail_jobs_left_running(ids)
    report.jobs_left_running = []
    return len(ids)


def move_orphans(project: Project, report: CheckReport, store) -> int:
    """Move files no row points to into orphans/ (same relative path), unless another job runs:
    an ingest or detection writes its files before it records their rows."""
    others = [row for row in store.active_job_rows() if row[1] != "check"]
    if others:
        return 0
    for relative in report.orphan_files:
        target = project.root / ORPHANS_DIR / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(project.root / relative, target)
    moved, report.orphan_files = len(report.orphan_files), []
    return moved


def _empty(path: Path) -> Unreadable | None:
    return Unreadable("undecodable", path, "empty file") if path.stat().st_size == 0 else None


def _now_text() -> str:
    from .store.db import utcnow

    return utcnow().isoformat(timespec="seconds")


def run_check(ctx) -> tuple[str, bool]:
    """The check as a background job in the app's process (Home's banner shows what it found)."""
    report = check_project(ctx.store, repair=ctx.params.repair, actor=ctx.actor or "check",
                           progress=ctx.progress, cancelled=ctx.cancelled)
    return " ".join(report.lines()), report.cancelled
