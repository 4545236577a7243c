"""Deterministic synthetic images and defective files for tests, benchmarks and the demo dataset."""

from __future__ import annotations

import io
import math
import struct
import zlib
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance

SHAPES = ("circle", "square", "triangle", "star")

_SUPERSAMPLE = 4
_STAR_INNER_RATIO = 0.45
_NOISE_SIGMA = 10.0
_BLOTCH_GRID = 8
_BLOTCH_AMPLITUDE = 70.0
_BOMB_SIDE = 30_000
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_EXIF_ORIENTATION = 0x0112
_QUALITY = 85

_Layers = tuple[Image.Image, Image.Image]

_HTML_PAGE = """<!DOCTYPE html>
<html>
<head><title>403 Forbidden</title></head>
<body>
<h1>403 Forbidden</h1>
<p>You don't have permission to access this resource.</p>
<hr><address>nginx/1.24.0</address>
</body>
</html>
"""

_SVG_DOCUMENT = """<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="128" height="128" viewBox="0 0 128 128">
  <rect width="128" height="128" fill="rgb({0},{1},{2})"/>
  <circle cx="64" cy="64" r="40" fill="rgb({3},{4},{5})"/>
</svg>
"""


def class_image(label: str, index: int, size: int = 160, seed: int = 0) -> Image.Image:
    """Return picture ``index`` (for ``seed``) of the shape class ``label`` as a size x size RGB image.

    ``label`` is one of SHAPES (case-insensitive, plural accepted); anything else raises ValueError.
    """
    shape = _shape_of(label)
    return _class_picture(shape, _class_rng(shape, index, seed), (size, size))[0]


def photo_like(index: int, size: tuple[int, int], seed: int = 0) -> Image.Image:
    """Return a varied RGB image of ``size`` (width, height): gradient, random shapes and noise."""
    rng = np.random.default_rng([seed, index])
    canvas = _to_image(_gradient(rng, size, 0, 255))
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(rng.integers(4, 12))):
        _draw_random_shape(draw, rng, size)
    return _with_noise(canvas, rng)


def near_duplicate(img: Image.Image) -> Image.Image:
    """Return a copy of ``img`` resized to 90% and slightly brightened (a perceptual near duplicate)."""
    width, height = img.size
    smaller = img.resize((round(width * 0.9), round(height * 0.9)), Image.Resampling.LANCZOS)
    return ImageEnhance.Brightness(smaller).enhance(1.06)


def _shape_of(label: str) -> str:
    shape = label.strip().lower().removesuffix("s")
    if shape not in SHAPES:
        raise ValueError(f"unknown class {label!r}, expected one of {', '.join(SHAPES)}")
    return shape


def _class_rng(shape: str, index: int, seed: int) -> np.random.Generator:
    return np.random.default_rng([seed, SHAPES.index(shape), index])


def _class_picture(shape: str, rng: np.random.Generator, size: tuple[int, int]) -> _Layers:
    """Return (picture, shape mask) for one shape drawn over a contrasting textured background."""
    dark_background = rng.random() < 0.5
    background = _gradient(rng, size, *((0, 110) if dark_background else (145, 255))) + _blotches(rng, size)
    fill = rng.uniform(*((150, 255) if dark_background else (0, 100)), 3)
    mask = _shape_mask(shape, rng, size)
    alpha = np.asarray(mask, dtype=np.float64)[..., None] / 255
    picture = _with_noise(_to_image(background * (1 - alpha) + fill * alpha), rng)
    return picture, mask


