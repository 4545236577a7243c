"""Gather against a fake search-and-image server on loopback: providers, the downloader, the SSRF
guard, the run into a project, the job and the command line.

Only servers these tests start on 127.0.0.1 are contacted. 127.0.0.2 stands for a private address
outside the allowed network: nothing listens there, and an audit hook on `socket.connect` proves
the guard refused before any connection was tried.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import subprocess
import sys
import time
from email.utils import formatdate

import duckdb
import pandas as pd
import pytest
import trustme

from curation.gather import GatherError, GatherRequest, Limits, ProviderError, QuerySpec, gather, parse_queries
from curation.gather import providers
from curation.gather.download import Downloader, retry_after
from curation.gather.guard import Guard, GuardConfigError, parse_networks
from curation.gather.providers import PROVIDERS, search
from curation.gather.run import run_sync
from curation.jobs import start_job
from curation.store import init_project, open_store, schema
from fakeserver import FAILURES, FakeWeb

LOOPBACK_CONNECTS: list[tuple[str, int]] = []


def _audit(event: str, args) -> None:
    if event == "socket.connect" and isinstance(args[1], tuple) and str(args[1][0]).startswith("127."):
        LOOPBACK_CONNECTS.append(args[1][:2])


sys.addaudithook(_audit)

FAST = Limits(concurrency=8, per_host=4, connect_timeout=2, read_timeout=0.5, total_timeout=5,
              max_bytes=2**20, retries=2, backoff=0.05, max_wait=2)


def never_contacted_127_0_0_2() -> bool:
    return not [address for address in LOOPBACK_CONNECTS if address[0] == "127.0.0.2"]


def fetch_all(urls: list[str], limits: Limits = FAST):
    async def run():
        async with Downloader(limits, Guard.from_env()) as downloader:
            return await asyncio.gather(*(downloader.fetch(url) for url in urls))
    return run_sync(run())


def run_gather(store, queries: list[tuple[str, str]], per_query: int = 50, provider: str = "openverse",
               limits: Limits = FAST):
    request = GatherRequest(provider, tuple(QuerySpec(label, query) for label, query in queries), per_query)
    job_id = store.create_job("gather", request.params(), "test")
    return job_id, gather(store, request, job_id, limits=limits)


# The SSRF guard

@pytest.mark.parametrize("address, kind", [
    ("127.0.0.1", "loopback"), ("10.1.2.3", "private"), ("192.168.0.9", "private"), ("172.16.5.5", "private"),
    ("169.254.169.254", "link-local"), ("224.0.0.1", "multicast"), ("0.0.0.0", "unspecified"),
    ("100.64.0.1", "not public"), ("::1", "loopback"), ("fe80::1", "link-local"), ("fd00::1", "private"),
    ("::ffff:127.0.0.1", "loopback"), ("93.184.216.34", None), ("2606:4700::1111", None),
])
def test_guard_names_every_non_public_address(address, kind):
    assert Guard().why_refused(address) == kind


def test_allowed_networks_let_exactly_themselves_through():
    guard = Guard(parse_networks("127.0.0.1/32, 10.0.0.0/8"))
    assert guard.why_refused("127.0.0.1") is None and guard.why_refused("10.9.9.9") is None
    assert guard.why_refused("127.0.0.2") == "loopback"
    with pytest.raises(GuardConfigError, match="'localhost', which is not a network"):
        parse_networks("127.0.0.1/32,localhost")


def test_guard_picks_an_allowed_address_and_explains_a_refusal():
    guard = Guard(parse_networks("127.0.0.1/32"))
    assert guard.pick("example.test", ["127.0.0.2", "127.0.0.1"]) == "127.0.0.1"
    with pytest.raises(Exception, match=r"127\.0\.0\.2 is a loopback address, outside the allowed networks"):
        guard.pick("127.0.0.2", ["127.0.0.2"])


# The downloader

def test_every_failure_ends_in_its_outcome_and_nothing_outside_the_allowed_network_is_contacted(fake_web):
    LOOPBACK_CONNECTS.clear()
    names = list(FAILURES)
    fetched = dict(zip(names, fetch_all([fake_web.url(FAILURES[name], i) for i, name in enumerate(names)])))
    outcome = {name: (f.status, f.reason, f.attempts) for name, f in fetched.items()}
    assert outcome == {
        "not_found": ("failed", "not_found", 1),
        "server_error_once": ("ok", None, 2),
        "rate_limited_once": ("ok", None, 2),
        "slow": ("failed", "timeout", 1),
        "redirect_loop": ("failed", "too_many_redirects", 1),
        "html_as_jpeg": ("ok", None, 1),
        "truncated_jpeg": ("ok", None, 1),
        "huge": ("failed", "too_large", 1),
        "private_redirect": ("refused", "private_address", 1),
    }
    assert fetched["rate_limited_once"].seconds >= 1.0, "Retry-After: 1 was not honoured"
    assert fetched["html_as_jpeg"].data.startswith(b"<!DOCTYPE html>")
    assert "127.0.0.2" in fetched["private_redirect"].detail
    assert LOOPBACK_CONNECTS, "the audit hook sees the downloader's connections"
    assert never_contacted_127_0_0_2()
    assert fake_web.requested("/fail/loop-").count("/fail/loop-a.jpg") == 3


def test_https_verifies_the_host_name_while_connecting_to_the_checked_address(fake_web):
    authority = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(server_tls)
    trusting = ssl.create_default_context()
    authority.configure_trust(trusting)

    async def fetch(url: str, context: ssl.SSLContext | None):
        async with Downloader(FAST, Guard.from_env(), ssl_context=context) as downloader:
            return await downloader.fetch(url)
    with FakeWeb(tls=server_tls) as secure:
        LOOPBACK_CONNECTS.clear()
        by_name = run_sync(fetch(f"https://localhost:{secure.ports[0]}/img/tls/0.jpg", trusting))
        by_address = run_sync(fetch(f"https://127.0.0.1:{secure.ports[0]}/img/tls/1.jpg", trusting))
        untrusted = run_sync(fetch(f"https://localhost:{secure.ports[0]}/img/tls/2.jpg", None))
    assert by_name.status == "ok" and ("127.0.0.1", secure.ports[0]) in LOOPBACK_CONNECTS
    assert (by_address.status, by_address.reason, by_address.attempts) == ("failed", "tls_error", 1)
    assert "IP address mismatch" in by_address.detail, "the certificate names localhost, not the address"
    assert (untrusted.status, untrusted.reason, untrusted.attempts) == ("failed", "tls_error", 1)
    assert "unable to get local issuer certificate" in untrusted.detail
    assert secure.requested("/img/tls/") == ["/img/tls/0.jpg"]


def test_a_url_on_a_refused_address_is_never_connected_to(fake_web):
    LOOPBACK_CONNECTS.clear()
    (fetched,) = fetch_all([f"http://127.0.0.2:{fake_web.ports[0]}/img/x/0.jpg"])
    assert (fetched.status, fetched.reason) == ("refused", "private_address")
    assert never_contacted_127_0_0_2() and not fake_web.requested("/img/x/")


def test_a_host_name_is_resolved_checked_and_connected_to_by_the_address_checked(fake_web):
    LOOPBACK_CONNECTS.clear()
    (fetched,) = fetch_all([f"http://localhost:{fake_web.ports[0]}/img/named/0.jpg"])
    assert fetched.status == "ok" and fake_web.requested("/img/named/") == ["/img/named/0.jpg"]
    assert ("127.0.0.1", fake_web.ports[0]) in LOOPBACK_CONNECTS


def test_retries_end_with_the_last_answer_and_a_long_retry_after_is_not_awaited(fake_web):
    no_retry = Limits(**{**FAST.__dict__, "retries": 0})
    (server_error,) = fetch_all([fake_web.url("/fail/500-once.jpg")], no_retry)
    assert (server_error.status, server_error.reason, server_error.attempts) == ("failed", "server_error", 1)
    impatient = Limits(**{**FAST.__dict__, "max_wait": 0.5})
    started = time.monotonic()
    (limited,) = fetch_all([fake_web.url("/fail/429-once.jpg")], impatient)
    assert (limited.status, limited.reason, limited.attempts) == ("failed", "rate_limited", 1)
    assert "asked to wait 1 s" in limited.detail and time.monotonic() - started < 1


def test_bad_urls_are_failures_not_crashes(fake_web):
    outcomes = fetch_all(["ftp://127.0.0.1/x.jpg", "not a url", "http://"])
    assert [(f.status, f.reason) for f in outcomes] == [("failed", "bad_url")] * 3


def test_concurrency_is_bounded_overall_and_per_host(fake_web):
    fake_web.delay = 0.1
    limits = Limits(**{**FAST.__dict__, "concurrency": 4, "per_host": 2})
    urls = [fake_web.url(f"/img/busy/{i}.jpg", i) for i in range(24)]
    outcomes = fetch_all(urls, limits)
    assert all(f.status == "ok" for f in outcomes)
    assert max(fake_web.peak.values()) == 2 and fake_web.peak_total <= 4
    assert fake_web.peak_total >= 3, "requests ran one after another"


def test_at_most_max_pools_connection_pools_stay_open(fake_web):
    limits = Limits(**{**FAST.__dict__, "max_pools": 2})

    async def run():
        async with Downloader(limits, Guard.from_env()) as downloader:
            outcomes = [await downloader.fetch(fake_web.url(f"/img/pools/{i}.jpg", i)) for i in range(6)]
            return outcomes, len(downloader._pools)
    outcomes, pools = run_sync(run())
    assert [f.status for f in outcomes] == ["ok"] * 6 and pools == 2


def test_retry_after_reads_seconds_and_dates():
    assert retry_after("3") == 3.0
    assert 8 <= retry_after(formatdate(time.time() + 10, usegmt=True)) <= 10
    assert retry_after("soon") is None and retry_after(None) is None


# Providers

@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_every_provider_pages_through_its_results(fake_web, name):
    fake_web.images_per_query = 260

    async def run():
        async with Downloader(FAST, Guard.from_env()) as downloader:
            return await search(PROVIDERS[name], downloader.client, "grizzly bear", 210)
    hits = run_sync(run())
    expected = 200 if name == "brave" else 210
    assert [h.rank for h in hits] == list(range(1, expected + 1))
    assert len({h.url for h in hits}) == expected
    first = hits[0]
    assert (first.provider, first.query, first.url) == (name, "grizzly bear", fake_web.url("/img/grizzly-bear/0.jpg"))
    assert first.page_url.endswith("/page/grizzly-bear/0") and first.listed_width == 160
    if name in ("openverse", "wikimedia"):
        assert (first.license, hits[1].license) == ("CC BY 4.0", "CC BY-SA 2.0")
        assert first.creator in ("Photographer 0", "Photographer 0 & co")


def test_a_search_stops_when_the_results_run_out(fake_web):
    async def run():
        async with Downloader(FAST, Guard.from_env()) as downloader:
            return await search(PROVIDERS["wikimedia"], downloader.client, "few", 500)
    assert len(run_sync(run())) == 12


def test_wikimedia_html_credits_become_plain_text(fake_web):
    async def run():
        async with Downloader(FAST, Guard.from_env()) as downloader:
            return await search(PROVIDERS["wikimedia"], downloader.client, "grizzly", 1)
    (hit,) = run_sync(run())
    assert hit.creator == "Photographer 0 & co" and hit.title == "grizzly 0 <b>*bold*</b>.jpg"


@pytest.mark.parametrize("name, env", [("serpapi", "SERPAPI_API_KEY"), ("brave", "BRAVE_API_KEY")])
def test_keys_missing_or_wrong_are_clear_messages(fake_web, monkeypatch, name, env):
    provider = PROVIDERS[name]
    monkeypatch.delenv(env)
    monkeypatch.setattr(providers, "_SECRETS", {})
    assert f"set {env} in the environment or in the app's .streamlit/secrets.toml" in provider.missing_key()
    providers.use_secrets({env: "wrong-key"})
    assert provider.missing_key() is None

    async def run():
        async with Downloader(FAST, Guard.from_env()) as downloader:
            return await search(provider, downloader.client, "grizzly", 5)
    with pytest.raises(ProviderError, match=r"refused the search \(HTTP 401\): check its API key"):
        run_sync(run())


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_a_provider_error_is_a_sentence(fake_web, name):
    async def run():
        async with Downloader(FAST, Guard.from_env()) as downloader:
            return await search(PROVIDERS[name], downloader.client, "provider-down", 5)
    with pytest.raises(ProviderError, match=r"^(Openverse|Wikimedia Commons|DuckDuckGo|SerpApi|Brave).*\.$"):
        run_sync(run())


def test_an_answer_of_the_wrong_shape_is_a_provider_error(fake_web):
    async def run():
        async with Downloader(FAST, Guard.from_env()) as downloader:
            return await search(PROVIDERS["wikimedia"], downloader.client, "garbled", 5)
    with pytest.raises(ProviderError, match="Wikimedia Commons answered in a format this version does not know"):
        run_sync(run())


@pytest.mark.parametrize("name", ["openverse", "duckduckgo"])
def test_a_provider_outside_the_allowed_networks_is_refused(fake_web, monkeypatch, name):
    monkeypatch.setenv("CURATION_ALLOWED_NETWORKS", "10.0.0.0/8")
    fake_web.log.clear()

    async def run():
        async with Downloader(FAST, Guard.from_env()) as downloader:
            return await search(PROVIDERS[name], downloader.client, "grizzly", 5)
    with pytest.raises(ProviderError, match="address is refused: 127.0.0.1 is a loopback address"):
        run_sync(run())
    assert not fake_web.log


# Queries

def test_queries_are_read_one_a_line():
    text = "grizzly: grizzly bear\n\n  Serena_Williams : Serena Williams tennis \nkoala\ngrizzly: grizzly bear\n"
    assert parse_queries(text) == (QuerySpec("grizzly", "grizzly bear"),
                                   QuerySpec("Serena_Williams", "Serena Williams tennis"), QuerySpec("koala", "koala"))
    with pytest.raises(GatherError, match="Line 2 .* needs a label and a search"):
        parse_queries("a: b\n: no label")
    with pytest.raises(GatherError, match="at least one query"):
        parse_queries(" \n ")


# A gather into a project

def downloads(store) -> dict[str, tuple]:
    rows = store.query("SELECT url, status, reason, attempts FROM downloads ORDER BY id")
    return {url.split("/", 3)[3]: (status, reason, attempts) for url, status, reason, attempts in rows}


def test_gather_records_every_outcome_with_its_provenance(fake_web, project):
    fake_web.queries["failures"] = [*FAILURES.values(), "/img/good/0.jpg"]
    LOOPBACK_CONNECTS.clear()
    job_id, summary = run_gather(project, [("grizzly", "grizzly bear"), ("broken", "failures")])
    assert never_contacted_127_0_0_2()
    assert (summary.hits, summary.ok, summary.failed, summary.refused) == (22, 15, 6, 1)
    assert summary.ingest.new_images == 15 and not summary.search_errors
    outcomes = downloads(project)
    assert {path: o[:2] for path, o in outcomes.items() if path.startswith("fail/")} == {
        "fail/404.jpg": ("failed", "not_found"), "fail/500-once.jpg": ("ok", None),
        "fail/429-once.jpg": ("ok", None), "fail/slow.jpg": ("failed", "timeout"),
        "fail/loop-a.jpg": ("failed", "too_many_redirects"), "fail/html.jpg": ("failed", "html"),
        "fail/truncated.jpg": ("failed", "truncated"), "fail/huge.jpg": ("failed", "too_large"),
        "fail/private.jpg": ("refused", "private_address"),
    }
    report = project.report()
    assert report["downloads"] == {"ok": 15, "failed": 6, "refused": 1, "by_reason": {
        "html": 1, "not_found": 1, "private_address": 1, "timeout": 1, "too_large": 1, "too_many_redirects": 1,
        "truncated": 1}}
    assert report["images"] == {"total": 17, "ok": 15, "failed": 2}
    assert report["labels"] == {"broken": 3, "grizzly": 12}
    progress = {row.label: (row.found, row.done, row.ok, row.failed, row.refused) for row in project.gather_progress(job_id)}
    assert progress == {"grizzly": (12, 12, 12, 0, 0), "broken": (10, 10, 3, 6, 1)}
    assert set(project.gather_failures(job_id)["reason"]) == {
        "not_found", "timeout", "too_many_redirects", "html", "truncated", "too_large", "private_address"}


def test_a_downloaded_image_keeps_where_it_came_from(fake_web, project):
    run_gather(project, [("grizzly", "grizzly bear")], per_query=2, provider="wikimedia")
    image_id = project.query("SELECT image_id FROM downloads WHERE rank = 2")[0][0]
    source = project.image_sources(image_id).iloc[0].to_dict()
    assert {k: source[k] for k in ("source", "filed_under", "provider", "query", "rank", "url", "license", "creator",
                                   "listed_width", "listed_height", "listed_bytes")} == {
        "source": fake_web.url("/img/grizzly-bear/1.jpg", 1), "filed_under": "grizzly", "provider": "wikimedia",
        "query": "grizzly bear", "rank": 2, "url": fake_web.url("/img/grizzly-bear/1.jpg", 1), "license": "CC BY-SA 2.0",
        "creator": "Photographer 1 & co", "listed_width": 160, "listed_height": 120, "listed_bytes": 12000}
    assert source["page_url"].endswith("/page/grizzly-bear/1") and source["title"] == "grizzly bear 1 <b>*bold*</b>.jpg"
    exported = project.export_images()
    assert list(exported["provider"]) == ["wikimedia"] * 2 and sorted(exported["license"]) == ["CC BY 4.0", "CC BY-SA 2.0"]
    assert list(project.licence_summary().itertuples(index=False)) == [("grizzly", "CC BY 4.0", 1),
                                                                        ("grizzly", "CC BY-SA 2.0", 1)]


def test_a_rerun_skips_what_is_done_and_retries_what_may_pass_now(fake_web, project):
    fake_web.queries["mixed"] = ["/img/mixed/0.jpg", "/fail/404.jpg", "/fail/slow.jpg", "/img/mixed/1.jpg"]
    run_gather(project, [("m", "mixed")])
    before = (len(fake_web.requested("/img/")), len(fake_web.requested("/fail/404")), len(fake_web.requested("/fail/slow")))
    fake_web.slow_seconds = 0.0
    _, summary = run_gather(project, [("m", "mixed")])
    after = (len(fake_web.requested("/img/")), len(fake_web.requested("/fail/404")), len(fake_web.requested("/fail/slow")))
    assert after == (before[0], before[1], before[2] + 1), "only the timed-out URL is fetched again"
    assert (summary.done_before, summary.ok, summary.failed) == (3, 3, 1)
    assert project.report()["downloads"] == {"ok": 3, "failed": 1, "refused": 0, "by_reason": {"not_found": 1}}
    assert project.query("SELECT count(*) FROM sources")[0][0] == 3


def test_a_url_is_fetched_once_and_the_same_bytes_stored_once(fake_web, project):
    fake_web.queries["a"] = ["/img/shared/0.jpg", "/img/shared/1.jpg"]
    fake_web.queries["b"] = ["/img/shared/0.jpg", "/copy/shared/1.jpg"]
    _, summary = run_gather(project, [("first", "a"), ("second", "b")])
    assert fake_web.requested().count("/img/shared/0.jpg") == 1
    rows = project.query("SELECT query, rank, image_id, attempts FROM downloads ORDER BY query, rank")
    assert rows[0][2] == rows[2][2] and sorted([rows[0][3], rows[2][3]]) == [0, 1]
    assert rows[1][2] == rows[3][2], "identical bytes from two URLs are one image"
    assert (summary.ingest.new_images, summary.ingest.exact_duplicates) == (2, 1)
    assert project.query("SELECT count(*) FROM images")[0][0] == 2


def test_a_search_that_fails_is_recorded_and_the_others_go_on(fake_web, project):
    job_id, summary = run_gather(project, [("down", "provider-down"), ("up", "grizzly")], per_query=3)
    assert summary.ok == 3 and "Openverse answered with an error (HTTP 503)" in summary.search_errors["provider-down"]
    assert [(row.found, row.error is None) for row in project.gather_progress(job_id)] == [(0, False), (3, True)]
    assert "the search for 'provider-down' failed" in summary.line()


def test_gather_runs_where_an_event_loop_is_already_running(fake_web, project):
    async def from_a_notebook():
        return run_gather(project, [("grizzly", "grizzly")], per_query=2)
    _, summary = run_sync(from_a_notebook())
    assert summary.ok == 2


# The job

def wait_for(store, job_id: int, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while (job := store.job(job_id)).active and time.monotonic() < deadline:
        time.sleep(0.1)
    return job


def test_the_gather_job_reports_progress_and_ends_done(fake_web, project):
    request = GatherRequest("duckduckgo", (QuerySpec("grizzly", "grizzly bear"),), 10)
    job = wait_for(project, start_job(project, "gather", request.params(), "tester"))
    assert (job.status, job.done, job.total, job.error) == ("done", 10, 10, None)
    assert job.message.startswith("10 hits for 1 query: 10 new images")


def test_cancelling_a_gather_stops_it(fake_web, project):
    fake_web.images_per_query, fake_web.delay = 300, 0.05
    request = GatherRequest("openverse", (QuerySpec("many", "many"),), 300)
    job_id = start_job(project, "gather", request.params(), "tester")
    deadline = time.monotonic() + 30
    while project.job(job_id).done == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    project.request_cancel(job_id)
    job = wait_for(project, job_id)
    assert job.status == "cancelled" and 0 < job.done < 300 and job.message.endswith("(cancelled)")


def test_a_crash_ends_the_job_as_failed_with_its_error(fake_web, project):
    (project.project.root / "images").write_text("a file where the originals folder should be")
    request = GatherRequest("openverse", (QuerySpec("grizzly", "grizzly bear"),), 5)
    job = wait_for(project, start_job(project, "gather", request.params(), "tester"))
    assert job.status == "failed" and job.error.startswith(("FileExistsError", "NotADirectoryError"))


# The command line

def curation(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "curation.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


def test_cli_gathers_reports_and_exports(fake_web, tmp_path):
    root = tmp_path / "project"
    init_project(root).close()
    done = curation("gather", root, "--provider", "openverse", "--query", "grizzly bear", "--label", "grizzly",
                    "--max", "5")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Gathered: 5 hits for 1 query: 5 new images")
    report = json.loads(curation("report", root, "--json").stdout)
    assert report["downloads"] == {"ok": 5, "failed": 0, "refused": 0, "by_reason": {}}
    assert report["labels"] == {"grizzly": 5}
    assert curation("export", root, tmp_path / "out.csv", "--what", "images").returncode == 0
    exported = pd.read_csv(tmp_path / "out.csv")
    assert set(exported["provider"]) == {"openverse"} and exported["url"].str.startswith("http://127.0.0.1:").all()
    assert set(exported["license"]) == {"CC BY 4.0", "CC BY-SA 2.0", "CC0 1.0"}


@pytest.mark.parametrize("args, message", [
    (["--provider", "serpapi"], "SerpApi (Google Images) needs an API key: set SERPAPI_API_KEY"),
    (["--provider", "openverse", "--max", "0"], "Ask for 1 to 1000 images a query, not 0."),
])
def test_cli_refuses_a_gather_that_cannot_run_in_one_sentence(fake_web, tmp_path, args, message):
    root = tmp_path / "project"
    init_project(root).close()
    failed = curation("gather", root, "--query", "q", "--label", "l", *args, env={"SERPAPI_API_KEY": ""})
    assert failed.returncode == 1 and failed.stderr.count("\n") == 1 and "Traceback" not in failed.stderr
    assert message in failed.stderr


def test_cli_says_when_the_search_fails(fake_web, tmp_path):
    root = tmp_path / "project"
    init_project(root).close()
    failed = curation("gather", root, "--provider", "brave", "--query", "provider-down", "--label", "x")
    assert failed.returncode == 1 and failed.stderr.count("\n") == 1
    assert "Brave Image Search answered with an error (HTTP 503)" in failed.stderr


def test_cli_rejects_an_unknown_provider_as_a_usage_error(tmp_path):
    failed = curation("gather", tmp_path, "--provider", "bing", "--query", "q", "--label", "l")
    assert failed.returncode == 2 and "invalid choice: 'bing'" in failed.stderr


def test_a_project_from_before_gather_is_brought_up_to_date(tmp_path):
    position = [name for name, _ in schema.MIGRATIONS].index("gather: search hits and downloads")
    root = tmp_path / "old"
    root.mkdir()
    con = duckdb.connect(str(root / "project.duckdb"))
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, "
                "applied_at TIMESTAMP NOT NULL)")
    for number, (name, sql) in enumerate(schema.MIGRATIONS[:position], start=1):
        con.execute(sql)
        con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [number, name])
    con.execute("INSERT INTO sources (source, image_id, label_hint, added_at) VALUES ('/old/a.jpg', 1, 'cat', now())")
    con.close()
    store = open_store(root)
    try:
        (source,) = store.image_sources(1).to_dict("records")
        assert (source["source"], source["filed_under"], pd.isna(source["listed_width"])) == ("/old/a.jpg", "cat", True)
        assert store.report()["downloads"] == {"ok": 0, "failed": 0, "refused": 0, "by_reason": {}}
    finally:
        store.close()
