"""Issue 12 in a real browser: the team gate holds while another process holds the database,
hostile labels stay text (no outside URL is ever requested), and a sign-in lockout from one
address leaves the same name free from another."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from curation.store import open_store
from curation.store.db import utcnow

from .grid import label_by_search, select, settle, tile
from .harness import free_port, screenshot, stop, wait_for_app, wait_healthy

pytestmark = pytest.mark.e2e

PASSWORD = "correct-horse-battery"
IMAGE_LABEL = "![px](http:evil.example)"
TAG_LABEL = "<img src=http:evil.example onerror=alert(1)>"
HOLD = "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print('held', flush=True); time.sleep(300)"
OTHER_ADDRESS = "192.0.2.2"


def make_team(root: Path) -> None:
    store = open_store(root)
    try:
        store.add_user("boss", "admin", PASSWORD, "cli")
        store.set_team_mode(True, "cli")
    finally:
        store.close()


@contextmanager
def serve(root: Path, log: Path, address: str = "127.0.0.1"):
    port = free_port()
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "curation.cli", "serve", str(root), "--port", str(port),
                                 "--host", address], stdout=out, stderr=subprocess.STDOUT,
                                env=dict(os.environ, PYTHONUNBUFFERED="1"), start_new_session=True)
        try:
            wait_healthy(f"http://127.0.0.1:{port}", proc)
            yield port
        finally:
            stop(proc)


@contextmanager
def pages_only(root: Path, log: Path):
    """The pages alone (`streamlit run streamlit_app.py` with CURATION_PROJECT), which open the
    project when the first browser session arrives: unlike `curation serve`, they do not hold the
    database from the start, so another process can hold it first."""
    port = free_port()
    app = Path(__file__).resolve().parents[2] / "streamlit_app.py"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(app), "--server.headless=true",
                                 f"--server.port={port}", "--server.address=127.0.0.1",
                                 "--browser.gatherUsageStats=false", "--server.fileWatcherType=none"],
                                stdout=out, stderr=subprocess.STDOUT, cwd=app.parent, start_new_session=True,
                                env=dict(os.environ, PYTHONUNBUFFERED="1", CURATION_PROJECT=str(root)))
        try:
            wait_healthy(f"http://127.0.0.1:{port}", proc)
            yield port
        finally:
            stop(proc)


def fill_sign_in(page, name: str, password: str) -> None:
    page.locator(".st-key-sign-in-name input").fill(name)
    page.locator(".st-key-sign-in-password input").fill(password)
    page.get_by_role("button", name="Sign in").click()
    wait_for_app(page)


def test_a_signed_out_browser_sees_only_sign_in_while_the_database_is_held(project_copy, page, tmp_path):
    make_team(project_copy)
    with pages_only(project_copy, tmp_path / "serve.log") as port:
        holder = subprocess.Popen([sys.executable, "-c", HOLD, str(project_copy / "project.duckdb")],
                                  stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout.readline().strip() == "held"
            for path in ("", "review", "failed"):
                page.goto(f"http://127.0.0.1:{port}/{path}")
                wait_for_app(page)
                main = page.locator("[data-testid='stMain']")
                assert main.get_by_role("heading", name="Sign in").is_visible(), path
                text = main.inner_text()
                assert "Open or create a project" not in text and "Project folder" not in text, path
                assert "cannot be opened right now" in text and str(project_copy) not in text, path
                assert page.get_by_role("button", name="Create").count() == 0, path
            screenshot(page, "security-held-database-sign-in")
            fill_sign_in(page, "boss", PASSWORD)
            assert page.locator("[data-testid='stMain']").get_by_role("heading", name="Sign in").is_visible()
        finally:
            holder.kill()
            holder.wait()


def test_hostile_labels_stay_text_and_no_outside_url_is_requested(project_copy, page, tmp_path):
    store = open_store(project_copy)
    try:
        ids = [r[0] for r in store.query("SELECT id FROM images WHERE status = 'ok' ORDER BY id LIMIT 2")]
        store.set_label([ids[0]], IMAGE_LABEL, "setup")
    finally:
        store.close()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    with serve(project_copy, tmp_path / "serve.log") as port:
        base = f"http://127.0.0.1:{port}"
        page.goto(f"{base}/review?who=tester")
        wait_for_app(page)
        select(page, [ids[1]])
        label_by_search(page, TAG_LABEL)
        assert page.get_by_text(f"Labelled 1 image '{TAG_LABEL}'.").is_visible()
        assert tile(page, ids[1]).get_attribute("aria-label") == f"#{ids[1]} {TAG_LABEL}"
        tile(page, ids[0]).dblclick()
        settle(page)
        assert page.get_by_role("button", name=f"· {IMAGE_LABEL}").first.is_visible()
        screenshot(page, "security-hostile-label-detail")
        page.goto(f"{base}/review?who=tester")
        wait_for_app(page)
        select(page, [ids[1]])
        label_by_search(page, "../../../../tmp/x")
        assert page.get_by_text("may not hold '/' or '\\': it would read as a path.").is_visible()
        page.goto(f"{base}/?who=tester")
        wait_for_app(page)
        page.locator(".js-plotly-plot").first.wait_for()
        chart = page.locator(".js-plotly-plot").first.inner_text()
        assert IMAGE_LABEL in chart and TAG_LABEL in chart
        assert page.locator(".js-plotly-plot a").count() == 0 and page.locator(".js-plotly-plot img").count() == 0
        screenshot(page, "security-hostile-label-home")
    outside = [u for u in requests if not u.startswith((base, "data:", "blob:", "about:"))]
    assert not outside, outside


def test_a_lockout_from_one_address_leaves_the_name_free_from_another(project_copy, browser, tmp_path):
    make_team(project_copy)
    store = open_store(project_copy)
    try:  # a stranger on this machine guessed eight times just now: the next try waits a minute
        with store.transaction() as cur:
            for n in range(1, 9):
                cur.execute("INSERT INTO sign_ins (id, user_name, ok, reason, happened_at, client) "
                            "VALUES (?, 'boss', false, 'wrong_password', ?, 'local')", [n, utcnow()])
    finally:
        store.close()
    with serve(project_copy, tmp_path / "serve.log", address="0.0.0.0") as port:
        stranger = browser.new_context(viewport={"width": 1400, "height": 1000})
        admin = browser.new_context(viewport={"width": 1400, "height": 1000})
        try:
            page = stranger.new_page()
            page.goto(f"http://127.0.0.1:{port}/")
            wait_for_app(page)
            fill_sign_in(page, "boss", "a wrong guess")
            assert page.get_by_text("Too many failed sign-ins from this address: wait").is_visible()
            screenshot(page, "security-throttled-sign-in")
            fill_sign_in(page, "boss", PASSWORD)
            assert page.get_by_text("Too many failed sign-ins from this address").is_visible()
            other = admin.new_page()
            other.goto(f"http://{OTHER_ADDRESS}:{port}/")
            wait_for_app(other)
            fill_sign_in(other, "boss", PASSWORD)
            other.get_by_text("Signed in as boss").wait_for()
        finally:
            stranger.close()
            admin.close()
    store = open_store(project_copy)
    try:
        clients = dict(store.query("SELECT client, count(*) FROM sign_ins GROUP BY client"))
        assert clients.get(OTHER_ADDRESS) == 1 and clients.get("local", 0) == 10
    finally:
        store.close()


def test_a_team_download_is_saved_from_the_session_without_a_media_url(project_copy, page, tmp_path):
    make_team(project_copy)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    with serve(project_copy, tmp_path / "serve.log") as port:
        page.goto(f"http://127.0.0.1:{port}/failed")
        wait_for_app(page)
        fill_sign_in(page, "boss", PASSWORD)
        page.get_by_text("Signed in as boss").wait_for()
        page.get_by_role("button", name="Prepare download as CSV").click()
        wait_for_app(page)
        frame = page.frame_locator("iframe").first
        with page.expect_download() as saved:
            frame.get_by_role("button", name="Save failed_files.csv").click()
        path = saved.value.path()
        screenshot(page, "security-team-download")
    text = Path(path).read_text()
    assert text.startswith('"source","problem"') and len(text.splitlines()) == 8
    media = [u for u in requests if re.search(r"://[^/]+/media/", u)]
    assert all(u.endswith(".png") for u in media), f"only the tab icon comes from /media/, no download: {media}"
