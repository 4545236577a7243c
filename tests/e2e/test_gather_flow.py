"""Gather in a real browser: type queries, start, watch the bars, close the browser, come back to the result."""

from __future__ import annotations

import pytest

from curation.store import open_store
from fakeserver import FAILURES

from .harness import screenshot, served, wait_for_app

pytestmark = pytest.mark.e2e

QUERIES = "grizzly: grizzly bear\nSerena_Williams: Serena Williams tennis\nbroken: broken links"


def test_gather_from_the_page_survives_closing_the_browser(fake_web, project_copy, browser, page, tmp_path):
    fake_web.queries["broken links"] = [FAILURES["not_found"], FAILURES["html_as_jpeg"], FAILURES["truncated_jpeg"],
                                        FAILURES["private_redirect"], "/img/good/0.jpg", "/img/good/1.jpg"]
    fake_web.delay = 0.1
    with served(project_copy, tmp_path / "serve.log") as url:
        start_and_leave(page, url)
        come_back(browser, url)
    store = open_store(project_copy)
    try:
        report = store.report()["downloads"]
        sources = store.query("SELECT count(*) FROM sources WHERE provider = 'openverse' AND license IS NOT NULL")[0][0]
    finally:
        store.close()
    assert report == {"ok": 14, "failed": 3, "refused": 1,
                      "by_reason": {"html": 1, "not_found": 1, "private_address": 1, "truncated": 1}}
    assert sources == 16, "every fetched file, usable or not, is a source with its licence"


def start_and_leave(page, url: str) -> None:
    page.goto(f"{url}/gather?who=e2e-gatherer")
    wait_for_app(page)
    page.locator(".st-key-gather-queries textarea").fill(QUERIES)
    page.locator(".st-key-gather-max input").fill("6")
    page.get_by_role("button", name="Start gathering").click()
    page.get_by_text("gather #1:").wait_for(timeout=30_000)
    page.get_by_text("of 6 hits").first.wait_for(timeout=30_000)
    page.context.close()


def come_back(browser, url: str) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1500})
    tab = context.new_page()
    try:
        tab.goto(f"{url}/gather?who=e2e-gatherer")
        tab.get_by_text("Gather #1 finished").wait_for(timeout=60_000)
        wait_for_app(tab)
        assert tab.get_by_text("Failures of gather #1").is_visible()
        assert tab.get_by_text("18 hits for 3 queries").is_visible()
        assert tab.get_by_role("heading", name="Licences per label").is_visible()
        screenshot(tab, "gather")
    finally:
        context.close()
