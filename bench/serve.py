"""The inference service under load: `python bench/serve.py BUNDLE [--images DIR] [--requests N]`.

For each variant (fp32, int8) it starts `curation deploy BUNDLE` in its own process and sends
`POST /v1/predict` at concurrency 1 and 8: requests/s and p50/p99 of the whole request, and, from
the answers' own timings, p50 of detection (face bundles) apart from the network. The baseline is
the same endpoint on a server that loads the bundle for every request (what serving `model.pt`
from a script does). The bundle's own figures (size, accuracy on validation, ONNX latency at batch
1 and 32) come from its model card. Images: every file under --images (default: generated shapes,
for an image bundle; a face bundle needs faces, e.g. ../shared/data/lfw10).

Targets (issue 14): p50 < 30 ms for an embedding run's classification at batch 1 on the CPU, >= 4x
the baseline's requests/s, int8 at most 0.3x the fp32 size with accuracy within one point.
"""

from __future__ import annotations

import argparse
import io
import json
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from curation import synth  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def server(command: list[str]):
    port = free_port()
    proc = subprocess.Popen([*command, "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 300
        while True:
            with suppress(httpx.HTTPError):
                if httpx.get(f"{url}/v1/health", timeout=5).status_code == 200:
                    break
            if proc.poll() is not None:
                raise RuntimeError(proc.stderr.read().decode())
            if time.time() > deadline:
                raise RuntimeError("the server did not come up in 5 minutes")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def load(url: str, images: list[bytes], requests: int, concurrency: int) -> dict:
    """Send `requests` predictions, `concurrency` at a time; figures over all of them."""
    with httpx.Client(timeout=300, limits=httpx.Limits(max_connections=concurrency)) as http:
        http.post(f"{url}/v1/predict", content=images[0])  # warm-up

        def one(i: int) -> tuple[float, dict]:
            start = time.perf_counter()
            response = http.post(f"{url}/v1/predict", content=images[i % len(images)])
            response.raise_for_status()
            return time.perf_counter() - start, response.json()

        start = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            results = list(pool.map(one, range(requests)))
        wall = time.perf_counter() - start
    seconds = np.array([s for s, _ in results]) * 1000
    timings = [a.get("timings", {}) for _, a in results]
    figure = {"concurrency": concurrency, "requests": requests, "requests_per_s": round(requests / wall, 2),
              "p50_ms": round(float(np.percentile(seconds, 50)), 1), "p99_ms": round(float(np.percentile(seconds, 99)), 1)}
    for part in ("detect_ms", "model_ms"):
        values = [t[part] for t in timings if part in t]
        if values:
            figure[f"{part[:-3]}_p50_ms"] = round(float(np.percentile(values, 50)), 1)
    return figure


def baseline_app(bundle: Path):
    """The same endpoint, loading the bundle for every request."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from curation.deploy.predict import Predictor

    async def predict(request):
        data = await request.body()
        return JSONResponse(await run_in_threadpool(lambda: Predictor.from_bundle(bundle).predict(data)))

    async def health(request):
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route("/v1/predict", predict, methods=["POST"]), Route("/v1/health", health)])


def test_images(bundle: Path, folder: Path | None, limit: int = 32) -> list[bytes]:
    if folder:
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".pgm"))
        return [p.read_bytes() for p in files[::max(1, len(files) // limit)][:limit]]
    if json.loads((bundle / "preprocess.json").read_text())["kind"] == "face":
        raise SystemExit("A face bundle needs faces: give --images (e.g. ../shared/data/lfw10).")
    out = []
    for i in range(limit):
        buf = io.BytesIO()
        synth.class_image(synth.SHAPES[i % 3], i).save(buf, "JPEG", quality=90)
        out.append(buf.getvalue())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--images", type=Path, default=None)
    parser.add_argument("--requests", type=int, default=40, help="requests per setting (default 40)")
    parser.add_argument("--baseline-requests", type=int, default=8)
    parser.add_argument("--serve-baseline", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    bundle = args.bundle.resolve()
    if args.serve_baseline:
        import uvicorn

        uvicorn.run(baseline_app(bundle), host="127.0.0.1", port=args.port, log_level="warning")
        return
    images = test_images(bundle, args.images)
    card = json.loads((bundle / "model_card.json").read_text())
    rows = {}
    for variant in ("fp32", "int8"):
        with server([sys.executable, "-m", "curation.cli", "deploy", str(bundle), "--variant", variant,
                     "--feedback", str(bundle.parent / f"bench-feedback-{variant}")]) as url:
            rows[variant] = [load(url, images, args.requests, c) for c in (1, 8)]
    with server([sys.executable, __file__, str(bundle), "--serve-baseline"]) as url:
        rows["baseline (load per request)"] = [load(url, images, args.baseline_requests, 1)]
    print(f"Bundle {bundle} (run #{card['run']['id']}, {card['preprocess']['kind']} model); "
          f"{len(images)} distinct images; 2-core CPU unless said otherwise.\n")
    print(f"{'setting':<30} {'conc':>4} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'detect p50':>10} {'model p50':>9}")
    for name, figures in rows.items():
        for f in figures:
            print(f"{name:<30} {f['concurrency']:>4} {f['requests_per_s']:>7} {f['p50_ms']:>8} {f['p99_ms']:>8} "
                  f"{f.get('detect_p50_ms', '-'):>10} {f.get('model_p50_ms', '-'):>9}")
    base = rows["baseline (load per request)"][0]["requests_per_s"]
    best = rows["fp32"][0]["requests_per_s"]
    print(f"\nfp32 at concurrency 1 serves {best / base:.1f}x the baseline's requests/s (target >= 4x).")
    v = card["variants"]
    print(f"int8: {v['int8']['size_mb']} MB vs fp32 {v['fp32']['size_mb']} MB ({v['int8']['size_ratio']:.2f}x, "
          f"target <= 0.3x); validation accuracy {v['int8']['val_accuracy']:.1%} vs {v['fp32']['val_accuracy']:.1%} "
          f"({v['int8']['accuracy_delta']:+.1%}, target within one point).")
    for name in ("fp32", "int8"):
        lat = {x["batch"]: x for x in v[name]["latency"]}
        print(f"ONNX alone, {name}: batch 1 p50 {lat[1]['p50_ms']} ms / p99 {lat[1]['p99_ms']} ms; "
              f"batch 32 p50 {lat[32]['p50_ms']} ms / p99 {lat[32]['p99_ms']} ms (measured when bundling).")
    print("\n" + json.dumps(rows))


if __name__ == "__main__":
    main()
