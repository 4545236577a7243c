"""Ingest throughput against a decode-only verify loop on the same JPEGs, in the same run.

Baseline: fastai's `verify_images` loop (open, draft to 1/8 scale, load), one process.
Ours: `curation.ingest.ingest` into a fresh project (default workers), which also hashes,
perceptual-hashes, writes originals and thumbnails and records everything in the database.

Two kinds of JPEG (`--kind`): photo-like (gradient, shapes and noise: slow to decode, like
photographs) and flat (a few flat colours: decode in a fraction of the time, so the fixed cost
per image, everything but the decode, decides the ratio).

Target: median ingest rate >= 0.5x the median baseline rate, on each kind.

Each timed run starts after `os.sync()`, and the projects are deleted only at the end of the whole
run, after both kinds: deleting a 4,000-file project with its pages still dirty made ext4 slow down
the next timed run (measured: 588 img/s on the first repeat, 325 by the fifth, with rising kernel
time in the workers). On ext4 without a journal, every new file's inode search also skips each
inode freed in the last 60 s (`recently_deleted`, 13-22% of a worker's time in `perf`), so the
flat runs, right after the photo-like projects were deleted, paid for the bench's own clean-up.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from curation.ingest import default_workers, ingest
from curation.store import open_store
from curation.synth import photo_like

LABELS = ("alpha", "beta", "gamma", "delta")
TARGET = 0.5


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000, help="number of JPEGs")
    parser.add_argument("--kind", choices=("photo", "flat", "both"), default="both")
    parser.add_argument("--data", type=Path, help="cache folder (default /tmp/curation-bench-ingest[-flat]-<n>)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--projects", type=Path, help="folder the timed projects are made in (default: the system's "
                        "temporary folder); a tmpfs such as /dev/shm takes the disk's file-creation cost out")
    return parser.parse_args()


def data_folder(args: argparse.Namespace, kind: str) -> Path:
    if args.data:
        return args.data / kind
    return Path(f"/tmp/curation-bench-ingest-{args.n}" if kind == "photo" else f"/tmp/curation-bench-ingest-{kind}-{args.n}")


def flat_image(index: int, size: tuple[int, int], seed: int = 0) -> Image.Image:
    """A background and two rectangles in flat colours: a JPEG that decodes very fast."""
    rng = np.random.default_rng([seed, index, 2])
    img = Image.new("RGB", size, tuple(int(c) for c in rng.integers(0, 256, 3)))
    draw = ImageDraw.Draw(img)
    for _ in range(2):
        x0, x1 = sorted(int(v) for v in rng.integers(0, size[0], 2))
        y0, y1 = sorted(int(v) for v in rng.integers(0, size[1], 2))
        draw.rectangle((x0, y0, x1, y1), fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
    return img


PICTURES = {"photo": photo_like, "flat": flat_image}


def write_one(job: tuple[int, int, Path, str]) -> None:
    i, seed, data, kind = job
    w, h = (int(v) for v in np.random.default_rng([seed, i, 1]).integers(250, 1001, 2))
    path = data / LABELS[i % len(LABELS)] / f"img_{i:05d}.jpg"
    PICTURES[kind](i, (w, h), seed).save(path, "JPEG", quality=85)


def image_files(data: Path) -> list[Path]:
    return sorted(data.rglob("*.jpg"))


def ensure_dataset(data: Path, n: int, seed: int, kind: str) -> list[Path]:
    files = image_files(data)
    if len(files) == n:
        print(f"Reusing the {n} cached JPEGs in {data}")
        return files
    shutil.rmtree(data, ignore_errors=True)
    for label in LABELS:
        (data / label).mkdir(parents=True)
    start = time.perf_counter()
    with ProcessPoolExecutor() as pool:
        list(pool.map(write_one, [(i, seed, data, kind) for i in range(n)], chunksize=16))
    print(f"Generated {n} {kind} JPEGs in {data} in {time.perf_counter() - start:.1f} s")
    return image_files(data)


def warm_cache(files: list[Path]) -> None:
    total = sum(len(f.read_bytes()) for f in files)
    print(f"Warmed the file cache: {total / 2**20:.0f} MiB")


def cpu_seconds() -> tuple[float, float]:
    """CPU time of this process (all its threads) and of its finished children (the ingest worker
    and its pool): less swayed by other people's jobs than the wall clock; and the part of it spent
    in the kernel (file creation, which other people's deletions slow down: see above)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    kernel = own.ru_stime + children.ru_stime
    return own.ru_utime + children.ru_utime + kernel, kernel


def cpu_ms_per_image(before: tuple[float, float], n: int) -> tuple[float, float]:
    """(CPU, kernel CPU) ms per image since `before`."""
    after = cpu_seconds()
    return 1000 * (after[0] - before[0]) / n, 1000 * (after[1] - before[1]) / n


def verify_loop(files: list[Path]) -> tuple[float, tuple[float, float]]:
    """Images/s and (CPU, kernel CPU) ms per image of fastai's decode-only check."""
    os.sync()
    cpu, start = cpu_seconds(), time.perf_counter()
    for f in files:
        img = Image.open(f)
        img.draft(img.mode, (img.size[0] // 8, img.size[1] // 8))
        img.load()
    return len(files) / (time.perf_counter() - start), cpu_ms_per_image(cpu, len(files))


def ingest_run(data: Path, n: int, workers: int | None, parent: Path) -> tuple[float, tuple[float, float]]:
    """Images/s and (CPU, kernel CPU) ms per image (every process) of ingest into a fresh project under `parent`
    (project creation not timed)."""
    root = Path(tempfile.mkdtemp(prefix="project-", dir=parent))
    curation = Path(sys.executable).with_name("curation")
    subprocess.run([str(curation), "init", str(root)], check=True, capture_output=True)
    store = open_store(root)
    os.sync()
    cpu, start = cpu_seconds(), time.perf_counter()
    summary = ingest(store, [data], labels_from_folders=True, workers=workers)
    rate, cpu_ms = n / (time.perf_counter() - start), cpu_ms_per_image(cpu, n)
    store.close()
    if summary.new_images != n:
        raise RuntimeError(f"Expected {n} new images, got: {summary.line()}")
    return rate, cpu_ms


def main() -> None:
    args = parse_args()
    workers = default_workers()
    print(f"Cores: {os.cpu_count()}; ingest default workers: {workers}")
    parent = Path(tempfile.mkdtemp(prefix="curation-bench-projects-", dir=args.projects))
    try:
        verdicts = [measure(kind, args, workers, parent)
                    for kind in (("photo", "flat") if args.kind == "both" else (args.kind,))]
    finally:
        shutil.rmtree(parent, ignore_errors=True)
    print("\n" + "\n".join(verdicts))


def measure(kind: str, args: argparse.Namespace, workers: int, parent: Path) -> str:
    """Time the decode loop and ingest alternately on one kind of JPEG, with projects made under
    `parent`; returns the verdict line."""
    data = data_folder(args, kind)
    files = ensure_dataset(data, args.n, args.seed, kind)
    warm_cache(files)
    baseline, ours, cpu = [], [], {"baseline": [], "ingest": []}
    print(f"  {kind}: load average {load()} at the start")
    for r in range(args.repeats):
        for name, rates, (rate, cpu_ms) in (("baseline", baseline, verify_loop(files)),
                                            ("ingest", ours, ingest_run(data, args.n, None, parent))):
            rates.append(rate)
            cpu[name].append(cpu_ms)
        print(f"  {kind} repeat {r + 1}: baseline {baseline[-1]:.1f} img/s, ingest {ours[-1]:.1f} img/s; "
              f"CPU per image: baseline {cpu['baseline'][-1][0]:.2f} ms, ingest {cpu['ingest'][-1][0]:.2f} ms")
    single = ingest_run(data, args.n, 1, parent)[0]
    print(f"  {kind}: load average {load()} at the end")
    return report(kind, baseline, ours, single, workers, cpu)


def load() -> str:
    """The machine's 1/5/15-minute load averages: a shared machine's figures mean little without them."""
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def report(kind: str, baseline: list[float], ours: list[float], single: float, workers: int,
           cpu: dict[str, list[tuple[float, float]]]) -> str:
    rows = [("verify loop (fastai, 1 process)", baseline),
            (f"ingest (workers={workers})", ours),
            ("ingest (workers=1, once)", [single])]
    print(f"\n{kind + ' JPEGs':<34}{'median img/s':>14}{'min':>10}{'max':>10}")
    for name, rates in rows:
        print(f"{name:<34}{statistics.median(rates):>14.1f}{min(rates):>10.1f}{max(rates):>10.1f}")
    base_cpu, ingest_cpu = (statistics.median(total for total, _ in cpu[name]) for name in ("baseline", "ingest"))
    kernel = statistics.median(kernel for _, kernel in cpu["ingest"])
    print(f"CPU per image (median, all processes): verify loop {base_cpu:.2f} ms, ingest {ingest_cpu:.2f} ms "
          f"(kernel {kernel:.2f} ms); "
          f"with {os.cpu_count()} free cores ingest could reach at most "
          f"{min(workers, os.cpu_count()) * base_cpu / ingest_cpu:.2f}x")
    ratio = statistics.median(ours) / statistics.median(baseline)
    verdict = "PASS" if ratio >= TARGET else "MISS"
    return (f"{verdict} ({kind}): ingest/verify-loop = {ratio:.2f}x "
            f"({statistics.median(ours):.1f} vs {statistics.median(baseline):.1f} img/s; target >= {TARGET}x)")


if __name__ == "__main__":
    main()
