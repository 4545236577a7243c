"""Backups: a consistent copy of a project while the app runs, and its restore.

The database is copied by the process that holds it (`Store.copy_database_to`: DuckDB's
`COPY FROM DATABASE` inside one transaction), so the app's process can take a backup while it
serves. The files are copied after it: originals, thumbnails and chips are written once, under
their content's name and before the rows that point to them, so every file the copied database
names is already on disk when the copy reaches it. A backup is a folder laid out like a project,
plus `backup.json` (what it holds, with each file's size), written last: a folder without it is
not a finished backup. Both directions go through a `.partial` folder renamed at the end.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from .project import DB_NAME, ProjectError
from .store.db import utcnow
from .store.schema import SCHEMA_VERSION

MANIFEST = "backup.json"
#: Not copied: the database (copied through DuckDB), its write-ahead log, scratch space, and the
#: running server's address and token.
SKIPPED = {DB_NAME, f"{DB_NAME}.wal", "tmp", "work", ".curation", MANIFEST}


@dataclass(frozen=True)
class CopySummary:
    path: Path
    files: int
    bytes: int

    def line(self, verb: str) -> str:
        return f"{verb} the database and {self.files} files ({self.bytes / 1e6:.1f} MB) in {self.path}"


def backup_project(store, out: str | os.PathLike) -> CopySummary:
    """Back the project `store` holds up into the new folder `out`."""
    out = Path(out).expanduser().resolve()
    root = store.project.root
    _require_new_folder(out, "backup")
    if out == root or root in out.parents:
        raise ProjectError(f"A backup cannot go inside the project it copies ({root}): choose a folder outside it.")
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.mkdir(parents=True)
        store.copy_database_to(staging / DB_NAME)
        files = _copy_files(root, staging)
        manifest = {"created_at": utcnow().isoformat(timespec="seconds"), "project": str(root),
                    "schema_version": SCHEMA_VERSION, "database": DB_NAME, "files": files}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1))
        _rename_into(staging, out)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise ProjectError(f"Could not write the backup in {out}: {exc.strerror or exc}.") from None
    return CopySummary(out, len(files), sum(files.values()))


def restore_project(backup: str | os.PathLike, target: str | os.PathLike) -> CopySummary:
    """Restore the backup folder `backup` as a new project in `target` (which must not hold one)."""
    backup, target = Path(backup).expanduser().resolve(), Path(target).expanduser().resolve()
    manifest = read_manifest(backup)
    _require_new_folder(target, "restored project")
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.mkdir(parents=True)
        shutil.copy2(backup / manifest["database"], staging / DB_NAME)
        for relative in manifest["files"]:
            destination = staging / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(backup / relative, destination)
        _rename_into(staging, target)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise ProjectError(f"Could not restore into {target}: {exc.strerror or exc}.") from None
    return CopySummary(target, len(manifest["files"]), sum(manifest["files"].values()))


def read_manifest(backup: Path) -> dict:
    """The backup's manifest, after checking that every file it lists is there at its size."""
    try:
        manifest = json.loads((backup / MANIFEST).read_text())
    except FileNotFoundError:
        raise ProjectError(f"{backup} is not a finished backup: it has no {MANIFEST}.") from None
    except (OSError, ValueError) as exc:
        raise ProjectError(f"The backup's {MANIFEST} in {backup} cannot be read: {exc}.") from None
    if manifest.get("schema_version", 0) > SCHEMA_VERSION:
        raise ProjectError(f"The backup in {backup} was made by a newer Curation Studio (schema "
                           f"{manifest['schema_version']}): upgrade before restoring it.")
    wrong = [rel for rel, size in manifest["files"].items()
             if not (backup / rel).is_file() or (backup / rel).stat().st_size != size]
    if not (backup / manifest["database"]).is_file():
        wrong.insert(0, manifest["database"])
    if wrong:
        raise ProjectError(f"The backup in {backup} is incomplete: {len(wrong)} files are missing or "
                           f"changed, the first {wrong[0]}.")
    return manifest


def project_files(root: Path) -> dict[str, int]:
    """Every file of a project folder that a backup copies, by path relative to it: its size."""
    files = {}
    for top in sorted(root.iterdir()):
        if top.name in SKIPPED:
            continue
        paths = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
        for path in paths:
            files[path.relative_to(root).as_posix()] = path.stat().st_size
    return files


def _copy_files(root: Path, staging: Path) -> dict[str, int]:
    files = project_files(root)
    for relative in files:
        destination = staging / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / relative, destination)
    return files


def _require_new_folder(path: Path, what: str) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise ProjectError(f"{path} already exists and is not empty: the {what} goes into a new or empty folder.")


def _rename_into(staging: Path, final: Path) -> None:
    if final.exists():
        final.rmdir()
    os.replace(staging, final)

