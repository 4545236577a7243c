"""Discovering identities among unlabelled faces: ours beside dlib's Chinese whispers.

lfw10 and orl39 with their labels removed: every image's labelled face (in lfw10 the one nearest the
image centre; orl39 has one face each) embedded with dlib-resnet34 by the project's own commands
(cached, as bench/clean.py builds it), grouped, and scored against the people they are: pairwise F
and BCubed F (precision / recall / F). A face left alone is its own group.

Chinese whispers runs at dlib's example value (0.5) and at the model's same-person distance (0.6);
"before" is the method before this change (average linkage, all pairs, cut at 0.55); ours is
curation.discover.proposed_people, one fixed setting.

Sets: lfw10, orl39, and both pooled in one project (two domains at once). With --draws N (default 3;
0 for none), harder mixes drawn N times from each set: "2 per person" and "3 per person" (few photos
of everyone), "a third alone" (a third of the people have one photo: outsiders that must stay alone),
"1-10 per person" (each person a random number of their photos). Printed per mix: the mean over
draws of pairwise F and BCubed F per method.

With --scale N [N ...]: time and peak memory of ours on N synthetic 128-d vectors (people of 1 to 20
faces, gaussian around random points on a sphere, distances like dlib's), each size in a fresh
process; Chinese whispers beside it up to --whispers-up-to faces.

    python bench/discover.py --cache DIR [--draws 3] [--scale 20000 100000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import pdist

from curation.discover import bcubed_f, chinese_whispers, discovery_cut, pairwise_f, proposed_people

ROOT = Path(__file__).resolve().parents[1]
SAME_PERSON = 0.6
BEFORE_CUT = 0.55
MIXES = ("2 per person", "3 per person", "a third alone", "1-10 per person")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--sets", nargs="+", default=["lfw10", "orl39"])
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "curation" / "bench-clean")
    parser.add_argument("--draws", type=int, default=3, help="draws of each harder mix (0: none)")
    parser.add_argument("--scale", type=int, nargs="*", default=[], help="synthetic sizes to time")
    parser.add_argument("--whispers-up-to", type=int, default=20_000)
    parser.add_argument("--one-scale", type=int, help=argparse.SUPPRESS)
    return parser.parse_args()


def alone_as_own(groups: np.ndarray) -> np.ndarray:
    return np.where(groups < 0, groups.max() + 1 + np.arange(len(groups)), groups)


def before(vectors: np.ndarray, image_ids: np.ndarray) -> np.ndarray:
    """The method before: average linkage over every pair, cut at 0.55, faces of one photo apart."""
    distances = pdist(vectors.astype(np.float64))
    i, j = np.triu_indices(len(vectors), 1)
    distances[image_ids[i] == image_ids[j]] = 1e3
    return fcluster(linkage(distances, method="average"), t=BEFORE_CUT, criterion="distance") - 1


METHODS = {
    "chinese whispers 0.5 (dlib example)": lambda v, i: chinese_whispers(v, 0.5),
    "chinese whispers 0.6 (same person)": lambda v, i: chinese_whispers(v, SAME_PERSON),
    f"before (average linkage, cut {BEFORE_CUT})": before,
    "ours (spread-relative, kNN graph)": lambda v, i: alone_as_own(proposed_people(v, i, SAME_PERSON)[0]),
}


def scores(vectors, image_ids, truth) -> dict[str, tuple]:
    out = {}
    for method, group in METHODS.items():
        started = time.perf_counter()
        groups = group(vectors, image_ids)
        out[method] = (len(set(groups.tolist())), pairwise_f(truth, groups), bcubed_f(truth, groups),
                       time.perf_counter() - started)
    return out


def draw(truth: np.ndarray, mix: str, rng: np.random.Generator) -> np.ndarray:
    """Rows of one draw of `mix` (see the module's docstring)."""
    people = rng.permutation(np.unique(truth))
    rows = []
    for n, person in enumerate(people):
        mine = np.flatnonzero(truth == person)
        take = {"2 per person": 2, "3 per person": 3, "a third alone": 1 if n < len(people) // 3 else len(mine),
                "1-10 per person": int(rng.integers(1, len(mine) + 1))}[mix]
        rows.extend(rng.choice(mine, min(take, len(mine)), replace=False))
    return np.sort(np.asarray(rows))


def load_sets(args) -> dict[str, tuple]:
    sys.path.insert(0, str(ROOT / "bench"))
    from face_sets import embedded_faces

    sets = {}
    for name in args.sets:
        faces, vectors = embedded_faces(args.data / name, args.cache)
        person = faces[faces["person"]]
        sets[name] = (vectors[person.index.to_numpy()], person["image_id"].to_numpy(),
                      np.array([f"{name}/{label}" for label in person["label"]]))
    if len(sets) > 1:
        sets[" + ".join(sets)] = tuple(np.concatenate([s[k] for s in sets.values()]) for k in range(3))
    return sets


def print_sets(sets) -> None:
    print(f"{'set':15s} {'method':36s} {'groups':>6s}  {'pairwise P / R / F':22s}  {'BCubed P / R / F':22s}  seconds")
    for name, (vectors, image_ids, truth) in sets.items():
        for method, (groups, pw, bc, seconds) in scores(vectors, image_ids, truth).items():
            print(f"{name:15s} {method:36s} {groups:6d}  {pw[0]:.3f} / {pw[1]:.3f} / {pw[2]:.3f}   "
                  f"{bc[0]:.3f} / {bc[1]:.3f} / {bc[2]:.3f}   {seconds:6.2f}")
        print(f"{name:15s} {'(truth)':36s} {len(set(truth)):6d}")


def print_mixes(sets, draws: int) -> None:
    print(f"\nHarder mixes, mean of {draws} draws: pairwise F / BCubed F")
    print(f"{'set':8s} {'mix':16s}" + "".join(f"{m.split(' (')[0]:>23s}" for m in METHODS))
    for name in [n for n in sets if "+" not in n]:
        vectors, image_ids, truth = sets[name]
        for mix in MIXES:
            draws_rows = (draw(truth, mix, np.random.default_rng(seed)) for seed in range(draws))
            cells = np.array([[[s[1][2], s[2][2]] for s in scores(vectors[rows], image_ids[rows], truth[rows]).values()]
                              for rows in draws_rows])
            mean = cells.mean(0)
            print(f"{name:8s} {mix:16s}" + "".join(f"        {p:.3f} / {b:.3f}" for p, b in mean))


def synthetic(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n 128-d vectors: people of 1-20 faces around random points 0.53 from the origin (two people
    about 0.75 apart), each face 0.42 from another of its person (root mean square)."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 21, n)
    truth = np.repeat(np.arange(n), sizes)[:n]
    centres = rng.normal(size=(truth.max() + 1, 128)).astype(np.float32)
    centres *= 0.53 / np.linalg.norm(centres, axis=1, keepdims=True)
    return centres[truth] + rng.normal(0, 0.42 / np.sqrt(256), (n, 128)).astype(np.float32), truth


def one_scale(n: int, whispers_up_to: int) -> None:
    vectors, truth = synthetic(n)
    started = time.perf_counter()
    groups = alone_as_own(proposed_people(vectors, np.arange(n), SAME_PERSON)[0])
    out = {"n": n, "seconds": time.perf_counter() - started, "bcubed": bcubed_f(truth, groups)[2],
           "pairwise": pairwise_f(truth, groups)[2],
           "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if n <= whispers_up_to:
        started = time.perf_counter()
        whispers = chinese_whispers(vectors, 0.5)
        out |= {"cw_seconds": time.perf_counter() - started, "cw_bcubed": bcubed_f(truth, whispers)[2]}
    print(json.dumps(out))


def print_scale(sizes: list[int], whispers_up_to: int) -> None:
    print(f"\nScale: synthetic 128-d people; ours (kNN search + growing), each size in a fresh process")
    print(f"{'faces':>9s} {'seconds':>8s} {'peak MiB':>9s} {'pairwise F':>10s} {'BCubed F':>9s}  chinese whispers 0.5")
    for n in sizes:
        command = [sys.executable, __file__, "--one-scale", str(n), "--whispers-up-to", str(whispers_up_to)]
        line = subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        r = json.loads(line)
        whispers = (f"{r['cw_seconds']:.1f} s, BCubed F {r['cw_bcubed']:.3f}" if "cw_seconds" in r else "not run")
        print(f"{n:9d} {r['seconds']:8.1f} {r['peak_mib']:9.0f} {r['pairwise']:10.3f} {r['bcubed']:9.3f}  {whispers}")


def main() -> None:
    args = parse_args()
    if args.one_scale:
        return one_scale(args.one_scale, args.whispers_up_to)
    print(f"ours joins groups up to {discovery_cut(SAME_PERSON):.2f} apart (dlib's same-person distance {SAME_PERSON})")
    sets = load_sets(args)
    print_sets(sets)
    if args.draws:
        print_mixes(sets, args.draws)
    if args.scale:
        print_scale(args.scale, args.whispers_up_to)


if __name__ == "__main__":
    main()
