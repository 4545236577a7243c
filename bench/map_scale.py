"""The map at a million faces: UMAP fitted on a sample with the rest placed by transform, and the Map
page drawing every point, against today's baseline of a 50,000-point map.

Builds (or reuses) a project of --n synthetic faces, one per image, written straight with SQL, with
face-like dlib-resnet34 vectors (bench/umap_bench.py's clusters: --identities people whose faces sit
~0.4 apart, ~1.0 from other people's) and labels. Then:

1. Lays out the map with the map job's own function (`curation.map_run.lay_out`: a worker process,
   numba's compilation included): seconds to fit on the sample, and points per second placed by
   transform (skipped when the project's layout is already stored; --relayout forces it).
2. Serves the project and times the Map page in headless Chromium (bench/pages.py's settle time:
   the script finished and staying finished), then until the chart has drawn its points (all of them up
   to DRAWN_POINTS; past it, the picture of all and its MARKED_POINTS markers), for the
   whole map and for the baseline: the same page with the map cut to --baseline points (a project
   of that many faces, built and laid out the same way).
3. With --check: hovers a point and lassos a region on the whole map, timing the lasso until the
   selection's grid shows; a screenshot of each goes to --shots (look at them).

    python bench/map_scale.py                  # 20,000 faces, quick
    python bench/map_scale.py --n 1000000 --also 100000 --check
    python bench/map_scale.py --project /tmp/scale --n 997914 --baseline 2000000 --check   # bench/scale.py's faces
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

MODEL = "dlib-resnet34"
CHART = ".st-key-map-chart .js-plotly-plot"
BUILD_SQL = [
    "INSERT INTO labels SELECT unnest($names), TIMESTAMP '2024-01-01'",
    """INSERT INTO images (id, sha256, status, format, ext, width, height, mode, frames, phash, label, bytes, added_at)
       SELECT id, sha256(id::VARCHAR), 'ok', 'JPEG', 'jpg', 250, 250, 'RGB', 1, hash(id), $names[identity + 1],
              30000, TIMESTAMP '2024-01-01' + to_seconds(id)
       FROM read_parquet($part)""",
    """INSERT INTO faces (id, image_id, face, x1, y1, x2, y2, prob, landmarks, chip_landmarks, chip)
       SELECT id, id, 0, 60, 60, 190, 190, 0.99, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]::FLOAT[10],
              [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]::FLOAT[10],
              'chips/' || id || '.jpg'
       FROM read_parquet($part)""",
]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20_000, help="faces in the project")
    parser.add_argument("--baseline", type=int, default=50_000, help="the map's old size: drawn for comparison")
    parser.add_argument("--also", type=int, nargs="*", default=[], help="more map sizes to draw (e.g. 100000)")
    parser.add_argument("--identities", type=int, default=2_000)
    parser.add_argument("--sample", type=int, default=50_000, help="points UMAP is fitted on")
    parser.add_argument("--project", type=Path, help="project folder (default /tmp/curation-bench-map-<n>)")
    parser.add_argument("--relayout", action="store_true", help="lay out again even if a layout is stored")
    parser.add_argument("--check", action="store_true", help="also hover and lasso the whole map, with screenshots")
    parser.add_argument("--shots", type=Path, default=Path("/tmp/curation-bench-map"))
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds before a page counts as never drawn")
    return parser.parse_args()


def bench_module(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_project(root: Path, n: int, identities: int, seed: int = 0) -> None:
    """A project of n images with one face each, labelled by identity, with face-like vectors."""
    from curation.store import init_project

    points, labels = bench_module("umap_bench").face_like_points(n, 128, identities, seed)
    store = init_project(root)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            part = Path(tmp) / "faces.parquet"
            ids = pa.array(np.arange(1, n + 1, dtype=np.int64))
            vectors = pa.FixedSizeListArray.from_arrays(pa.array(points.ravel()), points.shape[1])
            pq.write_table(pa.table({"id": ids, "identity": pa.array(labels.astype(np.int64)), "key": ids,
                                     "vector": vectors}), part)
            names = [f"person_{i:05d}" for i in range(identities)]
            with store.transaction() as cur:
                for sql in BUILD_SQL:
                    cur.execute(sql, {k: v for k, v in {"names": names, "part": str(part)}.items() if f"${k}" in sql})
            store.record_embeddings(MODEL, "face", part)
    finally:
        store.close()


def ensure_project(root: Path, n: int, identities: int) -> None:
    if (root / "project.duckdb").exists():
        print(f"Reusing {root}")
        return
    start = time.perf_counter()
    build_project(root, n, identities)
    print(f"Built {root}: {n:,} faces in {time.perf_counter() - start:.1f} s")


def lay_out_timed(root: Path, sample: int, relayout: bool) -> None:
    """Run the map job's function, printing the fit's seconds and the transform's points per second."""
    from curation.map_run import lay_out, maps_dir
    from curation.store import open_store

    store = open_store(root)
    try:
        if relayout:
            shutil.rmtree(maps_dir(store), ignore_errors=True)
        marks = []
        start = time.perf_counter()

        def mark(done: int, total: int, message: str) -> None:
            marks.append((time.perf_counter(), done))
            print(f"  {marks[-1][0] - start:7.1f} s  {message}", flush=True)

        points, _ = lay_out(store, MODEL, mark, fit_sample=sample)
        end = time.perf_counter()
    finally:
        store.close()
    if not marks:
        print(f"Layout of {points:,} points already stored (--relayout to time it again)")
        return
    fitted = [(t, done) for t, done in marks if 0 < done < points]
    if not fitted:
        print(f"UMAP of {points:,} points (no transform: at most --sample): {end - start:.1f} s")
        return
    (fit_t, fit_done), (last_t, last_done) = fitted[0], marks[-2] if len(marks) > 1 else marks[-1]
    rate = (last_done - fit_done) / max(last_t - fit_t, 1e-9)
    print(f"UMAP of {points:,} points: fit on {fit_done:,} in {fit_t - start:.1f} s (worker start and numba "
          f"included), transform of {last_done - fit_done:,} in {last_t - fit_t:.1f} s = {rate:,.0f} points/s; "
          f"total {end - start:.1f} s")


