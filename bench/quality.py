"""Quality checks: the default thresholds, measured on generated degradations.

Each pixel check is shown its clean images and a strongly degraded copy of each (a Gaussian blur of
1% of the side, brightness x 0.4, a blend 60% of the way to white, contrast x 0.12, greyscale), made
the way ingest makes thumbnails (224 px, JPEG 82). Each size check is shown the set with some images
replaced by crops: a strip a third as wide (aspect ratio x 3) or the centre quarter of the side
(size / 4). The threshold is the one that best separates clean from degraded (Youden's J: detected
minus false alarms) on the tuning set; the confirming set is scored with that threshold unchanged.
The embedding outlier check is shown labels with 10% of their images moved in from other labels
(lfw10 tunes, orl39 confirms; dlib-resnet34 faces built into a cache by the project's commands).

    python bench/quality.py                     # tune on lfw10, confirm on the sample images
    python bench/quality.py --tune sample       # the other way round
Printed per check: the threshold found, the default in checks.py, and on each set the share of
degraded images caught and of clean images falsely suggested at the default.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

from curation.ingest import jpeg_bytes, thumbnail
from curation.quality import CHECKS, PixelCheck, SizeCheck
from curation.quality.outliers import label_outlier_scores
from curation.verify import load_rgb

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SAMPLE = ROOT / "sample_data"

DEGRADE = {
    "blurry": lambda im: im.filter(ImageFilter.GaussianBlur(0.01 * max(im.size))),
    "dark": lambda im: ImageEnhance.Brightness(im).enhance(0.4),
    "bright": lambda im: Image.blend(im, Image.new("RGB", im.size, "white"), 0.6),
    "low_information": lambda im: ImageEnhance.Contrast(im).enhance(0.12),
    "greyscale": lambda im: ImageOps.grayscale(im).convert("RGB"),
}
CROP = {
    "odd_aspect_ratio": lambda im: im.crop((im.width // 3, 0, 2 * im.width // 3, im.height)),
    "odd_size": lambda im: im.crop((3 * im.width // 8, 3 * im.height // 8, 5 * im.width // 8, 5 * im.height // 8)),
}
#: Share of a set's images replaced by crops for the size checks.
CROPPED = 0.1


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tune", choices=["sample", "lfw10"], default="lfw10")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--limit", type=int, default=160, help="images per set (the sample has 320 clean ones)")
    parser.add_argument("--draws", type=int, default=20, help="outlier draws per set")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "curation" / "bench-clean")
    return parser.parse_args()


def sample_images(limit: int) -> list[Image.Image]:
    planted = {p["path"] for p in json.loads((SAMPLE / "MANIFEST.json").read_text())["planted"]}
    paths = sorted(p for p in (SAMPLE / "images").rglob("*.jpg") if str(p.relative_to(SAMPLE)) not in planted)
    step = max(1, len(paths) // limit)
    return [load_rgb(p) for p in paths[::step][:limit]]


def lfw_images(data: Path, limit: int) -> list[Image.Image]:
    return [load_rgb(p) for p in sorted((data / "lfw10").rglob("*.jpg"))[:limit]]


def as_thumbnail(image: Image.Image) -> np.ndarray:
    """The image as the quality job sees it: ingest's thumbnail, through JPEG."""
    small = image.copy()
    thumbnail(small)
    return np.asarray(Image.open(io.BytesIO(jpeg_bytes(small))).convert("RGB"))


def best_threshold(clean: np.ndarray, bad: np.ndarray, direction: str) -> tuple[float, float]:
    """(threshold, Youden's J) separating `bad` from `clean`: of the cuts with the best J, the
    geometric middle of their range (the scores are ratios or levels over 0), so a wide gap between
    clean and degraded gives a threshold with room on both sides."""
    values = np.unique(np.concatenate([clean, bad]))
    cuts = (values[:-1] + values[1:]) / 2 if len(values) > 1 else values
    sign = 1 if direction == "below" else -1
    j = np.array([(sign * bad < sign * cut).mean() - (sign * clean < sign * cut).mean() for cut in cuts])
    best = cuts[np.isclose(j, j.max())]
    lo, hi = best.min(), best.max()
    return (float(np.sqrt(lo * hi)) if lo > 0 else float((lo + hi) / 2)), float(j.max())


