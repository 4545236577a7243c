"""Identity cleaning on noisy identities: keep-all, a centroid-distance baseline, the method before
issue 17 ("today") and ours, on adversarial draws.

The noisy sets are built from ../shared/data (lfw10, orl39) as its README describes: to each
identity's images, impostor images are added at a ratio r of impostor images per true image
(r = 2.0: the person is a third of the pool), drawn (again for each of --draws seeds) six ways:
from every other person ("all"), from one other person ("one"), from two ("two"), two photos of one
impostor plus the rest from all ("pair"), from one person who has no label in the project
("outside": half the people, at random, have no pool), and "five": a project of five people drawn
at random with five photos each under their label, the impostors from the other four, one of whom
gives up to six (another labelled person outnumbers the label's own, six against five). The truth
of every face is known: the labelled person's face is, in each of their images, the one nearest
the image centre (lfw10's README); every other face in the pool (impostor images, bystanders in
the person's photos) is not.

Printed per set, draw and ratio, summed over identities and draws: the share of impostor faces
removed and of true faces lost (Ng & Winkler's "false positives removed" and "true positives
lost"). One fixed setting everywhere, no tuning per set: ours calibrates the same-person distance
on each dataset from its labels (dlib's 0.6 as the prior), as the clean job does. Baseline: keep a
face when its distance to the pool's mean vector is under a threshold chosen once (the largest that
removes 97% of the first set's impostors at r = 0.3: "fine at 0.3"). "Ours" keeps an ambiguous
identity whole; "ours, decided" scores the identities it did not mark ambiguous; "ours, after the
choice" decides each ambiguous identity as one click on its right reading would.

Faces are found and embedded by the project's own commands (init, ingest, detect, embed) into a
cache folder, once. Target: >= 97% impostors removed with <= 2% true faces lost, every set, draw and
ratio up to 2; where the person cannot be told apart, the identity ambiguous instead.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time
from pathlib import Path

import numpy as np
import pandas as pd

from curation.clean.calibrate import calibrate
from curation.clean.joint import clean_labels
from curation.clean.method import best_other_identity, clean_identity, pairwise_distances
from curation.cli import main as cli
from curation.embed import get_embedder
from curation.embed.verification import central_faces
from curation.store import open_store

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
RATIOS = (0.3, 1.0, 2.0, 3.0)
TARGET_REMOVED, TARGET_LOST = 0.97, 0.02


def embedded_faces(data: Path, cache: Path, model: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Every face of the set with its vector, the project built by the CLI on first use."""
    root = cache / f"{data.name}-{model}"
    if not (root / "project.duckdb").exists():
        commands = [["init", root], ["ingest", root, data, "--labels-from-folders"], ["detect", root],
                    ["embed", root, "--model", model]]
        with contextlib.redirect_stdout(io.StringIO()):
            assert all(cli([str(arg) for arg in command]) == 0 for command in commands), "building the project failed"
    store = open_store(root)
    faces, vectors = store.face_vectors(model)
    store.close()
    faces["person"] = False
    faces.loc[central_faces(faces), "person"] = True
    return faces, vectors


DRAWS = ("all", "one", "two", "pair", "outside", "five")
FIVE_PEOPLE, FIVE_OWN = 5, 5
DRAW_WORDS = {"all": "impostors from every other person", "one": "impostors from one other person",
              "two": "impostors from two other people", "pair": "two photos of one impostor, the rest from all",
              "outside": "impostors from one person who has no label in the project",
              "five": "five people with five photos each; impostors from the other four, one of them giving "
                      "up to six (another labelled person outnumbers the label's own)"}


