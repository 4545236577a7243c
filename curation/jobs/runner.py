"""Background work inside the process that owns the project: start, progress, cancel, failure.

A job is an operation of `kinds.OPERATIONS` run in a daemon thread with a `JobContext`; its
progress and outcome are rows in the store, so a page that reloads (or a client of the API) finds
it again. An exception ends the job as failed with its error; a job left running by a process that
died is marked failed the next time the project is opened by a server or a command.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Protocol

from ..project import ProjectError
from .kinds import OPERATIONS
from .operation import Operation

log = logging.getLogger(__name__)


class Progress(Protocol):
    """How far a piece of work got: `done` of `total` units (None: not known yet), and what it is doing."""

    def __call__(self, done: int, total: int | None, message: str | None = None) -> None: ...


class JobError(RuntimeError):
    """A job that cannot be started, with a sentence that says why."""


class JobContext:
    """What a runner gets: the store, its job's id, typed params, who started it; progress and cancel."""

    def __init__(self, store, job_id: int, params: Any, actor: str | None = None):
        self.store, self.job_id, self.params, self.actor = store, job_id, params, actor

    def progress(self, done: int, total: int | None, message: str | None = None) -> None:
        self.store.update_job(self.job_id, done, total, message)

    def cancelled(self) -> bool:
        job = self.store.job(self.job_id)
        return job is not None and job.status == "cancelling"


def operation(kind: str) -> Operation:
    if kind not in OPERATIONS:
        raise JobError(f"There is no job kind '{kind}'; the kinds are {', '.join(OPERATIONS)}.")
    return OPERATIONS[kind]


def run_job(store, job_id: int, kind: str, params: Any, actor: str | None = None) -> None:
    ctx = JobContext(store, job_id, params, actor)
    try:
        message, cancelled = operation(kind).runner()(ctx)
        store.finish_job(job_id, "cancelled" if cancelled else "done", message)
    except Exception as exc:
        log.exception("job %s (%s) failed", job_id, kind)
        finish_when_possible(store, job_id, error=failure_sentence(exc))


def failure_sentence(exc: BaseException) -> str:
    """What a failed job says. The project's own errors, and errors raised with a written sentence
    (a capital, a full stop), read as they are; anything else (a bug, the OS's words) keeps its
    type's name, the clue a user can report."""
    text = str(exc)
    own = type(exc).__module__.split(".")[0] == "curation"
    if text and (own or (text[0].isupper() and text.endswith("."))):
        return text
    return f"{type(exc).__name__}: {text}"


FINISH_RETRY_S = 2.0
FINISH_TRIES = 300


def finish_when_possible(store, job_id: int, error: str) -> None:
    """Record the job as failed; while the disk refuses (full, read-only), try again every few
    seconds for ten minutes, so the job ends with its real cause once space is freed."""
    for _ in range(FINISH_TRIES - 1):
        try:
            store.finish_job(job_id, "failed", error=error)
            return
        except ProjectError:
            time.sleep(FINISH_RETRY_S)
    store.finish_job(job_id, "failed", error=error)


def cancel_job(store, job_id: int, actor: str | None = None) -> None:
    """Ask a job to stop, if `actor` may start jobs of its kind."""
    job = store.job(job_id)
    if job is None:
        raise JobError(f"There is no job #{job_id}.")
    action = OPERATIONS[job.kind].guarded_action if job.kind in OPERATIONS else job.kind
    store.request_cancel(job_id, actor, action)


def start_job(store, kind: str, params: dict | Any, actor: str | None = None, wait: bool = False) -> int:
    """Start a job of `kind` in a thread (or run it here with `wait`); one of each kind at a time.

    `params` is the kind's params dataclass or a dict of its fields (JobError when they do not fit).
    The job needs the role of its operation's guarded action: refused (PermissionDenied) when `actor`
    may not. Without an actor only single-user mode starts it (code and tests inside the library); in
    team mode every job has someone to answer for it."""
    op = operation(kind)
    if actor is not None or store.team_mode():
        store.require(actor, op.guarded_action)
    try:
        typed = op.parse(params)
        op.check_params(typed)
    except ValueError as exc:
        raise JobError(str(exc)) from None
    running = [j for j in store.jobs(kind) if j.active]
    if running:
        raise JobError(f"A {kind} job is already running (job #{running[0].id}); wait for it or cancel it.")
    job_id = store.create_job(kind, op.as_dict(typed), actor)
    if wait:
        run_job(store, job_id, kind, typed, actor)
    else:
        threading.Thread(target=run_job, args=(store, job_id, kind, typed, actor), daemon=True,
                         name=f"job-{job_id}").start()
    return job_id
