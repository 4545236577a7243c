"""Quality page parts: run the checks (a job), then per check its suspects, worst first, with their
scores; a person leaves out the ones that are fine and flags the rest with the check's flag kind.

Nothing is flagged by the checks themselves: a flag leaves an image out of training, so a measured
suspicion stays a suggestion until someone looks (Review then filters by the flag kind)."""

from __future__ import annotations

import streamlit as st

from ..accounts import PermissionDenied
from ..flags import flag_title
from ..jobs import JobError, start_job
from ..quality import CHECKS
from ..store import EditError, Store
from .jobs import job_status
from .pictures import show_gallery
from .review import flash, show_flash
from .signin import refusal

SHOWN = 60


def run_section(store: Store, who: str) -> None:
    models = list(store.embedding_counts())
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    model = left.selectbox("Embedding for the outlier check", [None, *models], key="quality-model",
                           format_func=lambda m: m or "the default (dlib-resnet34 when there, else the first)")
    why = refusal("quality")
    if right.button("Check quality", key="quality-run", type="primary", icon=":material/troubleshoot:",
                    disabled=bool(why), help=why):
        try:
            start_job(store, "quality", {"model": model}, who)
        except (JobError, PermissionDenied) as exc:
            st.error(str(exc))
    job_status(store, "quality", unit="steps")


def overview(store: Store) -> list[str]:
    """The table of checks (scored, suggested, threshold); the checks that suggest something."""
    table = store.quality_overview()
    if table.empty:
        st.info("No quality check has run yet: press Check quality (it reads every thumbnail in the background).")
        return []
    table["title"] = table["check"].map(lambda name: CHECKS[name].title if name in CHECKS else name)
    table["measures"] = table["check"].map(lambda name: CHECKS[name].unit if name in CHECKS else "")
    st.dataframe(table[["title", "scored", "suspects", "threshold", "measures", "model"]], hide_index=True,
                 column_config={"title": "Check", "suspects": "Suggested", "model": "Outliers by"})
    return [name for name, n in zip(table["check"], table["suspects"]) if n and name in CHECKS]


def flag_suggested(store: Store, check: str, ids: list[int], who: str) -> None:
    kind = CHECKS[check].flag_kind
    left_out = set(st.session_state.get(f"quality-keep-{check}") or [])
    chosen = [i for i in ids if i not in left_out]
    try:
        done = store.add_flag(chosen, kind, f"quality check: {CHECKS[check].title.lower()}", who)
    except (EditError, PermissionDenied) as exc:
        flash(str(exc), "error")
        return
    flash(f"Flagged {done} image{'s' * (done != 1)} as {flag_title(kind)}; Review's flag filter lists them.")
    st.session_state.pop(f"quality-keep-{check}", None)


def check_section(store: Store, check: str, who: str) -> None:
    spec = CHECKS[check]
    rows = store.quality_suspects(check, spec.flag_kind, spec.direction)
    pending = rows[~rows["flagged"]]
    st.subheader(f"{spec.title}: {len(pending)} suggested")
    st.caption(f"{spec.unit}; suggested past {spec.threshold:g}. {len(rows) - len(pending)} already flagged "
               f"{flag_title(spec.flag_kind)}.")
    if pending.empty:
        return
    shown = pending.head(SHOWN)
    captions = [f"#{i} · {label or 'unlabelled'} · {score:.3g}" for i, label, score in
                zip(shown["image_id"], shown["label"], shown["score"])]
    show_gallery(store, [store.project.thumb_path(sha) for sha in shown["sha256"]], captions, width=120)
    if len(pending) > SHOWN:
        st.caption(f"The {SHOWN} worst of {len(pending)} are shown; flagging takes them all.")
    ids = [int(i) for i in pending["image_id"]]
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    left.multiselect("Leave these out (they are fine)", ids, key=f"quality-keep-{check}",
                     format_func=lambda i: f"#{i}")
    why = refusal("flag")
    right.button(f"Flag as {flag_title(spec.flag_kind)}", key=f"quality-flag-{check}", type="primary",
                 on_click=flag_suggested, args=(store, check, ids, who), disabled=bool(why), help=why)


def quality_page(store: Store, who: str) -> None:
    show_flash()
    run_section(store, who)
    for check in overview(store):
        check_section(store, check, who)
