"""The project API on a large project: what a client waits for while `curation serve` holds it.

Builds (or reuses) bench/scale.py's project of 1,200,000 synthetic image rows, serves it with
`curation serve`, and prints the median latency of
- `GET /api/v1/report`,
- `GET /api/v1/images` pages with Review's filters (a label, a flag kind, unlabelled, a deep page),
- `curation report DIR --json` end to end through the server, Python's start included,
beside the same command run directly once the server has stopped (the only way it could run
before the API: while the app held the project it failed at once).

Targets: report and an images page under 200 ms each; the command under 1.5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale import NAMES, ensure_project  # noqa: E402  (bench/scale.py builds the project)

from curation.serving import read_serve_info  # noqa: E402

API_TARGET_MS = 200.0
COMMAND_TARGET_S = 1.5
CURATION = [sys.executable, "-m", "curation.cli"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_200_000)
    parser.add_argument("--project", type=Path, help="project folder (default /tmp/curation-bench-scale-<rows>)")
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    args.project = args.project or Path(f"/tmp/curation-bench-scale-{args.rows}")
    return args


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(root: Path) -> subprocess.Popen:
    server = subprocess.Popen([*CURATION, "serve", str(root), "--port", str(free_port())],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        info = read_serve_info(root)
        if info is not None and info.pid == server.pid:
            try:
                httpx.get(f"{info.url}/api/v1/openapi.json", timeout=5, trust_env=False)
                return server
            except httpx.HTTPError:
                pass
        if server.poll() is not None:
            raise SystemExit(f"curation serve exited with status {server.returncode}")
        time.sleep(0.5)
    raise SystemExit("the server did not come up in 180 s")


def median_ms(call, repeats: int) -> tuple[float, float]:
    call()  # warm up: the first call pays for imports and caches
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times)


def api_figures(root: Path, repeats: int) -> list[tuple[str, float, float]]:
    info = read_serve_info(root)
    http = httpx.Client(base_url=f"{info.url}/api/v1", headers={"Authorization": f"Bearer {info.token}"},
                        timeout=120, trust_env=False)

    def get(path: str, **query):
        return lambda: http.get(path, params=query).raise_for_status()

    cases = {
        "GET report": get("/report"),
        "GET images, page 0": get("/images", page_size=100),
        f"GET images, label {NAMES[7]}": get("/images", label=NAMES[7], page_size=100),
        "GET images, flag blurry": get("/images", flag="blurry", page_size=100),
        "GET images, unlabelled": get("/images", unlabelled="true", page_size=100),
        "GET images, page 1000": get("/images", page=1000, page_size=100),
    }
    return [(name, *median_ms(call, repeats)) for name, call in cases.items()]


def command_seconds(root: Path, repeats: int) -> tuple[float, float]:
    def run():
        done = subprocess.run([*CURATION, "report", str(root), "--json"], capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"curation report failed: {done.stderr.strip()}")
        json.loads(done.stdout)

    median, worst = median_ms(run, repeats)
    return median / 1000, worst / 1000


def stop(server: subprocess.Popen) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=60)


def main() -> None:
    args = parse_args()
    ensure_project(args.project, args.rows, 50_000).close()
    print(f"Project: {args.project} ({args.rows:,} image rows); {os.cpu_count()} cores; "
          f"load average {os.getloadavg()[0]:.1f}")
    server = start_server(args.project)
    try:
        rows = api_figures(args.project, args.repeats)
        served = command_seconds(args.project, max(3, args.repeats // 2))
    finally:
        stop(server)
    direct = command_seconds(args.project, max(3, args.repeats // 2))
    print(f"\n{'request':<34}{'median ms':>10}{'max ms':>9}  target < {API_TARGET_MS:.0f} ms")
    for name, median, worst in rows:
        verdict = "PASS" if median < API_TARGET_MS else "MISS"
        print(f"{name:<34}{median:>10.1f}{worst:>9.1f}  {verdict}")
    print(f"\n`curation report --json` through the server: median {served[0]:.2f} s (max {served[1]:.2f} s), "
          f"target < {COMMAND_TARGET_S} s: {'PASS' if served[0] < COMMAND_TARGET_S else 'MISS'}")
    print(f"the same command, direct, with no server:    median {direct[0]:.2f} s (max {direct[1]:.2f} s); "
          f"through the server it takes {served[0] / direct[0]:.2f}x the direct time")
    print("Before the API, the command could not run at all while the app held the project.")


if __name__ == "__main__":
    main()
