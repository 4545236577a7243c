"""How the identity cleaning job grows with the project: seconds and peak memory per step.

A synthetic project of N labels x M faces is fed to the clean job's compute functions directly (the
job reads the store once, then everything is pure numpy): 128-d unit vectors, one gaussian cluster
per person on the sphere, spread like dlib's ResNet (one person's faces mostly within 0.6, another
person's beyond it), and a few percent impostors per pool drawn from other people. Timed separately:
the calibration (calibrate.py, which resolves the labels itself), the per-label peeling (joint.py's
pools_of), the joint linking and assignment of groups across labels (the rest of resolve), the
whole of clean_labels (its own peeling and joint step, then the verdicts) and the cross-identity
duplicate search (run.py). `--workers N` peels the pools on N worker processes, as the clean job
does at this size (their memory is not in the traced peak).

Printed per size: seconds and peak traced memory (tracemalloc: numpy's allocations) per step, and
the growth exponent of each step between consecutive sizes against the number of faces.
Theia's scale is 500 labels x 2,400 faces (1.2 million): `--theia` adds it.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path

import numpy as np

from curation.clean.calibrate import calibrate
from curation.clean.joint import assign, clean_labels, link_distance, link_groups, merged_modes, person_weights, pools_of
from curation.clean.peel import peel_in_workers
from curation.clean.run import DUPLICATE_FRACTION, cross_identity_duplicates

DIM = 128
#: Per-dimension noise of a face around its person (same-person distance about 0.45) and the spread of
#: the people's centres around a common mean (their centres about 0.8 apart: faces of two people ~0.9).
FACE_NOISE, PERSON_SPREAD = 0.028, 0.686
IMPOSTORS = 0.03
PRIOR = 0.6
SIZES = ((20, 500), (100, 1000))
THEIA = (500, 2400)


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def synthetic_project(labels: int, per_label: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectors, image ids and labels: `per_label` faces under each label, IMPOSTORS of them another
    person's (one face per image)."""
    rng = np.random.default_rng(seed)
    mean = unit(rng.standard_normal(DIM))
    centres = unit(mean + PERSON_SPREAD * unit(rng.standard_normal((labels, DIM))))
    person = np.repeat(np.arange(labels), per_label)
    impostor = rng.random(len(person)) < IMPOSTORS
    person[impostor] = (person[impostor] + rng.integers(1, labels, impostor.sum())) % labels
    vectors = np.empty((len(person), DIM), np.float32)
    for start in range(0, len(person), 65536):
        part = person[start:start + 65536]
        vectors[start:start + len(part)] = unit(centres[part] + FACE_NOISE * rng.standard_normal((len(part), DIM)))
    names = np.array([f"person_{i:04d}" for i in range(labels)], dtype=object)
    return vectors, np.arange(len(person)), names[np.repeat(np.arange(labels), per_label)]


def timed(step, results: dict, name: str):
    tracemalloc.reset_peak()
    start = time.perf_counter()
    out = step()
    results[name] = (time.perf_counter() - start, tracemalloc.get_traced_memory()[1] / 2**20)
    return out


def measure(labels: int, per_label: int, steps: tuple[str, ...], workers: int = 0) -> dict:
    vectors, image_ids, names = synthetic_project(labels, per_label)
    v64 = np.asarray(vectors, np.float64)
    results: dict = {}
    tracemalloc.start()
    calibration = timed(lambda: calibrate(vectors, image_ids, names, PRIOR), results, "calibration")
    same = calibration.value
    if "peeling" in steps or "joint" in steps:
        pools = timed(lambda: pools_of(v64, image_ids, names, same, None, peel(workers)), results, "peeling")
        timed(lambda: joint(v64, image_ids, pools, same), results, "joint")
        del pools
    if "clean" in steps:
        timed(lambda: clean_labels(vectors, image_ids, names, same, peel=peel(workers)), results, "clean")
    if "duplicates" in steps:
        timed(lambda: cross_identity_duplicates(v64, image_ids, names, same * DUPLICATE_FRACTION), results, "duplicates")
    tracemalloc.stop()
    results["t"] = calibration.value
    return results


def peel(workers: int):
    """How the pools are peeled: here, one after another (0), or on that many worker processes."""
    if not workers:
        return None

    def on_workers(pools, same):
        with tempfile.TemporaryDirectory(prefix="clean-scale-") as folder:
            return peel_in_workers(pools, same, Path(folder), workers)
    return on_workers


def joint(vectors, image_ids, pools, same):
    """resolve() less the peeling: the link distance, modes joined, groups linked across labels, assignment."""
    link = link_distance(pools, same)
    merged = [replace(pool, groups=merged_modes(pool.groups, np.where(pool.blocked, np.nan, pool.distances), same))
              for pool in pools]
    return assign(person_weights(merged, link_groups(vectors, image_ids, merged, link)))


def exponent(small: float, large: float, n_small: int, n_large: int) -> str:
    return f"{math.log(large / small) / math.log(n_large / n_small):.2f}" if small > 0 and large > 0 else "-"


STEPS = ("calibration", "peeling", "joint", "clean", "duplicates")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=[f"{n}x{m}" for n, m in SIZES],
                        help="LABELSxFACES, e.g. 20x500 100x1000")
    parser.add_argument("--theia", action="store_true", help=f"add {THEIA[0]}x{THEIA[1]} (1.2 million faces)")
    parser.add_argument("--steps", nargs="+", default=list(STEPS), choices=STEPS,
                        help="steps to time (peeling and joint go together)")
    parser.add_argument("--workers", type=int, default=0,
                        help="peel the pools on this many worker processes, as the clean job does (0: here, serially)")
    args = parser.parse_args()
    sizes = [tuple(int(x) for x in size.split("x")) for size in args.sizes] + ([THEIA] if args.theia else [])
    print(f"load average {os.getloadavg()[0]:.1f}; seconds (peak MiB traced) per step; peeling on "
          f"{f'{args.workers} worker processes' if args.workers else 'this process'}")
    print("| labels x faces | faces | t | " + " | ".join(STEPS) + " |")
    print("|---|---|---|" + "---|" * len(STEPS))
    rows = []
    for labels, per_label in sizes:
        r = measure(labels, per_label, args.steps, args.workers)
        rows.append((labels * per_label, r))
        cells = " | ".join(f"{r[s][0]:.2f} ({r[s][1]:.0f})" if s in r else "-" for s in STEPS)
        print(f"| {labels} x {per_label} | {labels * per_label:,} | {r['t']:.3f} | {cells} |", flush=True)
    for (n0, r0), (n1, r1) in zip(rows, rows[1:]):
        print(f"exponent {n0:,} -> {n1:,} faces: " +
              ", ".join(f"{s} {exponent(r0[s][0], r1[s][0], n0, n1)}" for s in STEPS if s in r0 and s in r1))
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
