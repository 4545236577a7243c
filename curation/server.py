"""The served process: Streamlit's pages and the project's HTTP API side by side (`curation serve`).

`serve_app.py` builds Streamlit's ASGI app (`st.App`) with the API mounted at `/api/v1` and this
lifespan: at start the server opens the project (so it holds the database from the first second,
not from the first browser session), ends the jobs a dead server left running, and writes
`<project>/.curation/serve.json` for the clients; at exit it removes that file.
"""

from __future__ import annotations

import logging
import os
from contextlib import asynccontextmanager

from .api import STATE
from .serving import ServeInfo, new_token, remove_serve_info, write_serve_info
from .store import open_store

log = logging.getLogger(__name__)


def served_address() -> tuple[str, int]:
    from streamlit import config

    return str(config.get_option("server.address") or "127.0.0.1"), int(config.get_option("server.port"))


def log_to_stderr() -> None:
    """The server's log: jobs that failed and API calls that broke, with their tracebacks."""
    logger = logging.getLogger("curation")
    if not any(isinstance(h, logging.StreamHandler) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


@asynccontextmanager
async def lifespan(app):
    log_to_stderr()
    root = os.environ.get("CURATION_PROJECT")
    if not root:
        yield None
        return
    store = open_store(root)
    orphans = store.fail_orphaned_jobs()
    if orphans:
        log.warning("%d job(s) of a server that stopped were marked failed", orphans)
    host, port = served_address()
    STATE.store, STATE.token = store, new_token()
    write_serve_info(store.project.root, ServeInfo(host, port, os.getpid(), STATE.token))
    try:
        yield None
    finally:
        remove_serve_info(store.project.root, os.getpid())
        STATE.store = STATE.token = None
