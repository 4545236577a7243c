"""Browser fixtures: Debian's Chromium through Playwright, and the app served on a sample project."""

from __future__ import annotations

import pytest

from .harness import CHROMIUM, CHROMIUM_ARGS, served


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (make test does when it can)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def app(project_copy, tmp_path):
    """The app served on a fresh copy of the sample project: (base URL, project folder)."""
    with served(project_copy, tmp_path / "serve.log") as url:
        yield url, project_copy


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    yield tab
    context.close()
