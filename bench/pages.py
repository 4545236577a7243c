"""Every page's time to settle in headless Chromium, on bench/scale.py's project (1.2M image rows).

Serves the project (`curation serve`), then opens each page by its URL (as annotator `bench`,
so pages show their content, not the name form) in one browser tab, as a user moving between
pages does, and times from navigation until Streamlit's script has finished and stays finished
(connected, script state `notRunning` twice, 250 ms apart): the first load of each page, then
`--loads - 1` later loads. The browser's cache is warm after the first page (Home), as a user's
is. A full-page screenshot of each page's last load goes to `--shots` (look at them).

Target: every page settles in under 1.5 s.

Run `python bench/scale.py` first to build the project (or pass --project). A project without faces
gets bench/scale.py's face layer first (faces, vectors, a cleaning run, a map layout: minutes at
1.2M rows), so that Faces, Clusters and Map draw their content, not their empty states;
`--no-faces` measures the project as it is.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from e2e.harness import CHROMIUM, CHROMIUM_ARGS, served  # noqa: E402

TARGET_S = 1.5
PAGES = {"Home": "", "Review": "review", "Train": "train", "Evaluate": "evaluate", "Audit": "audit",
         "Failed files": "failed", "Clusters": "clusters", "Map": "map", "Faces": "faces", "Quality": "quality",
         "Gather": "gather", "Team": "team"}
RUNNING = "[data-testid='stApp'][data-test-script-state='running']"
SETTLED = "[data-testid='stApp'][data-test-connection-state='CONNECTED'][data-test-script-state='notRunning']"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", type=Path, default=Path("/tmp/curation-bench-scale-1200000"))
    parser.add_argument("--loads", type=int, default=3, help="loads per page (the first is reported apart)")
    parser.add_argument("--pages", nargs="+", default=list(PAGES), choices=list(PAGES))
    parser.add_argument("--shots", type=Path, default=Path("/tmp/curation-bench-pages"))
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds before a page counts as never settled")
    parser.add_argument("--no-faces", dest="faces", action="store_false",
                        help="do not add bench/scale.py's faces, vectors, cleaning run and map to a project without faces")
    return parser.parse_args()


def settle_time(page, url: str, timeout_ms: float) -> float:
    """Seconds from navigation until the script has run and stays finished."""
    start = time.perf_counter()
    page.goto(url, wait_until="commit")
    page.wait_for_selector("[data-testid='stApp'][data-test-connection-state='CONNECTED']", timeout=timeout_ms)
    while True:
        page.wait_for_selector(SETTLED, timeout=timeout_ms)
        settled = time.perf_counter() - start
        page.wait_for_timeout(250)
        if page.query_selector(SETTLED) and not page.query_selector(RUNNING):
            return settled


def measure(page, base: str, name: str, path: str, loads: int, shots: Path, timeout_ms: float) -> list[float]:
    times = []
    for n in range(loads):
        try:
            times.append(settle_time(page, f"{base}/{path}?who=bench", timeout_ms))
            if n == loads - 1:
                page.screenshot(path=str(shots / f"{path or 'home'}.png"), full_page=True)
        except Exception as exc:  # a page that never settles is a figure, not a crash of the benchmark
            print(f"  {name}: did not settle ({type(exc).__name__})")
            times.append(float("inf"))
        print(f"  {name} load {n + 1}: {times[-1]:.2f} s")
    return times


def main() -> None:
    args = parse_args()
    if not (args.project / "project.duckdb").exists():
        raise SystemExit(f"{args.project} holds no project: run bench/scale.py first.")
    if args.faces:
        with_faces(args.project)
    from playwright.sync_api import sync_playwright

    args.shots.mkdir(parents=True, exist_ok=True)
    results = {}
    with served(args.project, args.shots / "serve.log") as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        opened = settle_time(page, f"{base}/?who=bench", args.timeout * 1000)
        print(f"  the server opened the project and the browser loaded the app in {opened:.2f} s (not counted)")
        for name in args.pages:
            results[name] = measure(page, base, name, PAGES[name], args.loads, args.shots, args.timeout * 1000)
        browser.close()
    report(results, args.shots)


def with_faces(root: Path) -> None:
    from curation.store import open_store
    from scale import add_faces

    store = open_store(root)
    try:
        if not store.face_count():
            add_faces(store, root)
    finally:
        store.close()


def report(results: dict[str, list[float]], shots: Path) -> None:
    print(f"\n{'page':<14}{'first s':>9}{'later median s':>16}{'verdict':>9}")
    misses = 0
    for name, times in results.items():
        later = statistics.median(times[1:]) if len(times) > 1 else times[0]
        ok = max(times[0], later) < TARGET_S
        misses += not ok
        print(f"{name:<14}{times[0]:>9.2f}{later:>16.2f}{'PASS' if ok else 'MISS':>9}")
    print(f"\n{'PASS' if not misses else 'MISS'}: {len(results) - misses} of {len(results)} pages settle in under "
          f"{TARGET_S} s (first and later loads). Screenshots in {shots}.")


if __name__ == "__main__":
    main()
