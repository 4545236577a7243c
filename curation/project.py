"""A project is a folder: its database, content-addressed originals and thumbnails.

Copying the folder copies the project. Paths inside it are derived from content hashes,
so the database stores no absolute paths of its own files.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

DB_NAME = "project.duckdb"


class ProjectError(Exception):
    """A project folder that cannot be used, with a sentence that says why."""


READ_ONLY_SIGNS = ("read-only file system", "permission denied", "read-only mode", "attached in read-only")
FULL_SIGNS = ("no space left on device", "disk quota exceeded", "file too large")


def disk_problem(exc: BaseException) -> str | None:
    """'full' or 'read-only' when `exc` (an OSError, DuckDB's error, a worker's last line) says the disk
    refused a write; None otherwise."""
    text = str(exc).lower()
    if isinstance(exc, OSError) and exc.errno is not None:
        text += " " + os.strerror(exc.errno).lower()
    if any(sign in text for sign in FULL_SIGNS):
        return "full"
    if any(sign in text for sign in READ_ONLY_SIGNS):
        return "read-only"
    return None


#: Free space under which a worker that died without a word is taken to have died of a full disk.
NEARLY_FULL_BYTES = 4 * 2**20


def disk_state(root: Path) -> str | None:
    """'full' or 'read-only' when the disk holding `root` is so now; for a worker that died without
    saying why (its log sits on the same full disk, so it could not write its last line)."""
    try:
        if shutil.disk_usage(root).free < NEARLY_FULL_BYTES:
            return "full"
    except OSError:
        return None
    return None if os.access(root, os.W_OK) else "read-only"


def disk_sentence(root: Path, problem: str, consequence: str) -> str:
    """'The disk holding the project R is full: <consequence>. Free some space, then try again.'"""
    if problem == "full":
        return f"The disk holding the project {root} is full: {consequence}. Free some space, then try again."
    return (f"The project folder {root} is read-only (permissions, or a read-only disk): {consequence}. "
            "Make it writable, then try again.")


@dataclass(frozen=True)
class Project:
    root: Path

    @property
    def db_path(self) -> Path:
        return self.root / DB_NAME

    @property
    def tmp_dir(self) -> Path:
        return self.root / "tmp"

    def original_path(self, sha256: str, ext: str) -> Path:
        return self.root / "images" / sha256[:2] / f"{sha256}.{ext}"

    def thumb_path(self, sha256: str) -> Path:
        return self.root / "thumbs" / sha256[:2] / f"{sha256}.jpg"

    def exists(self) -> bool:
        return self.db_path.is_file()


def project_at(root: str | os.PathLike) -> Project:
    """The project in `root`, which must already have been initialised."""
    project = Project(Path(root).expanduser().resolve())
    if not project.exists():
        raise ProjectError(f"No project at {project.root}: run `curation init {project.root}` first.")
    return project


def write_atomically(path: Path, data: bytes, tmp_dir: Path, overwrite: bool = False) -> None:
    """Write `data` to `path` so that a reader (or a kill) never sees half a file; an existing file
    is kept unless `overwrite` (a damaged thumbnail or chip being rebuilt)."""
    if path.exists() and not overwrite:
        return
    for folder in (path.parent, tmp_dir):
        if not folder.is_dir():  # a stat: mkdir on an existing folder locks it (workers contend)
            folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=tmp_dir, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
