"""Attribute values proposed from a few tags: accuracy against the truth as the tags grow.

A stand-in attribute whose truth is known: the identity group (the people of lfw10 / orl39 split in
two halves by name, as a binary attribute like perceived gender is; and, harder, the identity itself
with 10 / 39 values). n images are tagged at random (each value at least once where n allows), the
rest get curation.propose's kNN proposal from the labelled face's dlib-resnet34 vector (faces built
by the project's own commands, cached as bench/clean.py builds them). Printed per set, attribute and
n, over --draws draws: the accuracy of the proposals against the truth, the same among the proposals
with confidence >= 0.55 and >= 0.65 and their share (what a person would confirm in bulk), and the baseline
(every untagged image given the most common tagged value).

    python bench/attributes.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from curation.propose import propose_values

ROOT = Path(__file__).resolve().parents[1]
SIZES = (2, 4, 8, 16, 32, 64)
CONFIDENT = (0.55, 0.65)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--sets", nargs="+", default=["lfw10", "orl39"])
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "curation" / "bench-clean")
    return parser.parse_args()


def draw_tags(truth: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    order = rng.permutation(len(truth))
    first = {v: i for i, v in ((i, truth[i]) for i in order[::-1])}  # one of each value, if n allows
    chosen = list(dict.fromkeys([*list(first.values())[:n], *order]))[:n]
    tags = np.full(len(truth), None, dtype=object)
    tags[chosen] = truth[chosen]
    return tags


def score(vectors: np.ndarray, truth: np.ndarray, n: int, draws: int) -> list[float]:
    """accuracy, per confidence cut (accuracy, share) of the proposals at or above it, majority baseline."""
    rng = np.random.default_rng(0)
    accuracy, confident, share, baseline = [], {c: [] for c in CONFIDENT}, {c: [] for c in CONFIDENT}, []
    for _ in range(draws):
        tags = draw_tags(truth, n, rng)
        values, confidence = propose_values(vectors, tags)
        rest = np.array([t is None for t in tags])
        right = values[rest] == truth[rest]
        accuracy.append(right.mean())
        for cut in CONFIDENT:
            sure = confidence[rest] >= cut
            confident[cut].append(right[sure].mean() if sure.any() else np.nan)
            share[cut].append(sure.mean())
        common = max(set(tags[~rest]), key=list(tags[~rest]).count)
        baseline.append((truth[rest] == common).mean())
    cuts = [f(c) for c in CONFIDENT for f in (lambda c: np.nanmean(confident[c]) if not np.isnan(confident[c]).all()
                                                 else np.nan, lambda c: np.mean(share[c]))]
    return [float(np.mean(accuracy)), *map(float, cuts), float(np.mean(baseline))]


def main() -> None:
    args = parse_args()
    sys.path.insert(0, str(ROOT / "bench"))
    from face_sets import embedded_faces

    print(f"{'set':6s} {'attribute':18s} {'tags':>4s}  {'accuracy':>8s}  "
          + "  ".join(f"{'conf>=' + str(c) + ': acc / share':>24s}" for c in CONFIDENT) + f"  {'majority':>8s}")
    for name in args.sets:
        faces, vectors = embedded_faces(args.data / name, args.cache)
        person = faces[faces["person"]]
        v, people = vectors[person.index.to_numpy()], person["label"].to_numpy(dtype=object)
        names = sorted(set(people))
        half = {p: "group A" if i < len(names) / 2 else "group B" for i, p in enumerate(names)}
        for attribute, truth in (("identity group", np.array([half[p] for p in people], dtype=object)),
                                 (f"identity ({len(names)})", people)):
            for n in SIZES:
                acc, *cuts, base = score(v, truth, n, args.draws)
                pairs = "  ".join(f"{cuts[2 * i]:12.3f} / {cuts[2 * i + 1]:9.3f}" for i in range(len(CONFIDENT)))
                print(f"{name:6s} {attribute:18s} {n:4d}  {acc:8.3f}  {pairs}  {base:8.3f}")


if __name__ == "__main__":
    main()
