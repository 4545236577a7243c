"""What the heaviest pages read first, computed in the background when the app opens a project.

At 1.2M images, a first visit to Map, Audit or Evaluate spends most of its time on cold queries (the
Map's colours, the audited frame and its tables, the latest run's matrix: 0.3-1 s each) that every later visit finds kept for
the same revision of the data. Reading them once the project is open means a first visit finds
them kept as well; a write before it (a label, a tag) simply makes the page read them again.
"""

from __future__ import annotations

import logging
import threading
import weakref

from ..store import Store

log = logging.getLogger("curation.app")

_READING: weakref.WeakKeyDictionary[Store, threading.Thread] = weakref.WeakKeyDictionary()


def warm_pages(store: Store) -> None:
    """Start reading ahead for `store`'s pages."""
    thread = threading.Thread(target=_warm, args=(store,), daemon=True, name="warm-pages")
    _READING[store] = thread
    thread.start()


def wait_warm(store: Store) -> None:
    """Wait until the reading ahead for `store` is done (a test then knows what the pages find kept)."""
    thread = _READING.get(store)
    if thread is not None:
        thread.join()


def _warm(store: Store) -> None:
    from .audit import warm_audit
    from .evaluate import warm_evaluate
    from .map import warm_map

    for warm in (warm_map, warm_audit, warm_evaluate):
        try:
            warm(store)
        except Exception:
            log.exception("Reading ahead for a page (%s) failed; the page will read it itself", warm.__name__)
