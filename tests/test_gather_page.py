"""The Gather page under Streamlit's AppTest, gathering from the fake server on loopback."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from curation.gather import GatherRequest, QuerySpec, gather
from curation.store import init_project
from fakeserver import FAILURES
from apptest import ROOT, cached



def app(page: str = "app_pages/gather.py") -> AppTest:
    at = AppTest.from_file(str(ROOT / page), default_timeout=60)
    at.query_params["who"] = "tester"
    return at.run()


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "project"
    init_project(root).close()
    monkeypatch.setenv("CURATION_PROJECT", str(root))
    return root


def wait_for_gather(root: Path, timeout: float = 60):
    store = cached(root)
    deadline = time.monotonic() + timeout
    while store.jobs("gather")[0].active and time.monotonic() < deadline:
        time.sleep(0.1)
    return store.jobs("gather")[0]


def start(at: AppTest, queries: str, per_query: int = 5, provider: str | None = None) -> AppTest:
    at.text_area(key="gather-queries").set_value(queries)
    at.number_input(key="gather-max").set_value(per_query)
    if provider:
        at.selectbox(key="gather-provider").set_value(provider)
    return at.button[0].click().run()


def shown(markdown: str) -> str:
    """Markdown as it reads on the page: the escapes that keep text from being markup removed."""
    return re.sub(r"\\(.)", r"\1", markdown)


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def test_gather_runs_from_the_page_and_lists_progress_failures_and_licences(fake_web, project):
    fake_web.queries["broken"] = [FAILURES["not_found"], FAILURES["html_as_jpeg"], FAILURES["private_redirect"],
                                  "/img/good/0.jpg"]
    at = app()
    assert_clean(at)
    assert at.selectbox(key="gather-provider").value == "openverse"
    start(at, "grizzly: grizzly bear\nbroken: broken")
    assert_clean(at)
    job = wait_for_gather(project)
    assert (job.status, job.done, job.total) == ("done", 9, 9)
    at.run()
    assert_clean(at)
    assert "finished" in at.success[0].value
    bars = [p.text for p in at.get("progress")]
    assert bars == ["**grizzly** · grizzly bear: 5 of 5 hits · 5 usable, 0 failed, 0 refused",
                    "**broken** · broken: 4 of 4 hits · 1 usable, 2 failed, 1 refused"]
    failed = at.dataframe[0].value
    assert sorted(failed["problem"]) == ["A web page, not an image", "Not found (HTTP 404 or 410)",
                                         "Private or loopback address (refused)"]
    assert "127.0.0.2" in failed.loc[failed["status"] == "refused", "detail"].iloc[0]
    licences = at.dataframe[1].value
    assert licences.loc["grizzly"].sum() == 5 and licences.loc["broken"].sum() == 1


def test_the_page_says_what_stops_a_gather_from_starting(fake_web, project, monkeypatch):
    monkeypatch.delenv("SERPAPI_API_KEY")
    at = app()
    assert "(needs an API key)" in at.selectbox(key="gather-provider").format_func("serpapi")
    start(at, "grizzly: grizzly bear", provider="serpapi")
    assert "SerpApi (Google Images) needs an API key: set SERPAPI_API_KEY in" in shown(at.error[0].value)
    start(at, "grizzly: grizzly bear\n: nothing", provider="openverse")
    assert shown(at.error[0].value).startswith("Line 2 (': nothing') needs a label and a search")
    assert not cached(project).jobs("gather")


def test_a_running_gather_shows_live_bars_and_can_be_cancelled(fake_web, project):
    fake_web.images_per_query, fake_web.delay = 300, 0.05
    at = start(app(), "many: many", per_query=300)
    store = cached(project)
    deadline = time.monotonic() + 30
    while store.jobs("gather")[0].done == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    at.run()
    job_id = store.jobs("gather")[0].id
    assert any("of 300 hits" in p.text for p in at.get("progress"))
    at.button(key=f"cancel-{job_id}").click().run()
    job = wait_for_gather(project)
    assert job.status == "cancelled" and job.done < 300
    at.run()
    assert "was cancelled" in at.warning[0].value


def test_the_review_detail_shows_a_downloads_provenance(fake_web, tmp_path, monkeypatch):
    root = tmp_path / "gathered"
    store = init_project(root)
    request = GatherRequest("openverse", (QuerySpec("grizzly", "grizzly bear"),), 1)
    gather(store, request, store.create_job("gather", request.params(), "tester"))
    store.close()
    monkeypatch.setenv("CURATION_PROJECT", str(root))
    at = app("app_pages/review.py")
    at.session_state["detail"] = 1
    at.session_state["detail-more"] = True
    at.run()
    assert_clean(at)
    (sources,) = [d.value for d in at.dataframe if "provider" in d.value.columns]
    (source,) = sources.to_dict("records")
    assert (source["provider"], source["query"], source["rank"], source["license"]) == (
        "openverse", "grizzly bear", 1, "CC BY 4.0")
    assert source["page_url"].endswith("/page/grizzly-bear/0") and source["creator"] == "Photographer 0"


def test_the_page_without_a_project_points_home(monkeypatch):
    monkeypatch.delenv("CURATION_PROJECT", raising=False)
    assert "No project is open" in app().info[0].value