def _shape_mask(shape: str, rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    width, height = size
    radius = rng.uniform(0.22, 0.42) * min(size)
    cx, cy = rng.uniform(radius, width - radius), rng.uniform(radius, height - radius)
    scale = _SUPERSAMPLE
    mask = Image.new("L", (width * scale, height * scale), 0)
    draw = ImageDraw.Draw(mask)
    if shape == "circle":
        box = [(cx - radius) * scale, (cy - radius) * scale, (cx + radius) * scale, (cy + radius) * scale]
        draw.ellipse(box, fill=255)
    else:
        outline = _outline(shape, cx, cy, radius, rng.uniform(0, 2 * math.pi))
        draw.polygon([(x * scale, y * scale) for x, y in outline], fill=255)
    return mask.resize(size, Image.Resampling.BOX)


def _outline(shape: str, cx: float, cy: float, radius: float, angle: float) -> list[tuple[float, float]]:
    count = {"square": 4, "triangle": 3, "star": 10}[shape]
    inner = _STAR_INNER_RATIO if shape == "star" else 1.0
    points = []
    for k in range(count):
        r = radius * (inner if k % 2 else 1.0)
        theta = angle + 2 * math.pi * k / count
        points.append((cx + r * math.cos(theta), cy + r * math.sin(theta)))
    return points


def _gradient(rng: np.random.Generator, size: tuple[int, int], low: float, high: float) -> np.ndarray:
    width, height = size
    start, end = rng.uniform(low, high, (2, 3))
    theta = rng.uniform(0, 2 * math.pi)
    ys, xs = np.mgrid[0:height, 0:width]
    t = xs * math.cos(theta) + ys * math.sin(theta)
    t = (t - t.min()) / max(t.max() - t.min(), 1)
    return start + t[..., None] * (end - start)


def _blotches(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """Return a smooth random luminance field (values within about +-_BLOTCH_AMPLITUDE) of ``size``."""
    grid = rng.uniform(-_BLOTCH_AMPLITUDE, _BLOTCH_AMPLITUDE, (_BLOTCH_GRID, _BLOTCH_GRID)).astype(np.float32)
    field = Image.fromarray(grid, "F").resize(size, Image.Resampling.BICUBIC)
    return np.asarray(field, dtype=np.float64)[..., None]


def _draw_random_shape(draw: ImageDraw.ImageDraw, rng: np.random.Generator, size: tuple[int, int]) -> None:
    width, height = size
    x0, x1 = sorted(rng.uniform(0, width, 2))
    y0, y1 = sorted(rng.uniform(0, height, 2))
    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    kind = rng.integers(0, 4)
    if kind == 0:
        draw.ellipse([x0, y0, x1, y1], fill=colour)
    elif kind == 1:
        draw.rectangle([x0, y0, x1, y1], fill=colour)
    elif kind == 2:
        draw.polygon([(x0, y1), ((x0 + x1) / 2, y0), (x1, y1)], fill=colour)
    else:
        draw.line([x0, y0, x1, y1], fill=colour, width=max(1, min(size) // 40))


def _to_image(array: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8), "RGB")


def _with_noise(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    array = np.asarray(image, dtype=np.float64)
    return _to_image(array + rng.normal(0, _NOISE_SIGMA, array.shape))


def _defect_layers(kind: str, label: str, seed: int, size: tuple[int, int]) -> _Layers:
    """Return (picture, mask) for the defect ``kind``, distinct from small-index class_image pictures."""
    shape = _shape_of(label)
    return _class_picture(shape, _class_rng(shape, zlib.crc32(kind.encode()), seed), size)


def _defect_picture(kind: str, label: str, seed: int, size: tuple[int, int] = (160, 160)) -> Image.Image:
    return _defect_layers(kind, label, seed, size)[0]


def _save(image: Image.Image, path: Path, image_format: str, **params) -> Path:
    image.save(path, image_format, **params)
    return path


def write_zero_bytes(path: Path, seed: int = 0) -> Path:
    """Write an empty file."""
    path.write_bytes(b"")
    return path


def write_truncated_jpeg(path: Path, seed: int = 0) -> Path:
    """Write a valid JPEG cut to 60% of its bytes."""
    buffer = io.BytesIO()
    _defect_picture("truncated_jpeg", "circle", seed).save(buffer, "JPEG", quality=_QUALITY)
    data = buffer.getvalue()
    path.write_bytes(data[: len(data) * 3 // 5])
    return path


def write_html_as_image(path: Path, seed: int = 0) -> Path:
    """Write an HTML "403 Forbidden" error page."""
    path.write_text(_HTML_PAGE, encoding="utf-8")
    return path


def write_svg(path: Path, seed: int = 0) -> Path:
    """Write a small valid SVG document."""
    colours = np.random.default_rng(seed).integers(0, 256, 6)
    path.write_text(_SVG_DOCUMENT.format(*colours), encoding="utf-8")
    return path


def write_decompression_bomb(path: Path, seed: int = 0) -> Path:
    """Write a small all-zero 1-bit PNG declaring 30000 x 30000 pixels, compressed row by row."""
    row = bytes(1 + _BOMB_SIDE // 8)
    compressor = zlib.compressobj(9)
    pixels = b"".join(compressor.compress(row) for _ in range(_BOMB_SIDE)) + compressor.flush()
    header = struct.pack(">IIBBBBB", _BOMB_SIDE, _BOMB_SIDE, 1, 0, 0, 0, 0)
    chunks = _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", pixels) + _png_chunk(b"IEND", b"")
    path.write_bytes(_PNG_SIGNATURE + chunks)
    return path


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def write_tiny(path: Path, seed: int = 0) -> Path:
    """Write a valid 8 x 8 JPEG."""
    return _save(photo_like(0, (8, 8), seed), path, "JPEG", quality=_QUALITY)


def write_garbage(path: Path, seed: int = 0) -> Path:
    """Write 4 KiB of random bytes (no recognisable image header)."""
    path.write_bytes(np.random.default_rng(seed).bytes(4096))
    return path


def write_cmyk_jpeg(path: Path, seed: int = 0, *, label: str = "circle") -> Path:
    """Write a CMYK JPEG picture of class ``label``."""
    cmyk = _defect_picture("cmyk_jpeg", label, seed).convert("CMYK")
    return _save(cmyk, path, "JPEG", quality=_QUALITY)


def write_16bit_png(path: Path, seed: int = 0, *, label: str = "circle") -> Path:
    """Write a 16-bit greyscale (mode "I;16") PNG picture of class ``label``."""
    grey = np.asarray(_defect_picture("16bit_png", label, seed).convert("L"), dtype=np.uint16) * 257
    return _save(Image.fromarray(grey), path, "PNG")


def write_palette_png(path: Path, seed: int = 0, *, label: str = "circle") -> Path:
    """Write a palette (mode "P") PNG picture of class ``label``."""
    return _save(_defect_picture("palette_png", label, seed).quantize(64), path, "PNG")


def write_rgba_png(path: Path, seed: int = 0, *, label: str = "circle") -> Path:
    """Write an RGBA PNG of class ``label``: opaque shape over a mostly transparent background."""
    picture, mask = _defect_layers("rgba_png", label, seed, (160, 160))
    picture.putalpha(mask.point(lambda value: max(value, 48)))
    return _save(picture, path, "PNG")


def write_animated_gif(path: Path, seed: int = 0, *, label: str = "circle") -> Path:
    """Write a 3-frame animated GIF of class ``label``."""
    frames = [_defect_picture(f"animated_gif_{k}", label, seed) for k in range(3)]
    return _save(frames[0], path, "GIF", save_all=True, append_images=frames[1:], duration=200, loop=0)


def write_exif_rotated_jpeg(path: Path, seed: int = 0, *, label: str = "circle") -> Path:
    """Write a 200 x 120 stored JPEG with EXIF Orientation=6: displayed upright it is 120 x 200."""
    upright = _defect_picture("exif_rotated_jpeg", label, seed, (120, 200))
    exif = Image.Exif()
    exif[_EXIF_ORIENTATION] = 6
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    return _save(stored, path, "JPEG", quality=_QUALITY, exif=exif.tobytes())


def write_webp_as_jpg(path: Path, seed: int = 0, *, label: str = "circle") -> Path:
    """Write WebP bytes (whatever the suffix of ``path``) of class ``label``."""
    return _save(_defect_picture("webp_as_jpg", label, seed), path, "WEBP", quality=_QUALITY)


DEFECTS: dict[str, Callable[..., Path]] = {
    "zero_bytes": write_zero_bytes,
    "truncated_jpeg": write_truncated_jpeg,
    "html_as_image": write_html_as_image,
    "svg": write_svg,
    "decompression_bomb": write_decompression_bomb,
    "tiny": write_tiny,
    "garbage": write_garbage,
    "cmyk_jpeg": write_cmyk_jpeg,
    "16bit_png": write_16bit_png,
    "palette_png": write_palette_png,
    "rgba_png": write_rgba_png,
    "animated_gif": write_animated_gif,
    "exif_rotated_jpeg": write_exif_rotated_jpeg,
    "webp_as_jpg": write_webp_as_jpg,
}

FAILING_DEFECTS = frozenset(
    {"zero_bytes", "truncated_jpeg", "html_as_image", "svg", "decompression_bomb", "tiny", "garbage"}
)
USABLE_DEFECTS = frozenset(DEFECTS) - FAILING_DEFECTS
