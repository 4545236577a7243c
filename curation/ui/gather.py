"""The Gather page's parts: the request form, live progress per query, failures, licences per label."""

from __future__ import annotations

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from ..gather import (MAX_PER_QUERY, PROVIDERS, GatherError, GatherRequest, GuardConfigError, ProviderError,
                      check_request, parse_queries, reason_title, use_secrets)
from ..accounts import PermissionDenied
from ..jobs import JobError, start_job
from ..store import JobRow, Store
from .context import ANNOTATOR_KEY
from .jobs import job_status
from .signin import refusal
from .text import md_text

EXAMPLE = "grizzly: grizzly bear\nSerena_Williams: Serena Williams tennis"
DEFAULT_PROVIDER = "openverse"


def load_secret_keys() -> None:
    """Providers' keys from the app's secrets (`SERPAPI_API_KEY = "..."` in .streamlit/secrets.toml)."""
    names = [p.key_env for p in PROVIDERS.values() if p.key_env]
    try:
        use_secrets({name: str(st.secrets[name]) for name in names if name in st.secrets})
    except StreamlitSecretNotFoundError:
        return


def provider_names() -> list[str]:
    """Providers that need no key first, then by title."""
    return sorted(PROVIDERS, key=lambda name: (PROVIDERS[name].key_env is not None, PROVIDERS[name].title))


def provider_label(name: str) -> str:
    provider = PROVIDERS[name]
    return provider.title + (" (needs an API key)" if provider.missing_key() else "")


def gather_form(store: Store) -> None:
    load_secret_keys()
    names = provider_names()
    with st.form("gather"):
        text = st.text_area("Queries: one a line, as `label: search text`", key="gather-queries", height=110,
                            placeholder=EXAMPLE)
        provider_col, max_col = st.columns(2)
        provider = provider_col.selectbox("Provider", names, index=names.index(DEFAULT_PROVIDER),
                                          key="gather-provider", format_func=provider_label)
        per_query = max_col.number_input("Images per query", min_value=1, max_value=MAX_PER_QUERY, value=50,
                                         key="gather-max")
        why = refusal("gather")
        submitted = st.form_submit_button("Start gathering", type="primary", icon=":material/travel_explore:",
                                          disabled=bool(why), help=why)
    if submitted:
        _start(store, text, provider, int(per_query))


def _start(store: Store, text: str, provider: str, per_query: int) -> None:
    try:
        request = GatherRequest(provider, parse_queries(text), per_query)
        check_request(request)
        start_job(store, "gather", request.params(), st.session_state.get(ANNOTATOR_KEY))
    except (GatherError, ProviderError, GuardConfigError, JobError, PermissionDenied) as exc:
        st.error(md_text(exc))


def gather_status(store: Store) -> None:
    job_status(store, "gather", unit="hits", details=query_progress)


def query_progress(store: Store, job: JobRow) -> None:
    """A bar per query: how many of its hits are done, and how they ended."""
    if job.active and job.total is None and job.message:
        st.caption(md_text(job.message))
    for row in store.gather_progress(job.id):
        name = f"**{md_text(row.label)}** · {md_text(row.query)}"
        if row.error:
            st.error(f"{name}: {md_text(row.error)}")
        elif row.found is None:
            st.progress(0.0, text=f"{name}: waiting for its search")
        else:
            st.progress(min(row.done / row.found, 1.0) if row.found else 1.0,
                        text=f"{name}: {row.done} of {row.found} hits · {row.ok} usable, {row.failed} failed, "
                             f"{row.refused} refused")


def failures(store: Store) -> None:
    """Every hit of the latest gather that gave no usable image, with a reason to act on."""
    jobs = store.jobs("gather", limit=1)
    if not jobs:
        return
    st.subheader(f"Failures of gather #{jobs[0].id}")
    table = store.gather_failures(jobs[0].id)
    if table.empty:
        st.caption("Every hit gave a usable image." if not jobs[0].active else "No failure so far.")
        return
    table.insert(0, "problem", table["reason"].map(reason_title))
    counts = table["problem"].value_counts()
    st.caption(", ".join(f"{n} × {md_text(problem)}" for problem, n in counts.items()))
    st.dataframe(table.drop(columns=["reason"]), hide_index=True, width="stretch")


def licences(store: Store) -> None:
    """Usable downloaded images per label and licence: what may be used, and how it must be credited."""
    st.subheader("Licences per label")
    summary = store.licence_summary()
    if summary.empty:
        st.caption("No downloaded image yet.")
        return
    table = summary.pivot_table(index="label", columns="licence", values="images", aggfunc="sum", fill_value=0)
    table = table.sort_index(key=lambda labels: labels.str.lower())
    st.dataframe(table, width="content")
    if "unknown" in table.columns:
        st.caption("unknown: the provider gives no licence; check the image's source page before using it.")
