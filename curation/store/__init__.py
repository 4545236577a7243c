"""The store: the only code that speaks SQL. Schema and migrations, queries, events, jobs.

`Store` is one object per project per process; every call takes its own cursor, so Streamlit
sessions (threads) share it safely.
"""

from __future__ import annotations

import atexit
import os
import threading
from pathlib import Path

from ..project import Project, ProjectError, project_at
from .accounts import AccountError, AccountQueries, SignInFailed
from .agreement import AgreementQueries
from .audit import AuditQueries
from .backup import BackupQueries
from .check import CheckQueries
from .cleaning import EXPORT_SUGGESTION_COLUMNS, CleaningQueries
from .db import Database, ProjectLocked
from .discovery import DiscoveryQueries
from .deploy import DeployQueries
from .edits import EditError, EditQueries, UndoResult
from .faces import FaceQueries
from .gather import GatherQueries, QueryProgress
from .ingest import IngestQueries
from .jobs import JobQueries, JobRow
from .maps import MapQueries
from .queues import QueueQueries
from .report import EXPORT_IMAGE_COLUMNS, ReportQueries
from .proposals import ProposalQueries
from .quality import QualityQueries
from .review import STATUSES, GridItem, ReviewFilter, ReviewQueries
from .train import TrainQueries

__all__ = [
    "AccountError", "SignInFailed", "EXPORT_IMAGE_COLUMNS", "EXPORT_SUGGESTION_COLUMNS", "STATUSES", "EditError", "GridItem", "JobRow", "ProjectError", "ProjectLocked",
    "QueryProgress", "ReviewFilter", "Store", "UndoResult", "init_project", "open_store",
]


class Store(Database, IngestQueries, EditQueries, ReviewQueries, ReportQueries, JobQueries, TrainQueries,
            GatherQueries, FaceQueries, CleaningQueries, AuditQueries,
            AccountQueries, MapQueries, QueueQueries, AgreementQueries, CheckQueries, BackupQueries,
            QualityQueries, DiscoveryQueries, ProposalQueries, DeployQueries):
    def close(self) -> None:
        with _OPEN_LOCK:
            if _OPEN.get(self.project.root) is self:
                del _OPEN[self.project.root]
        super().close()


_OPEN: dict[Path, Store] = {}
_OPEN_LOCK = threading.Lock()


@atexit.register
def _close_all() -> None:
    """Close open databases before interpreter shutdown, which DuckDB's bindings report as leaks."""
    for store in list(_OPEN.values()):
        store.close()


def _shared_store(project: Project) -> Store:
    """The process's one store for `project`: DuckDB allows one writing connection per file."""
    with _OPEN_LOCK:
        if project.root not in _OPEN:
            _OPEN[project.root] = Store(project)
        return _OPEN[project.root]


def open_store(root: str | os.PathLike) -> Store:
    return _shared_store(project_at(root))


def init_project(root: str | os.PathLike) -> Store:
    """Create (or open, if it exists) the project in `root`."""
    project = Project(Path(root).expanduser().resolve())
    project.root.mkdir(parents=True, exist_ok=True)
    return _shared_store(project)
