"""What pages compute from a store, kept for every session until the store's data changes."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable

from ..store import Store


class KeptPerStore:
    """At most `size` results per store, the most recent kept; a key holds the store's revision where
    the result is read from its data, so any write (a tag, a label, a flag) leaves it behind. A
    store that is closed and dropped takes its results with it."""

    def __init__(self, size: int):
        self.size = size
        self._kept: weakref.WeakKeyDictionary[Store, dict[Hashable, object]] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def get(self, store: Store, key: Hashable, compute: Callable[[], object]):
        """What `compute()` gave before under `key`, or its result now."""
        with self._lock:
            found = self._kept.get(store, {}).get(key)
        if found is None:
            found = compute()
            with self._lock:
                kept = self._kept.setdefault(store, {})
                kept[key] = found
                for stale in list(kept)[:-self.size]:
                    del kept[stale]
        return found
