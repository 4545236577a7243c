"""Regenerate the demo dataset: ``python sample_data/make_sample.py [OUT_DIR]`` (default: this folder).

Deletes and rewrites OUT_DIR/images/<label>/... and OUT_DIR/MANIFEST.json, deterministically.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent

try:
    from curation import synth
except ImportError:
    sys.path.insert(0, str(HERE.parent))
    from curation import synth

LABELS = synth.SHAPES
PER_LABEL = 80
SIZE = 160
QUALITY = 85
MISLABEL_INDEX = 100

FAILING = [
    ("circle", "broken_0001.jpg", "truncated_jpeg", "JPEG cut to 60% of its bytes"),
    ("square", "empty.jpg", "zero_bytes", "empty file"),
    ("triangle", "error_page.jpg", "html_as_image", "HTML '403 Forbidden' page saved as .jpg"),
    ("star", "logo.svg", "svg", "SVG vector document"),
    ("circle", "bomb.png", "decompression_bomb", "PNG declaring 30000 x 30000 pixels (900 megapixels)"),
    ("square", "tiny.jpg", "tiny", "valid 8 x 8 JPEG, too small to use"),
    ("triangle", "garbage.png", "garbage", "random bytes, no image header"),
]
USABLE = [
    ("circle", "scan_cmyk.jpg", "cmyk_jpeg", "CMYK JPEG"),
    ("square", "scan_16bit.png", "16bit_png", "16-bit greyscale PNG (mode I;16)"),
    ("triangle", "palette.png", "palette_png", "palette PNG (mode P)"),
    ("star", "transparent.png", "rgba_png", "RGBA PNG with a transparent background"),
    ("circle", "animated.gif", "animated_gif", "animated GIF, 3 frames"),
    ("square", "phone_photo.jpg", "exif_rotated_jpeg", "stored 200 x 120, EXIF Orientation 6, shown 120 x 200"),
    ("star", "download.jpg", "webp_as_jpg", "WebP bytes named .jpg"),
]
SAME_LABEL_COPIES = [("circle", 3), ("square", 5)]
CROSS_LABEL_COPIES = [("triangle", 7, "star"), ("circle", 11, "square")]
NEAR_DUPLICATES = [("circle", 10), ("square", 12), ("star", 14)]
MISLABELLED = [("star", "circle"), ("circle", "square"), ("square", "triangle")]
EXPECTED = {
    "failing_defect": "rejected",
    "usable_defect": "accepted",
    "exact_duplicate": "exact_duplicate",
    "label_conflict": "label_conflict",
    "near_duplicate": "near_duplicate",
    "mislabelled": "mislabel_suspect",
}


def clean_name(label: str, index: int) -> str:
    return f"{label}_{index:04d}.jpg"


def save_jpeg(image: Image.Image, path: Path) -> Path:
    image.save(path, "JPEG", quality=QUALITY)
    return path


def write_clean(images: Path) -> None:
    """Write PER_LABEL ordinary class pictures into each label folder."""
    for label in LABELS:
        (images / label).mkdir(parents=True)
        for index in range(PER_LABEL):
            save_jpeg(synth.class_image(label, index, SIZE), images / label / clean_name(label, index))


def relative(out: Path, path: Path) -> str:
    return path.relative_to(out).as_posix()


def entry(out: Path, path: Path, kind: str, category: str, note: str, **extra: str) -> dict:
    """Describe one planted file; ``expected`` is the outcome the app should report for it."""
    record = {"path": relative(out, path), "label": path.parent.name, "kind": kind, "category": category}
    return record | {"expected": EXPECTED[category], "note": note} | extra


def plant_defects(out: Path, table: list[tuple[str, str, str, str]], category: str) -> list[dict]:
    """Write one file per (label, name, defect, note) row of ``table`` with the matching synth writer."""
    records = []
    for label, name, kind, note in table:
        path = out / "images" / label / name
        options = {"label": label} if kind in synth.USABLE_DEFECTS else {}
        synth.DEFECTS[kind](path, **options)
        records.append(entry(out, path, kind, category, note))
    return records


def plant_exact_copies(out: Path) -> list[dict]:
    """Copy files byte for byte, within their label folder and into another label's folder."""
    images = out / "images"
    records = []
    for label, index in SAME_LABEL_COPIES:
        source = images / label / clean_name(label, index)
        copy = shutil.copyfile(source, source.with_name(f"{source.stem}_copy.jpg"))
        note = "byte-for-byte copy in the same label"
        records.append(entry(out, copy, "exact_duplicate", "exact_duplicate", note, of=relative(out, source)))
    for label, index, other in CROSS_LABEL_COPIES:
        source = images / label / clean_name(label, index)
        copy = shutil.copyfile(source, images / other / source.name)
        note = f"byte-for-byte copy of a {label} image filed under {other}"
        extra = {"of": relative(out, source), "true_label": label}
        records.append(entry(out, copy, "label_conflict", "label_conflict", note, **extra))
    return records


def plant_near_duplicates(out: Path) -> list[dict]:
    """Add a resized, brightened copy of a few images next to their original."""
    records = []
    for label, index in NEAR_DUPLICATES:
        source = out / "images" / label / clean_name(label, index)
        copy = source.with_name(f"{source.stem}_small.jpg")
        save_jpeg(synth.near_duplicate(synth.class_image(label, index, SIZE)), copy)
        note = "90% size, slightly brighter copy"
        records.append(entry(out, copy, "near_duplicate", "near_duplicate", note, of=relative(out, source)))
    return records


def plant_mislabelled(out: Path) -> list[dict]:
    """File pictures of one class under another class's folder, named like that folder's images."""
    records = []
    for true_label, folder in MISLABELLED:
        path = out / "images" / folder / clean_name(folder, PER_LABEL)
        save_jpeg(synth.class_image(true_label, MISLABEL_INDEX, SIZE), path)
        note = f"a {true_label} filed under {folder}"
        records.append(entry(out, path, "mislabelled", "mislabelled", note, true_label=true_label))
    return records


def manifest(out: Path, planted: list[dict]) -> dict:
    images = out / "images"
    counts = {label: sum(1 for _ in (images / label).iterdir()) for label in LABELS}
    return {
        "generator": "sample_data/make_sample.py",
        "images_dir": "images",
        "labels": list(LABELS),
        "clean_per_label": PER_LABEL,
        "file_counts": counts,
        "planted": planted,
    }


def main(argv: list[str]) -> None:
    out = Path(argv[0]).resolve() if argv else HERE
    images = out / "images"
    shutil.rmtree(images, ignore_errors=True)
    write_clean(images)
    planted = (
        plant_defects(out, FAILING, "failing_defect")
        + plant_defects(out, USABLE, "usable_defect")
        + plant_exact_copies(out)
        + plant_near_duplicates(out)
        + plant_mislabelled(out)
    )
    manifest_path = out / "MANIFEST.json"
    manifest_path.write_text(json.dumps(manifest(out, planted), indent=2) + "\n", encoding="utf-8")
    files = [path for path in images.rglob("*") if path.is_file()] + [manifest_path]
    size = sum(path.stat().st_size for path in files)
    print(f"wrote {len(files)} files under {out} ({size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main(sys.argv[1:])
