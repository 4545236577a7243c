"""Background work inside the process that owns the project: progress, cancel, failure.

A job is a function registered by kind that takes a `JobContext`. It runs in a daemon thread;
its progress and outcome are rows in the store, so a page that reloads finds it again. An
exception ends the job as failed with its error; a job left running by a process that died is
marked failed the next time the project is opened by the app.
"""

from __future__ import annotations

import threading
import traceback
from typing import Callable

from .gather import GatherRequest, gather
from .ingest import ingest

JOB_KINDS: dict[str, Callable] = {}


class JobError(RuntimeError):
    """A job that cannot be started, with a sentence that says why."""


def job_kind(name: str):
    def register(fn):
        JOB_KINDS[name] = fn
        return fn
    return register


class JobContext:
    def __init__(self, store, job_id: int, params: dict):
        self.store, self.job_id, self.params = store, job_id, params

    def progress(self, done: int, total: int | None, message: str | None = None) -> None:
        self.store.update_job(self.job_id, done, total, message)

    def cancelled(self) -> bool:
        job = self.store.job(self.job_id)
        return job is not None and job.status == "cancelling"


@job_kind("ingest")
def ingest_job(ctx: JobContext) -> tuple[str, bool]:
    summary = ingest(
        ctx.store, ctx.params["paths"], labels_from_folders=ctx.params.get("labels_from_folders", False),
        progress=ctx.progress, cancelled=ctx.cancelled,
    )
    return summary.line(), summary.cancelled


@job_kind("gather")
def gather_job(ctx: JobContext) -> tuple[str, bool]:
    summary = gather(ctx.store, GatherRequest.from_params(ctx.params), ctx.job_id, progress=ctx.progress,
                     cancelled=ctx.cancelled)
    return summary.line(), summary.cancelled


def run_job(store, job_id: int, kind: str, params: dict) -> None:
    ctx = JobContext(store, job_id, params)
    try:
        message, cancelled = JOB_KINDS[kind](ctx)
        store.finish_job(job_id, "cancelled" if cancelled else "done", message)
    except Exception as exc:
        store.finish_job(job_id, "failed", error=f"{type(exc).__name__}: {exc}", message=traceback.format_exc(limit=3))


def start_job(store, kind: str, params: dict, actor: str | None = None, wait: bool = False) -> int:
    """Start a job of `kind` in a thread (or run it here with `wait`); one of each kind at a time.

    A job of kind K is the action K of `curation.accounts.ACTIONS`: refused (PermissionDenied) when
    `actor` may not do it. Without an actor only single-user mode starts it (code and tests inside the
    library); in team mode every job has someone to answer for it."""
    if kind not in JOB_KINDS:
        raise JobError(f"Unknown job kind '{kind}'.")
    if actor is not None or store.team_mode():
        store.require(actor, kind)
    running = [j for j in store.jobs(kind) if j.active]
    if running:
        raise JobError(f"A {kind} job is already running (job #{running[0].id}); wait for it or cancel it.")
    job_id = store.create_job(kind, params, actor)
    if wait:
        run_job(store, job_id, kind, params)
    else:
        threading.Thread(target=run_job, args=(store, job_id, kind, params), daemon=True, name=f"job-{job_id}").start()
    return job_id
