"""Home page parts: choosing a project, the pipeline at a glance, adding images."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.express as px
import streamlit as st

from ..accounts import PermissionDenied
from ..check import COUNTED
from ..jobs import JobError, start_job
from ..names import visible
from ..pipeline import next_action, steps
from ..project import ProjectError
from ..store import Store, init_project
from .charts import label_counts_chart
from .context import ANNOTATOR_KEY, use_project
from .jobs import job_status
from .signin import refusal
from .text import md_inline, md_text


def project_picker(current: str | None) -> None:
    with st.expander("Open or create a project", expanded=current is None):
        path = st.text_input("Project folder", value=current or "", key="project-path",
                             placeholder="/data/my-project")
        open_col, create_col, _ = st.columns([1, 1, 4])
        why = refusal("settings")
        if open_col.button("Open", key="open-project", type="primary", disabled=not path.strip() or bool(why),
                           help=why):
            _open(path.strip())
        if create_col.button("Create", key="create-project", disabled=not path.strip() or bool(why), help=why):
            init_project(path.strip()).close()
            _open(path.strip())


def _open(path: str) -> None:
    try:
        use_project(path)
        st.rerun()
    except ProjectError as exc:
        st.error(md_inline(exc))


def pipeline(report: dict) -> None:
    st.subheader("Pipeline")
    for column, step in zip(st.columns(6), steps(report)):
        with column.container(border=True, height="stretch"):
            st.metric(step.name, step.value)
            st.caption(f"{md_text(step.unit)}  \n{md_text(step.detail)}")
    st.info(f"**Next:** {md_text(next_action(report))}", icon=":material/arrow_forward:")


def label_chart(report: dict) -> None:
    label_counts_chart(pd.Series(report["labels"], dtype="int64"), key="labels-chart", unit="usable images",
                       side_by_side=False)


def add_images(store: Store) -> None:
    st.subheader("Add images")
    with st.form("ingest"):
        folder = st.text_input("Folder or file on this machine", key="ingest-path",
                               placeholder="/data/raw/one-folder-per-label")
        by_folder = st.checkbox("Label each image by its folder's name", value=True, key="ingest-labels")
        why = refusal("ingest")
        submitted = st.form_submit_button("Ingest", type="primary", disabled=bool(why), help=why)
    if submitted:
        _start_ingest(store, folder.strip(), by_folder)
    job_status(store, "ingest")


def _start_ingest(store: Store, folder: str, by_folder: bool) -> None:
    if not folder or not Path(folder).expanduser().exists():
        st.error(md_inline(f"There is no folder or file at '{folder}' on this machine."))
        return
    try:
        start_job(store, "ingest", {"paths": [folder], "labels_from_folders": by_folder},
                  st.session_state.get(ANNOTATOR_KEY))
    except (JobError, PermissionDenied) as exc:
        st.error(md_inline(exc))


def label_renames(store: Store) -> None:
    """Tell the team which labels an upgrade renamed because they broke the name rule."""
    renames = store.label_renames()
    if renames:
        pairs = ", ".join(f"'{md_text(visible(old))}' is now '{md_text(new)}'" for old, new in renames)
        st.warning(f"Labels renamed when this project was upgraded, because they held a path, a control or "
                   f"override character or only dots: {pairs}. Their events are in each image's history.",
                   icon=":material/edit_note:")


def recent_activity(store: Store) -> None:
    events = store.recent_events(10)
    if events.empty:
        return
    st.subheader("Recent changes")
    st.dataframe(events, hide_index=True, width="stretch")


def check_banner(store: Store) -> None:
    """A warning when the last `curation check` (or check job) found problems, and a button to
    check and repair again; the job's progress below it."""
    if error := st.session_state.pop("check-error", None):
        st.error(error)
    last = store.last_check()
    running = any(job.active for job in store.jobs("check", limit=1))
    if last and last.get("remaining") and not running:
        found = ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in last.items()
                          if name in COUNTED and n)
        with st.container(border=True):
            after = f" {last['remaining']} remain after its repair." if last.get("repaired") else ""
            st.warning(f"The last check of the project's files ({last['checked_at'].replace('T', ' ')} UTC) found "
                       f"problems: {found}.{after} Check and repair rebuilds thumbnails and face chips, and records "
                       "lost originals as failed (undo, or put the file back and check again).",
                       icon=":material/report:")
            why = refusal("check")
            st.button("Check and repair", key="check-repair", icon=":material/build:", disabled=bool(why), help=why,
                      on_click=_start_check, args=(store,))
    job_status(store, "check", unit="originals")


def _start_check(store: Store) -> None:
    try:
        start_job(store, "check", {"repair": True}, st.session_state.get(ANNOTATOR_KEY))
    except (JobError, PermissionDenied) as exc:
        st.session_state["check-error"] = str(exc)


def clients_help(store: Store) -> None:
    """How to reach this project from a terminal or a notebook while the app holds it."""
    import os

    from ..serving import read_serve_info

    root = str(store.project.root)
    info = read_serve_info(store.project.root)
    with st.expander("From a terminal or a notebook"):
        if info is None or info.pid != os.getpid():
            st.caption("These pages run without `curation serve`, so no API is offered: commands open the project "
                       "themselves once the app stops.")
            return
        st.caption(f"This server answers the project's API at {info.url}/api/v1/ (schema: /api/v1/openapi.json). "
                   "Every `curation` command pointed at this folder goes through it and prints what it prints "
                   "without a server.")
        st.code(f"curation report {root} --json\ncuration train {root} --arch linear --model hog", language="bash")
        st.code(f'from curation.client import connect\np = connect("{root}")\nframe = p.images(label="...")',
                language="python")
        if store.team_mode():
            st.caption("In team mode a script on another account uses its own API token, which an admin creates "
                       f"with `curation token add {root} NAME`.")


def production_loop(store: Store) -> None:
    """The loop back from production: the deployed run, its out-of-domain share per hour, images waiting."""
    loop = store.production_loop()
    if loop["bundle"] is None and not loop["feedback"]:
        return
    st.subheader("Production")
    deployed = loop["deployed_run"] or (loop["bundle"] or {}).get("run_id")
    served, logged, waiting = st.columns(3)
    served.metric("Deployed run", f"#{deployed}" if deployed else "none")
    logged.metric("Logged by production", loop["feedback"])
    waiting.metric("Waiting for a label", loop["waiting"])
    traffic = loop["traffic"]
    if not traffic.empty:
        fig = px.line(traffic, x="hour", y="ood_share", markers=True, title="Out-of-domain share of requests per hour",
                      labels={"ood_share": "out of domain", "hour": ""})
        fig.update_layout(height=260, margin=dict(l=10, r=10, t=40, b=10), yaxis_tickformat=".0%")
        st.plotly_chart(fig, key="ood-share-chart")
    elif loop["bundle"]:
        st.caption(f"Bundle of run #{loop['bundle']['run_id']} at `{loop['bundle']['path']}`: serve it with "
                   f"`curation deploy {loop['bundle']['path']}`, then bring its feedback in with "
                   "`curation ingest DIR FEEDBACK --feedback`.")
    if loop["waiting"]:
        st.caption("Label them on Review with the filter **From production**; they join the next dataset version.")
