"""Live progress of a background job, with cancel; survives a reload because it reads the store."""

from __future__ import annotations

from typing import Callable

import streamlit as st

from ..jobs import cancel_job
from ..store import JobRow, Store
from .context import ANNOTATOR_KEY
from .signin import refusal
from .text import md_text

Details = Callable[[Store, JobRow], None]


def job_status(store: Store, kind: str, unit: str = "files", details: Details | None = None) -> None:
    """Show the latest job of `kind`: a live bar while it runs, its outcome once it ended.

    `details(store, job)` draws what a kind has to add under it, live and once ended.
    """
    jobs = store.jobs(kind, limit=1)
    if not jobs:
        return
    if jobs[0].active:
        _live(store, jobs[0].id, unit, details)
    else:
        _ended(jobs[0])
        if details:
            details(store, jobs[0])


@st.fragment(run_every="1s")
def _live(store: Store, job_id: int, unit: str, details: Details | None) -> None:
    job = store.job(job_id)
    if job is None or not job.active:
        st.rerun(scope="app")
    fraction = job.done / job.total if job.total else 0.0
    text = f"{job.kind} #{job.id}: {job.done} of {job.total or '?'} {unit}"
    if job.status == "cancelling":
        text += " (cancelling…)"
    st.progress(min(fraction, 1.0), text=text)
    why = refusal(job.kind)
    st.button("Cancel", key=f"cancel-{job.id}", on_click=cancel_job,
              args=(store, job.id, st.session_state.get(ANNOTATOR_KEY)),
              disabled=job.status == "cancelling" or bool(why), help=why)
    if details:
        details(store, job)


def _ended(job: JobRow) -> None:
    when = job.finished_at.strftime("%Y-%m-%d %H:%M") if job.finished_at else ""
    if job.status == "done":
        st.success(f"{job.kind.capitalize()} #{job.id} finished {when}: {md_text(job.message)}", icon=":material/check:")
    elif job.status == "cancelled":
        st.warning(f"{job.kind.capitalize()} #{job.id} was cancelled {when}: {md_text(job.message)}")
    else:
        st.error(f"{job.kind.capitalize()} #{job.id} failed {when}: {md_text(job.error)}")