def chart_drawn(page, points: int, timeout_ms: float) -> None:
    """Wait until the chart's traces hold the points drawn of `points` (all up to DRAWN_POINTS, as WebGL; past
    it, MARKED_POINTS as SVG markers over the picture of all) and plotly has drawn them."""
    from curation.maps import DRAWN_POINTS
    from curation.ui.map import MARKED_POINTS

    pictured = points > DRAWN_POINTS
    points = min(points, MARKED_POINTS) if pictured else points
    page.wait_for_function(
        """([selector, points, pictured]) => {
          const chart = document.querySelector(selector);
          if (!chart || !chart._fullData || !chart._fullLayout) { return false; }
          const kind = pictured ? 'scatter' : 'scattergl';
          const drawn = chart._fullData.filter(t => t.type === kind).reduce((n, t) => n + t._length, 0);
          const shown = pictured ? chart.querySelector('.imagelayer image') !== null
                                 : chart.querySelector('canvas') !== null;
          return drawn === points && shown;
        }""", arg=[CHART, points, pictured], timeout=timeout_ms, polling=100)


def page_times(page, base: str, points: int, timeout_ms: float, loads: int = 2) -> list[tuple[float, float]]:
    """(script settled, chart drawn) seconds per load of the Map page."""
    settle_time = bench_module("pages").settle_time
    times = []
    for _ in range(loads):
        start = time.perf_counter()
        settled = settle_time(page, f"{base}/map?who=bench", timeout_ms)
        chart_drawn(page, points, timeout_ms)
        times.append((settled, time.perf_counter() - start))
    return times


def trace_point(page) -> list[float]:
    """Screen position of the middle point of the chart's largest single-colour trace (not "other")."""
    return page.evaluate(
        """(selector) => {
          const chart = document.querySelector(selector), layout = chart._fullLayout;
          const box = chart.getBoundingClientRect();
          const traces = chart._fullData.filter(t => t.type.startsWith('scatter') && !t.name.endsWith('other values'));
          const trace = traces.sort((a, b) => b._length - a._length)[0];
          const i = Math.floor(trace._length / 2);
          return [box.left + layout._size.l + layout.xaxis.l2p(trace.x[i]),
                  box.top + layout._size.t + layout.yaxis.l2p(trace.y[i])];
        }""", CHART)


