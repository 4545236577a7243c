"""Verification of one file's bytes, per the bad-input policy.

Each check is one small class with one job, registered by name in the stage it runs at:
`bytes` checks look at raw bytes, `header` checks at a lazily opened image (no pixels decoded),
`pixels` checks decode. Each normaliser turns a usable-but-odd image into plain 8-bit RGB and
says what it did. A file either yields a `Verified` image or a `Failure` with a reason the user
can read; nothing raises out of `verify_bytes`.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from typing import Callable, TypeVar

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

MAX_PIXELS = 100_000_000
MIN_SIDE = 32

T = TypeVar("T")

EXTENSIONS = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp", "BMP": "bmp",
              "TIFF": "tif", "PPM": "ppm", "ICO": "ico"}

MAGIC = {
    b"\xff\xd8\xff": "JPEG",
    b"\x89PNG\r\n\x1a\n": "PNG",
    b"GIF87a": "GIF",
    b"GIF89a": "GIF",
    b"BM": "BMP",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
}


@dataclass(frozen=True)
class Failure:
    reason: str
    detail: str


@dataclass
class Verified:
    image: Image.Image
    format: str
    ext: str
    width: int
    height: int
    mode: str
    frames: int
    normalised: list[str] = field(default_factory=list)


REASONS = {
    "zero_bytes": "Empty file (0 bytes)",
    "html": "A web page, not an image",
    "svg": "SVG vector drawing (not a raster image)",
    "not_an_image": "Not an image file",
    "unreadable_header": "Unreadable image header",
    "decompression_bomb": "Too many pixels (decompression bomb)",
    "too_small": "Too small to use",
    "truncated": "Truncated: the file ends before the image does",
    "corrupt": "Corrupt image data",
    "missing_original": "Original missing from the project folder",
    "altered_original": "Original altered: its bytes no longer match its SHA-256",
}


def reason_title(reason: str | None) -> str:
    return REASONS.get(reason or "", reason or "")


CHECKS: dict[str, list] = {"bytes": [], "header": [], "pixels": []}
NORMALISERS: list = []


def check(cls):
    CHECKS[cls.stage].append(cls())
    return cls


def normaliser(cls):
    NORMALISERS.append(cls())
    return cls


def sniff_format(data: bytes) -> str | None:
    for magic, fmt in MAGIC.items():
        if data.startswith(magic):
            return fmt
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


@check
class ZeroBytes:
    stage = "bytes"

    def __call__(self, data: bytes) -> Failure | None:
        return Failure("zero_bytes", "The file is empty.") if not data else None


@check
class HtmlPage:
    stage = "bytes"

    def __call__(self, data: bytes) -> Failure | None:
        head = data[:512].lstrip().lower()
        if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
            return Failure("html", "The file holds an HTML page (often an error or login page saved under an image name).")
        return None


@check
class Svg:
    stage = "bytes"

    def __call__(self, data: bytes) -> Failure | None:
        head = data[:1024].lstrip().lower()
        if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in head):
            return Failure("svg", "SVG is a vector drawing; rasterise it before using it as a training image.")
        return None


@check
class PixelLimit:
    stage = "header"

    def __call__(self, img: Image.Image) -> Failure | None:
        w, h = img.size
        if w * h > MAX_PIXELS:
            return Failure(
                "decompression_bomb",
                f"{w} x {h} = {w * h / 1e6:.0f} megapixels, over the {MAX_PIXELS / 1e6:.0f} MP limit.",
            )
        return None


@check
class TooSmall:
    stage = "header"

    def __call__(self, img: Image.Image) -> Failure | None:
        w, h = img.size
        if min(w, h) < MIN_SIDE:
            return Failure("too_small", f"{w} x {h} pixels; the smallest usable side is {MIN_SIDE}.")
        return None


@normaliser
class FirstFrame:
    def __call__(self, img: Image.Image, notes: list[str]) -> Image.Image:
        frames = getattr(img, "n_frames", 1)
        if frames > 1:
            img.seek(0)
            notes.append(f"first of {frames} frames")
        return img


@normaliser
class ExifOrientation:
    def __call__(self, img: Image.Image, notes: list[str]) -> Image.Image:
        orientation = img.getexif().get(0x0112, 1)
        if orientation in (2, 3, 4, 5, 6, 7, 8):
            notes.append(f"EXIF orientation {orientation} applied")
            return ImageOps.exif_transpose(img)
        return img


@normaliser
class HighBitDepth:
    def __call__(self, img: Image.Image, notes: list[str]) -> Image.Image:
        if img.mode not in ("I;16", "I;16B", "I;16L", "I", "F"):
            return img
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") else max(float(arr.max()), 1.0)
        notes.append(f"{img.mode} scaled to 8 bits")
        return Image.fromarray(np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")


@normaliser
class ToRgb:
    def __call__(self, img: Image.Image, notes: list[str]) -> Image.Image:
        if img.mode == "RGB":
            return img
        if (img.mode == "P" and "transparency" in img.info) or img.mode in ("RGBA", "LA", "PA", "RGBa"):
            rgba = img.convert("RGBA")
            flat = Image.new("RGB", rgba.size, (255, 255, 255))
            flat.paste(rgba, mask=rgba.getchannel("A"))
            notes.append(f"{img.mode} with transparency flattened on white")
            return flat
        if img.mode != "L":
            notes.append(f"{img.mode} converted to RGB")
        return img.convert("RGB")


def _open(data: bytes) -> Image.Image | Failure:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        return Failure("decompression_bomb", f"Its header declares far more than the {MAX_PIXELS / 1e6:.0f} MP limit.")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        if sniff_format(data):
            why = "" if isinstance(exc, UnidentifiedImageError) else f" ({exc})"
            return Failure("unreadable_header", f"Looks like {sniff_format(data)} but its header cannot be read{why}.")
        return Failure("not_an_image", "The bytes match no known image format.")


def _guarded(step: Callable[[], T]) -> T | Failure:
    """Run a step that may read image data, turning any error into a decode failure.

    Not only `load()` reads data: counting frames or finding EXIF can read the whole file, and on
    hostile bytes Pillow's plugins raise many exception types (IndexError, struct.error, ...).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return step()
    except Image.DecompressionBombError as exc:
        return Failure("decompression_bomb", str(exc))
    except Exception as exc:
        message = str(exc)
        if "truncated" in message or isinstance(exc, EOFError) or "broken data stream" in message:
            return Failure("truncated", f"The file ends before the image data does ({message}).")
        return Failure("corrupt", f"The image data cannot be decoded ({message}).")


