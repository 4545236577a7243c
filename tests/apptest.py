"""What the AppTest page tests share: run a page file as a named annotator, check it ran clean,
and reach the store the app's sessions share."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]


def app(page: str, who: str | None = "tester") -> AppTest:
    """The page (a path from the repository's root) after its first run, `?who=` set unless None."""
    at = AppTest.from_file(str(ROOT / page), default_timeout=60)
    if who:
        at.query_params["who"] = who
    return at.run()


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def cached(root: Path):
    """The store the app's sessions share for the project at `root`, once its pages' reading ahead is
    done (a test then knows what the pages find kept)."""
    from curation.ui.context import cached_store
    from curation.ui.warm import wait_warm

    store = cached_store(str(root))
    wait_warm(store)
    return store
