"""A project is a folder: its database, content-addressed originals and thumbnails.

Copying the folder copies the project. Paths inside it are derived from content hashes,
so the database stores no absolute paths of its own files.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

DB_NAME = "project.duckdb"


class ProjectError(Exception):
    """A project folder that cannot be used, with a sentence that says why."""


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
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=tmp_dir, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
