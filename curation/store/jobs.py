"""Job rows: what background work is running, how far it got, and how it ended."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime

from .db import next_id, utcnow

ACTIVE = ("running", "cancelling")


@dataclass(frozen=True)
class JobRow:
    id: int
    kind: str
    params: dict
    status: str
    done: int
    total: int | None
    message: str | None
    error: str | None
    created_by: str | None
    started_at: datetime
    finished_at: datetime | None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


class JobQueries:
    def create_job(self, kind: str, params: dict, created_by: str | None) -> int:
        with self.transaction() as cur:
            job_id = next_id(cur, "jobs")
            cur.execute(
                "INSERT INTO jobs (id, kind, params, status, created_by, pid, started_at) VALUES (?, ?, ?, 'running', ?, ?, ?)",
                [job_id, kind, json.dumps(params), created_by, os.getpid(), utcnow()],
            )
        return job_id

    def update_job(self, job_id: int, done: int, total: int | None, message: str | None = None) -> None:
        with self.transaction() as cur:
            cur.execute("UPDATE jobs SET done = ?, total = ?, message = coalesce(?, message) WHERE id = ?",
                        [done, total, message, job_id])

    def request_cancel(self, job_id: int, actor: str | None = None, action: str | None = None) -> None:
        """Ask a running job to stop; who may is who may do `action`, the guarded action of the job's
        kind (curation.jobs.cancel_job names it; the kind itself by default). In team mode an actor is
        needed."""
        job = self.job(job_id)
        if job is not None and (actor is not None or self.team_mode()):
            self.require(actor, action or job.kind)
        with self.transaction() as cur:
            cur.execute("UPDATE jobs SET status = 'cancelling' WHERE id = ? AND status = 'running'", [job_id])

    def finish_job(self, job_id: int, status: str, message: str | None = None, error: str | None = None) -> None:
        with self.transaction() as cur:
            cur.execute(
                "UPDATE jobs SET status = ?, message = coalesce(?, message), error = ?, finished_at = ? WHERE id = ?",
                [status, message, error, utcnow(), job_id],
            )

    def job(self, job_id: int) -> JobRow | None:
        rows = self.query(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", [job_id])
        return job_row(rows[0]) if rows else None

    def jobs(self, kind: str | None = None, limit: int = 10) -> list[JobRow]:
        rows = self.query(
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE ? IS NULL OR kind = ? ORDER BY id DESC LIMIT ?", [kind, kind, limit])
        return [job_row(r) for r in rows]

    def fail_orphaned_jobs(self) -> int:
        """Jobs still marked running by another process end as failed: DuckDB lets one process hold
        the project, so any other that marked them has stopped. This process's own jobs run on. (On a
        project opened read-only they are left for later.)"""
        if self.read_only:
            return 0
        with self.transaction() as cur:
            rows = cur.execute("SELECT id FROM jobs WHERE status IN ('running', 'cancelling') "
                               "AND pid IS DISTINCT FROM ?", [os.getpid()]).fetchall()
            for (job_id,) in rows:
                cur.execute(
                    "UPDATE jobs SET status = 'failed', error = 'Interrupted: the process running it stopped.', "
                    "finished_at = ? WHERE id = ?", [utcnow(), job_id])
        return len(rows)


JOB_COLUMNS = "id, kind, params, status, done, total, message, error, created_by, started_at, finished_at"


def job_row(row) -> JobRow:
    return JobRow(row[0], row[1], json.loads(row[2] or "{}"), *row[3:])
