"""The command line and the Python client against a served project with a browser session open."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from curation.client import connect
from curation.serving import read_serve_info, serve_file
from curation.store import open_store

from .harness import free_port, screenshot, served, wait_for_app, wait_healthy

pytestmark = pytest.mark.e2e


def curation(*args, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "curation.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def open_browser_session(page, url: str) -> None:
    page.goto(f"{url}/review?who=e2e-lead")
    wait_for_app(page, timeout=120_000)


def wait_for_job(client, kind: str, seconds: float = 120) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        jobs = client.call("GET", "/jobs", kind=kind).json()["jobs"]
        if jobs and jobs[0]["active"] and jobs[0]["done"] >= 0:
            return jobs[0]
        time.sleep(0.2)
    raise AssertionError(f"no {kind} job started in {seconds} s")


def test_every_command_works_through_the_server(project_copy, page, tmp_path):
    direct = curation("report", project_copy, "--json")
    assert direct.returncode == 0, direct.stderr
    assert curation("export", project_copy, tmp_path / "direct.csv", "--what", "images").returncode == 0
    with served(project_copy, tmp_path / "serve.log") as url:
        open_browser_session(page, url)
        assert oct(serve_file(project_copy).stat().st_mode & 0o777) == "0o600"

        report = curation("report", project_copy, "--json")
        assert report.returncode == 0, report.stderr
        assert json.loads(report.stdout) == json.loads(direct.stdout)

        exported = curation("export", project_copy, tmp_path / "images.csv", "--what", "images")
        assert exported.returncode == 0, exported.stderr
        assert pd.read_csv(tmp_path / "images.csv").equals(pd.read_csv(tmp_path / "direct.csv"))

        embedded = curation("embed", project_copy, "--model", "hog")
        assert embedded.returncode == 0, embedded.stderr
        assert embedded.stdout.startswith("Embeddings: hog: 333 images embedded, 0 embedded before.")

        trained = curation("train", project_copy, "--arch", "linear", "--model", "hog", "--epochs", "5")
        assert trained.returncode == 0, trained.stderr
        assert trained.stdout.startswith("Run #1 finished: validation accuracy")

        client = connect(project_copy)
        assert client.served
        circles = client.images(label="circle")
        assert len(circles) == 84 and set(circles["label"]) == {"circle"}
        rows, vectors = client.embeddings("hog")
        assert vectors.shape == (len(rows), 1764) and len(rows) >= 333
        assert client.label([int(circles["id"][0])], "oval") == 1

        page.goto(f"{url}/train?who=e2e-lead")
        wait_for_app(page, timeout=120_000)
        page.get_by_text("Run #1 finished").wait_for(timeout=30_000)
        screenshot(page, "train-after-cli")

        page.goto(f"{url}/?who=e2e-lead")
        wait_for_app(page, timeout=120_000)
        page.get_by_text("From a terminal or a notebook").click()
        page.get_by_text(f"{url}/api/v1/").first.wait_for(timeout=10_000)
        screenshot(page, "home-clients")

        again = curation("serve", project_copy, "--port", free_port())
        assert again.returncode == 1 and "already served by process" in again.stderr

    assert not serve_file(project_copy).exists(), "the server removes serve.json when it stops"
    store = open_store(project_copy)
    try:
        actors = store.query("SELECT DISTINCT actor FROM events WHERE action = 'label' AND after LIKE '%oval%'")
        assert actors == [("cli",)]
        assert store.jobs("train")[0].status == "done"
    finally:
        store.close()


def as_in_a_terminal() -> None:
    """Ctrl+C reaches the command as it does in a terminal. A test run started in the background
    (`cmd &` in a script) ignores SIGINT, its children inherit that, and Python then installs no
    KeyboardInterrupt at all: the command would rightly go on, as a background job should."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_cancels_a_served_job(project_copy, page, tmp_path):
    with served(project_copy, tmp_path / "serve.log") as url:
        open_browser_session(page, url)
        command = [sys.executable, "-m", "curation.cli", "train", str(project_copy), "--epochs", "200",
                   "--image-size", "32"]
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                preexec_fn=as_in_a_terminal)
        client = connect(project_copy)
        wait_for_job(client, "train")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 1 and "cancelled" in err.splitlines()[-1]
        assert client.call("GET", "/jobs", kind="train").json()["jobs"][0]["status"] == "cancelled"


def test_the_api_refuses_missing_and_forged_tokens_on_the_real_server(project_copy, page, tmp_path):
    with served(project_copy, tmp_path / "serve.log") as url:
        open_browser_session(page, url)
        with httpx.Client(base_url=f"{url}/api/v1", trust_env=False) as http:
            assert http.get("/report").status_code == 401
            assert http.get("/report", headers={"Authorization": "Bearer forged"}).status_code == 401
            schema = http.get("/openapi.json").json()
            assert "/jobs" in schema["paths"]


def test_a_killed_server_is_seen_through_and_its_job_ends_failed(project_copy, tmp_path):
    port = free_port()
    log = open(tmp_path / "serve.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "curation.cli", "serve", str(project_copy), "--port", str(port)],
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", server)
        deadline = time.monotonic() + 60
        while read_serve_info(project_copy) is None and time.monotonic() < deadline:
            time.sleep(0.2)
        client = connect(project_copy)
        assert client.served
        job = client.start("train", epochs=200, image_size=32)
        wait_for_job(client, "train")
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
        log.close()
    assert read_serve_info(project_copy) is not None, "SIGKILL leaves serve.json behind"
    report = curation("report", project_copy, "--json")
    assert report.returncode == 0, report.stderr
    client = connect(project_copy)
    assert not client.served
    assert client.job(job["id"])["status"] == "failed"
    assert "Interrupted" in client.job(job["id"])["error"]
    frame = client.images(status="any")
    assert len(frame) == json.loads(report.stdout)["images"]["total"]
    assert Path(project_copy, ".curation", "serve.json").exists(), "the next serve replaces it"
