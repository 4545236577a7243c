"""Worker processes end when the process that started them dies.

A worker (ingest, detection, embedding, training, map layout) is started by the app or a command
and reports to it through pipes or files. If that parent is killed (kill -9, a crash), nobody
reads the worker's results any more, yet it would run on, holding cores, until its next write.
`exit_with_parent()`, called first thing in each worker, asks Linux to send it SIGTERM when its
parent dies (prctl PR_SET_PDEATHSIG); elsewhere a daemon thread polls the parent's pid.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1
POLL_SECONDS = 1.0


def exit_with_parent() -> None:
    """Make this process end when its parent does (call it first in a worker's entry point)."""
    parent = os.getppid()
    if not (sys.platform.startswith("linux") and _set_death_signal()):
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True, name="lifeline").start()
    if os.getppid() != parent:  # the parent died while the signal was being armed
        os._exit(1)


def _set_death_signal() -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(POLL_SECONDS)
    os._exit(1)