def noisy_dataset(faces: pd.DataFrame, ratio: float, rng: np.random.Generator, draw: str = "all") -> pd.DataFrame:
    """Every identity's pool (its images plus impostor images of others, drawn as `draw` says), as
    face rows with the pool's label, whether the face is that person, and who the face really shows.
    For "outside", half the people (at random) have no pool: they are the impostors of the others.
    For "five", the project is FIVE_PEOPLE people drawn at random, FIVE_OWN photos each under their
    label (the rest of their photos unlabelled), and the impostors come from the other four."""
    images = faces.groupby("image_id")["label"].first()
    shows = np.where(faces["person"], faces["label"], None)
    people = np.array(sorted(images.unique()), dtype=object)
    pooled, outsiders = people, None
    if draw == "five":
        pooled = np.sort(rng.choice(people, size=FIVE_PEOPLE, replace=False))
        images = images[images.isin(pooled)]
    if draw == "outside":
        order = rng.permutation(people)
        pooled, outsiders = np.sort(order[: len(order) // 2]), order[len(order) // 2:]
    pools = []
    for number, label in enumerate(pooled):
        own = images.index[images == label]
        if draw == "five":
            own = rng.choice(own, size=min(FIVE_OWN, len(own)), replace=False)
        wanted = round(ratio * len(own))
        impostors = impostor_images(images, label, wanted, rng, draw, outsiders, number)
        rows = np.flatnonzero(faces["image_id"].isin(np.concatenate([own, impostors])).to_numpy())
        pools.append(pd.DataFrame({"row": rows, "label": label, "shows": shows[rows]}))
    pool = pd.concat(pools, ignore_index=True)
    pool["person"] = pool["shows"] == pool["label"]
    return pool


def impostor_images(images: pd.Series, label: str, wanted: int, rng, draw: str, outsiders, number: int) -> np.ndarray:
    others = np.array(sorted(set(images) - {label}), dtype=object)
    if draw == "outside":
        sources = [outsiders[number % len(outsiders)]]
    elif draw in ("one", "two"):
        sources = rng.choice(others, size=1 if draw == "one" else 2, replace=False)
    else:
        sources = others
    candidates = images.index[images.isin(sources)].to_numpy()
    if draw == "five":
        favoured = rng.choice(others)
        most = rng.choice(images.index[images == favoured].to_numpy(), size=min(wanted, FIVE_OWN + 1), replace=False)
        rest = images.index[images.isin(others) & (images != favoured)].to_numpy()
        return np.concatenate([most, rng.choice(rest, size=min(len(rest), wanted - len(most)), replace=False)])
    if draw == "pair" and wanted >= 2:
        twice = rng.choice(images.index[images == rng.choice(others)].to_numpy(), size=2, replace=False)
        rest = np.setdiff1d(candidates, twice)
        return np.concatenate([twice, rng.choice(rest, size=min(len(rest), wanted - 2), replace=False)])
    return rng.choice(candidates, size=min(len(candidates), wanted), replace=False)


def keep_all(vectors, image_ids, labels, same_person):
    return np.ones(len(vectors), bool)


def centroid_threshold(vectors, image_ids, labels, threshold):
    keep = np.zeros(len(vectors), bool)
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        keep[rows] = pairwise_distances(vectors[rows], vectors[rows].mean(0, keepdims=True))[:, 0] < threshold
    return keep


def todays_method(vectors, image_ids, labels, same_person):
    """The method before issue 17: each label's largest coherent group is its person, then a face
    matching another label's kept faces better than its own is relabelled; the fixed 0.6."""
    keep, match = np.zeros(len(vectors), bool), np.zeros(len(vectors))
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        verdict = clean_identity(vectors[rows], image_ids[rows], same_person)
        keep[rows], match[rows] = verdict.keep, verdict.match
    members = {label: np.flatnonzero((labels == label) & keep) for label in np.unique(labels)}
    other, other_match = best_other_identity(vectors, image_ids, labels, members, same_person)
    return keep & ~((other_match >= 0.5) & (other_match > match))


def ours(vectors, image_ids, labels, prior):
    """The project's method as the clean job runs it: calibrate, then clean every label jointly.
    Returns keep, the ambiguous faces, keep once a person picks the true reading of each ambiguous
    label (the candidate holding more of its true faces: filled in by the caller), the value."""
    calibration = calibrate(vectors, image_ids, labels, prior)
    result = clean_labels(vectors, image_ids, labels, calibration.value)
    return result, calibration.value


def chosen_keep(result, truth: np.ndarray) -> np.ndarray:
    """Keep after one click per ambiguous label, choosing the reading whose group is the person."""
    keep = (result.faces["action"] == "keep").to_numpy().copy()
    for label in {c.label for c in result.candidates}:
        readings = [c for c in result.candidates if c.label == label]
        best = max(readings, key=lambda c: int(truth[c.faces["row"].to_numpy()[c.faces["member"].to_numpy()]].sum()))
        keep[best.faces["row"].to_numpy()] = (best.faces["action"] == "keep").to_numpy()
    return keep


def calibrate_centroid(faces: pd.DataFrame, vectors: np.ndarray) -> float:
    """The baseline's threshold: the largest that removes 97% of the impostors at ratio 0.3 on the
    first set (so it is "fine at 0.3"), found once and then fixed."""
    pool = noisy_dataset(faces, 0.3, np.random.default_rng(1000))
    v, labels = vectors[pool["row"]], pool["label"].to_numpy()
    distance = np.zeros(len(pool))
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        distance[rows] = pairwise_distances(v[rows], v[rows].mean(0, keepdims=True))[:, 0]
    impostor = np.sort(distance[~pool["person"].to_numpy()])
    return float(impostor[int(0.03 * len(impostor))])


def clean_calibration(faces: pd.DataFrame, vectors: np.ndarray, prior: float) -> str:
    """Where the calibrated same-person distance lands on the set as its folders file it."""
    calibration = calibrate(vectors, faces["image_id"].to_numpy(), faces["label"].to_numpy(), prior)
    return f"{calibration.value:.3f}, {calibration.source(f'{prior}')}"


def counts(truth: np.ndarray, keep: np.ndarray) -> np.ndarray:
    return np.array([(~truth).sum(), (~truth & ~keep).sum(), truth.sum(), (truth & ~keep).sum()])


def score_case(faces, vectors, prior, centroid_at, draw, ratio, draws) -> dict:
    """Summed over draws: impostor faces, removed, true faces, lost, per method; ambiguous labels."""
    image_ids = faces["image_id"].to_numpy()
    methods = {"keep-all": lambda *a: keep_all(*a, prior), "centroid": lambda *a: centroid_threshold(*a, centroid_at),
               "today": lambda *a: todays_method(*a, prior)}
    total = {name: np.zeros(4, int) for name in [*methods, "ours", "ours, decided", "ours, after the choice"]}
    ambiguous, pools, values, seconds = 0, 0, [], 0.0
    for seed in range(draws):
        pool = noisy_dataset(faces, ratio, np.random.default_rng(seed), draw)
        truth, labels = pool["person"].to_numpy(), pool["label"].to_numpy()
        v, ids = vectors[pool["row"]], image_ids[pool["row"]]
        for name, method in methods.items():
            total[name] += counts(truth, method(v, ids, labels))
        started = time.perf_counter()
        result, value = ours(v, ids, labels, prior)
        seconds += time.perf_counter() - started
        keep = (result.faces["action"] == "keep").to_numpy()
        decided = ~np.isin(labels, [c.label for c in result.candidates])
        total["ours"] += counts(truth, keep)
        total["ours, decided"] += counts(truth[decided], keep[decided])
        total["ours, after the choice"] += counts(truth, chosen_keep(result, truth))
        ambiguous += len({c.label for c in result.candidates})
        pools += len(np.unique(labels))
        values.append(value)
    return {"draw": draw, "ratio": ratio, "counts": total, "ambiguous": ambiguous, "pools": pools,
            "same person": float(np.mean(values)), "seconds": seconds / draws}


def cell(c: np.ndarray) -> str:
    impostors, removed, true, lost = c
    return f"{removed / max(impostors, 1):6.1%} / {lost / max(true, 1):5.1%}"


def meets(c: np.ndarray) -> bool:
    impostors, removed, true, lost = c
    return removed >= TARGET_REMOVED * impostors and lost <= TARGET_LOST * true


def print_table(cases: list[dict]) -> None:
    names = list(cases[0]["counts"])
    header = f"{'draw':8} {'ratio':>5} " + " ".join(f"{n:>16}" for n in names) + f" {'ambiguous':>10} {'t':>6} {'s':>5}"
    print(header)
    for case in cases:
        print(f"{case['draw']:8} {case['ratio']:5.1f} " + " ".join(f"{cell(case['counts'][n]):>16}" for n in names)
              + f" {case['ambiguous']:>4} of {case['pools']:<3} {case['same person']:6.3f} {case['seconds']:5.1f}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--sets", nargs="+", default=["lfw10", "orl39"])
    parser.add_argument("--model", default="dlib-resnet34")
    parser.add_argument("--draws", type=int, default=4, help="random impostor draws per set, draw kind and ratio")
    parser.add_argument("--kinds", nargs="+", default=list(DRAWS), choices=DRAWS)
    parser.add_argument("--ratios", nargs="+", type=float, default=list(RATIOS))
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "curation" / "bench-clean")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    prior = get_embedder(args.model).same_person
    print(f"model {args.model}, prior same-person distance {prior}, {args.draws} draws per set, kind and ratio")
    print("each cell: impostor faces removed / true faces lost, summed over identities and draws; 'ours' keeps "
          "an ambiguous identity whole;\n'after the choice' is ours once a person picks the right group of each "
          "ambiguous identity; t: the calibrated same-person distance (mean); s: seconds per dataset for ours")
    verdicts, centroid_at = {}, None
    for name in args.sets:
        faces, vectors = embedded_faces(args.data / name, args.cache, args.model)
        centroid_at = centroid_at or calibrate_centroid(faces, vectors)
        print(f"\n{name}: {faces['label'].nunique()} identities, {faces['image_id'].nunique()} images, "
              f"{len(faces)} faces; centroid baseline: distance to the pool's mean under {centroid_at:.3f}")
        print(f"calibrated on the set as filed (no impostors): {clean_calibration(faces, vectors, prior)}")
        cases = [score_case(faces, vectors, prior, centroid_at, kind, ratio, args.draws)
                 for kind in args.kinds for ratio in args.ratios]
        print_table(cases)
        for method in ("today", "ours", "ours, after the choice"):
            verdicts.setdefault(method, []).extend(
                meets(case["counts"][method]) for case in cases if case["ratio"] <= 2.0)
        verdicts.setdefault("ours, decided identities (ambiguous ones whole)", []).extend(
            meets(case["counts"]["ours, decided"]) and meets(case["counts"]["ours"] * [0, 0, 1, 1])
            for case in cases if case["ratio"] <= 2.0)
    print(f"\ntarget (>= {TARGET_REMOVED:.0%} removed, <= {TARGET_LOST:.0%} lost, every kind of draw, ratios up to 2):")
    for method, met in verdicts.items():
        print(f"  {method}: met in {sum(met)} of {len(met)} cases")


if __name__ == "__main__":
    main()