def hover_text(page, point: list[float], timeout_ms: float) -> str:
    """What plotly's hover label says at `point`."""
    page.mouse.move(point[0] - 3, point[1] - 3)
    page.mouse.move(*point, steps=3)
    label = page.locator(".hoverlayer .hovertext").first
    label.wait_for(timeout=timeout_ms)
    return label.text_content()


def lasso_selection(page, point: list[float], timeout_ms: float, radius: float = 30) -> tuple[str, float, float]:
    """Lasso around `point`; the selection's heading, the seconds the drag took (plotly selects and redraws
    on each mouse move) and the seconds from releasing the mouse until the heading showed."""
    start = time.perf_counter()
    lasso_around(page, point, radius)
    released = time.perf_counter()
    heading = page.get_by_text("points selected")
    heading.wait_for(timeout=timeout_ms)
    return heading.inner_text(), released - start, time.perf_counter() - released


def hover_and_lasso(page, shots: Path, timeout_ms: float) -> None:
    point = trace_point(page)
    print(f"Hover at {point[0]:.0f},{point[1]:.0f} shows: {hover_text(page, point, timeout_ms)!r}")
    page.screenshot(path=str(shots / "map-hover.png"))
    heading, drag, answer = lasso_selection(page, point, timeout_ms)
    print(f"Lasso: {heading!r}; the drag (48 mouse moves) took {drag:.1f} s, then {answer:.1f} s until the grid")
    page.screenshot(path=str(shots / "map-lasso.png"), full_page=True)


def lasso_around(page, centre: list[float], radius: float) -> None:
    """Draw a lasso (an octagon) around `centre` in small mouse steps, as a hand would."""
    corners = [(centre[0] + radius * np.cos(a * np.pi / 4), centre[1] + radius * np.sin(a * np.pi / 4))
               for a in range(9)]
    page.mouse.move(*corners[0])
    page.mouse.down()
    for x, y in corners[1:]:
        page.mouse.move(x, y, steps=6)
    page.mouse.up()


def measure_pages(projects: dict[str, tuple[Path, int]], args) -> None:
    from playwright.sync_api import sync_playwright

    from e2e.harness import CHROMIUM, CHROMIUM_ARGS, served

    results = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        for name, (root, points) in projects.items():
            with served(root, args.shots / f"serve-{name}.log") as base:
                page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
                bench_module("pages").settle_time(page, f"{base}/?who=bench", args.timeout * 1000)
                results[name] = (points, page_times(page, base, points, args.timeout * 1000))
                page.screenshot(path=str(args.shots / f"map-{points}.png"))
                if args.check and name == "whole map":
                    hover_and_lasso(page, args.shots, args.timeout * 1000)
                page.context.close()
        browser.close()
    report(results, args.shots)


def report(results: dict, shots: Path) -> None:
    print(f"\n{'map':<12}{'points':>10}{'load':>6}{'script settled s':>18}{'chart drawn s':>15}")
    for name, (points, times) in results.items():
        for load, (settled, drawn) in enumerate(times, 1):
            print(f"{name:<12}{points:>10,}{load:>6}{settled:>18.2f}{drawn:>15.2f}")
    if "baseline" in results:
        base = results["baseline"][1][-1][1]
        whole = results["whole map"][1][-1][1]
        print(f"\nLater load, chart drawn: whole map {whole:.2f} s = {whole / base:.1f}x the baseline's {base:.2f} s. "
              f"Screenshots in {shots}.")


def main() -> None:
    args = parse_args()
    args.shots.mkdir(parents=True, exist_ok=True)
    projects = {"whole map": (args.project or Path(f"/tmp/curation-bench-map-{args.n}"), args.n)}
    for n in args.also:
        projects[f"{n:,}"] = (Path(f"/tmp/curation-bench-map-{n}"), n)
    if args.baseline < args.n:
        projects["baseline"] = (Path(f"/tmp/curation-bench-map-{args.baseline}"), args.baseline)
    for root, n in projects.values():
        ensure_project(root, n, args.identities)
        lay_out_timed(root, args.sample, args.relayout)
    measure_pages(projects, args)


if __name__ == "__main__":
    main()
