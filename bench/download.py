"""Download throughput: our downloader against fastai-style blocking threads, on the same fake server.

The fake server (tests/fakeserver.py) runs in a process of its own and answers on several ports
of 127.0.0.1, each port a "host" for per-host politeness, with a delay added to every response
(network latency). Every image is generated before the clock starts.

Baseline: the way fastai's `download_images` works: 8 worker threads, each URL fetched with a
plain blocking request (`urllib.request.urlopen`, 4 s timeout) and written to a file.
Ours: `curation.gather.download.Downloader` (httpx.AsyncClient through the SSRF guard, bounded
in flight overall and per host), each body written to a file.
For information, the whole gather (search, download, verify, thumbnail, record in the project)
with the same limits.

Target: ours >= 4x the baseline's images/s, per-host politeness on.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from curation.gather import GatherRequest, Limits, QuerySpec, gather
from curation.gather.download import Downloader
from curation.gather.guard import Guard, parse_networks
from curation.store import init_project

ROOT = Path(__file__).resolve().parents[1]
TARGET = 4.0
BASELINE_THREADS = 8
BASELINE_TIMEOUT_S = 4


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=500, help="images")
    parser.add_argument("--hosts", type=int, default=16, help="ports of 127.0.0.1 the images are spread over")
    parser.add_argument("--delay", type=float, default=0.05, help="seconds added to every response")
    parser.add_argument("--concurrency", type=int, default=64, help="our requests in flight at most")
    parser.add_argument("--per-host", type=int, default=4, help="our requests in flight per host at most")
    parser.add_argument("--repeats", type=int, default=5)
    return parser.parse_args()


def start_server(args) -> tuple[subprocess.Popen, list[str]]:
    command = [sys.executable, str(ROOT / "tests" / "fakeserver.py"), "--hosts", str(args.hosts),
               "--delay", str(args.delay), "--images", str(args.n), "--warm", f"bench:{args.n}"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    return server, json.loads(server.stdout.readline())["bases"]


def save(folder: Path, index: int, data: bytes) -> None:
    (folder / f"{index:05d}.jpg").write_bytes(data)


def baseline(urls: list[str], folder: Path) -> int:
    def one(job: tuple[int, str]) -> bool:
        index, url = job
        try:
            with urllib.request.urlopen(url, timeout=BASELINE_TIMEOUT_S) as response:
                save(folder, index, response.read())
            return True
        except OSError:
            return False

    with ThreadPoolExecutor(BASELINE_THREADS) as pool:
        return sum(pool.map(one, enumerate(urls)))


def ours(urls: list[str], folder: Path, limits: Limits, guard: Guard) -> int:
    async def run() -> int:
        async with Downloader(limits, guard) as downloader:
            async def one(index: int, url: str) -> bool:
                fetched = await downloader.fetch(url)
                if fetched.status == "ok":
                    await asyncio.to_thread(save, folder, index, fetched.data)
                return fetched.status == "ok"

            return sum(await asyncio.gather(*(one(i, u) for i, u in enumerate(urls))))

    return asyncio.run(run())


def whole_gather(n: int, limits: Limits, work: Path) -> tuple[int, float]:
    store = init_project(work / "project")
    request = GatherRequest("openverse", (QuerySpec("bench", "bench"),), n)
    started = time.perf_counter()
    summary = gather(store, request, store.create_job("gather", request.params(), "bench"), limits=limits)
    seconds = time.perf_counter() - started
    store.close()
    return summary.ok, seconds


def timed(run, n: int) -> float:
    started = time.perf_counter()
    done = run()
    seconds = time.perf_counter() - started
    if done != n:
        raise SystemExit(f"only {done} of {n} images were downloaded")
    return n / seconds


def main() -> None:
    args = parse_args()
    server, bases = start_server(args)
    guard = Guard(parse_networks("127.0.0.1/32"))
    os.environ.update({"CURATION_OPENVERSE_URL": bases[0], "CURATION_ALLOWED_NETWORKS": "127.0.0.1/32"})
    limits = Limits(concurrency=args.concurrency, per_host=args.per_host)
    urls = [f"{bases[i % len(bases)]}/img/bench/{i}.jpg" for i in range(args.n)]
    try:
        with tempfile.TemporaryDirectory(prefix="curation-bench-download-") as tmp:
            rates: dict[str, list[float]] = {"baseline": [], "ours": []}
            for repeat in range(args.repeats):
                for name, run in (("baseline", baseline), ("ours", lambda u, f: ours(u, f, limits, guard))):
                    folder = Path(tmp) / f"{name}-{repeat}"
                    folder.mkdir()
                    rates[name].append(timed(lambda: run(urls, folder), args.n))
                    print(f"  run {repeat + 1} {name:8s} {rates[name][-1]:7.1f} images/s", flush=True)
            usable, seconds = whole_gather(args.n, limits, Path(tmp))
    finally:
        server.terminate()
        server.wait()
    report(args, statistics.median(rates["baseline"]), statistics.median(rates["ours"]), usable, seconds)


def report(args, base: float, our: float, usable: int, seconds: float) -> None:
    ratio = our / base
    print(f"{args.n} images from the fake server: {args.hosts} hosts (ports of 127.0.0.1), "
          f"{args.delay * 1000:.0f} ms added to every response; medians of {args.repeats} runs")
    print(f"baseline (fastai-style: {BASELINE_THREADS} threads, blocking urllib, {BASELINE_TIMEOUT_S} s timeout): "
          f"{base:7.1f} images/s")
    print(f"ours (httpx.AsyncClient via the SSRF guard, {args.concurrency} in flight, at most {args.per_host} "
          f"per host): {our:7.1f} images/s")
    print(f"ratio: {ratio:.1f}x the baseline (target {TARGET:.0f}x: {'met' if ratio >= TARGET else 'NOT met'})")
    print(f"whole gather (search, download, verify, thumbnail, record), same limits: {usable} usable images "
          f"in {seconds:.1f} s = {usable / seconds:.0f} images/s (for information)")


if __name__ == "__main__":
    main()
