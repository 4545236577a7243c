"""Live progress of a background job, with cancel; survives a reload because it reads the store."""

from __future__ import annotations

import streamlit as st

from ..store import JobRow, Store


def job_status(store: Store, kind: str) -> None:
    """Show the latest job of `kind`: a live bar while it runs, its outcome once it ended."""
    jobs = store.jobs(kind, limit=1)
    if not jobs:
        return
    if jobs[0].active:
        _live(store, jobs[0].id)
    else:
        _ended(jobs[0])


@st.fragment(run_every="1s")
def _live(store: Store, job_id: int) -> None:
    job = store.job(job_id)
    if job is None or not job.active:
        st.rerun(scope="app")
    fraction = job.done / job.total if job.total else 0.0
    text = f"{job.kind} #{job.id}: {job.done} of {job.total or '?'} files"
    if job.status == "cancelling":
        text += " (cancelling…)"
    st.progress(min(fraction, 1.0), text=text)
    st.button("Cancel", key=f"cancel-{job.id}", on_click=store.request_cancel, args=(job.id,),
              disabled=job.status == "cancelling")


def _ended(job: JobRow) -> None:
    when = job.finished_at.strftime("%Y-%m-%d %H:%M") if job.finished_at else ""
    if job.status == "done":
        st.success(f"{job.kind.capitalize()} #{job.id} finished {when}: {job.message}", icon=":material/check:")
    elif job.status == "cancelled":
        st.warning(f"{job.kind.capitalize()} #{job.id} was cancelled {when}: {job.message}")
    else:
        st.error(f"{job.kind.capitalize()} #{job.id} failed {when}: {job.error}")
