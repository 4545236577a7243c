"""The app-wide guard: whatever a page raises ends, for the visitor, as one sentence.

A traceback shows the server's paths, its code and sometimes its data; a visitor (in team mode
possibly a stranger) gets none of it. The full error goes to the server's log under a short
reference that the sentence gives, so whoever reads the log can find it. Streamlit's own
`client.showErrorDetails = "none"` (.streamlit/config.toml) covers what runs outside a page's
script (widget callbacks, fragments re-running on their own).
"""

from __future__ import annotations

import logging
import secrets
from typing import Callable

import streamlit as st

log = logging.getLogger("curation.app")


def run_guarded(run_page: Callable[[], None]) -> None:
    """Run the page; an exception (not st.stop or st.rerun, which are no Exception) becomes one
    sentence on the page and the whole error in the log."""
    try:
        run_page()
    except Exception:  # noqa: BLE001 - the point of the guard: nothing reaches the visitor as a traceback
        reference = secrets.token_hex(4)
        log.exception("A page failed (reference %s)", reference)
        st.error(failure_sentence(reference), icon=":material/error:")


def failure_sentence(reference: str) -> str:
    return (f"Something went wrong on this page and it stopped (what you saved before is kept); if it happens "
            f"again, give your admin the reference {reference}, under which the server's log has the details.")