def _describe(img: Image.Image) -> tuple[str, str, int, tuple[int, int]]:
    return img.format or "unknown", img.mode, getattr(img, "n_frames", 1), displayed_size(img)


def _decode(img: Image.Image, side: int | None) -> None:
    """Decode every byte of pixel data; a JPEG at the smallest DCT scale whose long side >= `side`.

    DCT scaling still reads the whole entropy-coded stream, so truncation is caught as surely as
    by a full decode, at a fraction of the cost.
    """
    if img.format == "JPEG" and side:
        w, h = img.size
        scale = side / max(w, h)
        img.draft("RGB", (max(1, round(w * scale)), max(1, round(h * scale))))
    img.load()


def _normalise(img: Image.Image) -> tuple[Image.Image, list[str]]:
    notes: list[str] = []
    for normalise in NORMALISERS:
        img = normalise(img, notes)
    return img, notes


def displayed_size(img: Image.Image) -> tuple[int, int]:
    w, h = img.size
    return (h, w) if img.getexif().get(0x0112, 1) in (5, 6, 7, 8) else (w, h)


def verify_bytes(data: bytes, side: int | None = None) -> Verified | Failure:
    """Decode `data` fully and return a plain RGB image or why it is unusable.

    With `side`, a JPEG comes back reduced (long side at least `side`); sizes reported are the file's.
    """
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    for stage_check in CHECKS["bytes"]:
        if failure := stage_check(data):
            return failure
    img = _open(data)
    if isinstance(img, Failure):
        return img
    for stage_check in CHECKS["header"]:
        if failure := stage_check(img):
            return failure
    described = _guarded(lambda: _describe(img))
    if isinstance(described, Failure):
        return described
    fmt, mode, frames, (width, height) = described
    if isinstance(decoded := _guarded(lambda: _decode(img, side)), Failure):
        return decoded
    normalised = _guarded(lambda: _normalise(img))
    if isinstance(normalised, Failure):
        return normalised
    img, notes = normalised
    return Verified(img, fmt, EXTENSIONS.get(fmt, fmt.lower()), width, height, mode, frames, notes)


def load_rgb(path, max_side: int | None = None) -> Image.Image:
    """Open a stored original the way verification saw it: oriented, first frame, 8-bit RGB."""
    with open(path, "rb") as fh:
        data = fh.read()
    result = verify_bytes(data, side=max_side)
    if isinstance(result, Failure):
        raise ValueError(f"{path}: {result.detail}")
    img = result.image
    if max_side:
        img.thumbnail((max_side, max_side))
    return img
