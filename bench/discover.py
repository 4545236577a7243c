"""Discovering identities among unlabelled faces: ours beside dlib's Chinese whispers.

lfw10 and orl39 with their labels removed: every image's labelled face (in lfw10 the one nearest the
image centre; orl39 has one face each) embedded with dlib-resnet34 by the project's own commands
(cached, as bench/clean.py builds it), grouped, and scored against the people they are: pairwise F
and BCubed F (precision / recall / F). A face left alone is its own group.

Chinese whispers runs at dlib's example value (0.5) and at the model's same-person distance (0.6);
ours is curation.discover.proposed_people, one fixed setting (a twelfth under 0.6), with its
neighbours in cut printed to show how sensitive it is.

    python bench/discover.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from curation.discover import agglomerate, bcubed_f, chinese_whispers, discovery_cut, pairwise_f, proposed_people

ROOT = Path(__file__).resolve().parents[1]
SAME_PERSON = 0.6


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--sets", nargs="+", default=["lfw10", "orl39"])
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "curation" / "bench-clean")
    return parser.parse_args()


def alone_as_own(groups: np.ndarray) -> np.ndarray:
    return np.where(groups < 0, groups.max() + 1 + np.arange(len(groups)), groups)


def methods(vectors: np.ndarray, image_ids: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "chinese whispers 0.5 (dlib example)": chinese_whispers(vectors, 0.5),
        "chinese whispers 0.6 (same person)": chinese_whispers(vectors, SAME_PERSON),
        f"ours (average linkage, cut {discovery_cut(SAME_PERSON):.2f})":
            alone_as_own(proposed_people(vectors, image_ids, SAME_PERSON)[0]),
        "  ours cut at 0.50": agglomerate(vectors, image_ids, 0.5),
        "  ours cut at 0.60": agglomerate(vectors, image_ids, 0.6),
        "  complete linkage at 0.60 (untuned)": agglomerate(vectors, image_ids, 0.6, "complete"),
    }


def main() -> None:
    args = parse_args()
    sys.path.insert(0, str(ROOT / "bench"))
    from face_sets import embedded_faces

    print(f"{'set':6s} {'method':38s} {'groups':>6s}  {'pairwise P / R / F':22s}  BCubed P / R / F")
    for name in args.sets:
        faces, vectors = embedded_faces(args.data / name, args.cache)
        person = faces[faces["person"]]
        v, truth = vectors[person.index.to_numpy()], person["label"].to_numpy()
        for method, groups in methods(v, person["image_id"].to_numpy()).items():
            pw, bc = pairwise_f(truth, groups), bcubed_f(truth, groups)
            print(f"{name:6s} {method:38s} {len(set(groups.tolist())):6d}  "
                  f"{pw[0]:.3f} / {pw[1]:.3f} / {pw[2]:.3f}   {bc[0]:.3f} / {bc[1]:.3f} / {bc[2]:.3f}")
        print(f"{name:6s} {'(truth)':38s} {len(set(truth)):6d}")


if __name__ == "__main__":
    main()