def rates(check, clean: pd.Series, bad: pd.Series, threshold: float) -> tuple[float, float]:
    """(share of `bad` caught, share of `clean` suggested), each degraded image judged among the clean
    ones with a tenth of the others (a check may look at the whole set, e.g. greyscale in a colour set)."""
    caught, false = [], []
    step = max(1, len(clean) // 10)
    for start in range(0, len(bad), step):
        suspects = check.suspects(pd.concat([clean, bad.iloc[start:start + step]], ignore_index=True), threshold)
        caught.extend(suspects.iloc[len(clean):])
        false.append(suspects.iloc[:len(clean)].mean())
    return float(np.mean(caught)), float(np.mean(false))


def pixel_scores(images: list[Image.Image], name: str) -> tuple[pd.Series, pd.Series]:
    check = CHECKS[name]
    clean = pd.Series([check.score(as_thumbnail(im)) for im in images])
    bad = pd.Series([check.score(as_thumbnail(DEGRADE[name](im))) for im in images])
    return clean, bad


def size_scores(images: list[Image.Image], name: str, rng: np.random.Generator) -> tuple[pd.Series, pd.Series]:
    check = CHECKS[name]
    chosen = rng.random(len(images)) < CROPPED
    sizes = [CROP[name](im).size if c else im.size for im, c in zip(images, chosen)]
    scores = check.scores(pd.Series([w for w, _ in sizes]), pd.Series([h for _, h in sizes]))
    return scores[~chosen].reset_index(drop=True), scores[chosen].reset_index(drop=True)


def moved_impostors(faces: pd.DataFrame, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    """`faces` with 10% of the images moved to another label; which rows' images moved."""
    images = faces.drop_duplicates("image_id")[["image_id", "label"]]
    moved = images.sample(frac=0.1, random_state=int(rng.integers(1 << 31)))
    labels = sorted(images["label"].unique())
    target = {i: rng.choice([lb for lb in labels if lb != old]) for i, old in zip(moved["image_id"], moved["label"])}
    out = faces.copy()
    out["label"] = [target.get(i, lb) for i, lb in zip(out["image_id"], out["label"])]
    return out, np.array(sorted(target))


def outlier_scores(faces: pd.DataFrame, vectors: np.ndarray, draws: int) -> tuple[pd.Series, pd.Series]:
    rng = np.random.default_rng(0)
    clean, bad = [], []
    for _ in range(draws):
        noisy, moved = moved_impostors(faces, rng)
        scores = label_outlier_scores(noisy, vectors)
        bad.append(scores[scores.index.isin(moved)])
        clean.append(scores[~scores.index.isin(moved)])
    return pd.concat(clean, ignore_index=True), pd.concat(bad, ignore_index=True)


def face_set(name: str, args) -> tuple[pd.DataFrame, np.ndarray]:
    sys.path.insert(0, str(ROOT / "bench"))
    from face_sets import embedded_faces

    return embedded_faces(args.data / name, args.cache)


def report(name: str, found: float, tune: tuple, confirm: tuple, sets: tuple[str, str]) -> None:
    check = CHECKS[name]
    line = f"{name:18s} found {found:8.3g}  default {check.threshold:8.3g} ({check.direction})"
    for set_name, (caught, false) in zip(sets, (tune, confirm)):
        line += f"  | {set_name:7s} caught {caught:6.1%} false {false:6.1%}"
    print(line)


def main() -> None:
    args = parse_args()
    sets = {"sample": sample_images(args.limit), "lfw10": lfw_images(args.data, args.limit)}
    tune_name = args.tune
    confirm_name = "lfw10" if tune_name == "sample" else "sample"
    print(f"tune on {tune_name} ({len(sets[tune_name])} images), confirm on {confirm_name} "
          f"({len(sets[confirm_name])} images)")
    rng = np.random.default_rng(0)
    for name, check in CHECKS.items():
        if not isinstance(check, (PixelCheck, SizeCheck)):
            continue
        measured = {}
        for set_name in (tune_name, confirm_name):
            measured[set_name] = (pixel_scores(sets[set_name], name) if isinstance(check, PixelCheck)
                                  else size_scores(sets[set_name], name, rng))
        found, _ = best_threshold(*(s.to_numpy() for s in measured[tune_name]), check.direction)
        report(name, found, rates(check, *measured[tune_name], check.threshold),
               rates(check, *measured[confirm_name], check.threshold), (tune_name, confirm_name))
    faces = {name: face_set(name, args) for name in ("lfw10", "orl39")}
    measured = {name: outlier_scores(*faces[name], args.draws) for name in faces}
    check = CHECKS["outlier"]
    found, _ = best_threshold(*(s.to_numpy() for s in measured["lfw10"]), check.direction)
    report("outlier", found, rates(check, *measured["lfw10"], check.threshold),
           rates(check, *measured["orl39"], check.threshold), ("lfw10", "orl39"))


if __name__ == "__main__":
    main()
