"""verify_bytes: every defect ends as a reason a user can read, or as plain 8-bit RGB with a note."""

from __future__ import annotations

import io
import random
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from curation import synth
from curation.verify import MAGIC, MAX_PIXELS, MIN_SIDE, REASONS, Failure, Verified, reason_title, verify_bytes

try:
    from hypothesis import given, settings
    from hypothesis import strategies as st
except ImportError:
    given = None

FAILING = {
    "zero_bytes": "zero_bytes",
    "truncated_jpeg": "truncated",
    "html_as_image": "html",
    "svg": "svg",
    "decompression_bomb": "decompression_bomb",
    "tiny": "too_small",
    "garbage": "not_an_image",
}

# kind -> (format, ext, source mode, frames, displayed size, normalisation notes)
USABLE = {
    "cmyk_jpeg": ("JPEG", "jpg", "CMYK", 1, (160, 160), ["CMYK converted to RGB"]),
    "16bit_png": ("PNG", "png", "I;16", 1, (160, 160), ["I;16 scaled to 8 bits"]),
    "palette_png": ("PNG", "png", "P", 1, (160, 160), ["P converted to RGB"]),
    "rgba_png": ("PNG", "png", "RGBA", 1, (160, 160), ["RGBA with transparency flattened on white"]),
    "animated_gif": ("GIF", "gif", "P", 3, (160, 160), ["first of 3 frames", "P converted to RGB"]),
    "exif_rotated_jpeg": ("JPEG", "jpg", "RGB", 1, (120, 200), ["EXIF orientation 6 applied"]),
    "webp_as_jpg": ("WEBP", "webp", "RGB", 1, (160, 160), []),
}

PREFIXES = [*MAGIC, b"RIFF\x00\x10\x00\x00WEBP", b"<html>", b"<?xml", b""]


def encoded(img: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height (8-bit grey) and whose pixel data is missing."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IEND", b"")


def assert_readable(failure: Failure) -> None:
    assert failure.reason in REASONS and reason_title(failure.reason) != failure.reason
    detail = failure.detail
    assert len(detail) > 10 and (detail[0].isupper() or detail[0].isdigit()) and detail.endswith(".")
    assert " object at 0x" not in detail and "Traceback" not in detail


def assert_plain_rgb(result: Verified) -> None:
    assert result.image.mode == "RGB"
    assert np.asarray(result.image).dtype == np.uint8


@pytest.mark.parametrize("kind", sorted(FAILING))
def test_failing_defect_gives_its_reason(kind, tmp_path):
    data = synth.DEFECTS[kind](tmp_path / f"{kind}.bin").read_bytes()
    result = verify_bytes(data)
    assert isinstance(result, Failure), f"{kind} verified as {result!r}"
    assert result.reason == FAILING[kind], result.detail
    assert_readable(result)


@pytest.mark.parametrize("data", [
    b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0dIHDX" + bytes(17),
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff" + bytes(64),
], ids=["png-bad-ihdr", "png-magic-only", "jpeg-magic-then-zeros"])
def test_known_magic_with_broken_header_is_unreadable_header(data):
    result = verify_bytes(data)
    assert isinstance(result, Failure) and result.reason == "unreadable_header"
    assert "PNG" in result.detail or "JPEG" in result.detail
    assert_readable(result)


def test_pixel_limit_is_checked_from_the_header_before_any_decoding():
    width, height = 12_000, 9_000
    assert width * height > MAX_PIXELS
    result = verify_bytes(png_header_only(width, height))
    assert isinstance(result, Failure) and result.reason == "decompression_bomb"
    assert "12000 x 9000" in result.detail and "108 megapixels" in result.detail


def test_smallest_side_limit():
    ok = verify_bytes(encoded(synth.photo_like(1, (MIN_SIDE, 64)), "PNG"))
    small = verify_bytes(encoded(synth.photo_like(1, (MIN_SIDE - 1, 64)), "PNG"))
    assert isinstance(ok, Verified) and (ok.width, ok.height) == (MIN_SIDE, 64)
    assert isinstance(small, Failure) and small.reason == "too_small"
    assert f"{MIN_SIDE - 1} x 64" in small.detail


@pytest.mark.parametrize("fmt", ["PNG", "GIF", "WEBP", "JPEG"])
def test_truncated_files_of_every_format_fail(fmt):
    data = encoded(synth.photo_like(2, (200, 150)), fmt)
    result = verify_bytes(data[: len(data) * 3 // 5])
    assert isinstance(result, Failure), f"part of a {fmt} verified"
    assert result.reason in ("truncated", "corrupt", "unreadable_header")
    assert_readable(result)


def test_truncated_png_is_truncated():
    data = encoded(synth.photo_like(3, (200, 150)), "PNG")
    result = verify_bytes(data[: len(data) // 2])
    assert isinstance(result, Failure) and result.reason == "truncated"


@pytest.mark.parametrize("kind", sorted(USABLE))
def test_usable_defect_is_normalised_to_8_bit_rgb(kind, tmp_path):
    fmt, ext, mode, frames, size, notes = USABLE[kind]
    result = verify_bytes(synth.DEFECTS[kind](tmp_path / f"{kind}.jpg").read_bytes())
    assert isinstance(result, Verified), result
    assert_plain_rgb(result)
    assert (result.format, result.ext, result.mode, result.frames) == (fmt, ext, mode, frames)
    assert (result.width, result.height) == size
    assert result.image.size == size
    assert result.normalised == notes


def test_webp_named_jpg_keeps_its_real_format(tmp_path):
    path = synth.write_webp_as_jpg(tmp_path / "photo.jpg")
    result = verify_bytes(path.read_bytes())
    assert path.suffix == ".jpg" and result.format == "WEBP" and result.ext == "webp"


def test_16_bit_values_are_scaled_not_clipped(tmp_path):
    path = synth.write_16bit_png(tmp_path / "scan.png")
    wide = np.asarray(Image.open(path), dtype=np.float64)
    assert wide.max() > 255, "the fixture should use the 16-bit range"
    result = verify_bytes(path.read_bytes())
    rgb = np.asarray(result.image)
    np.testing.assert_array_equal(rgb[..., 0], np.round(wide / 257).astype(np.uint8))
    np.testing.assert_array_equal(rgb[..., 0], rgb[..., 2])


def test_alpha_is_flattened_on_white(tmp_path):
    path = synth.write_rgba_png(tmp_path / "cut_out.png")
    rgba = np.asarray(Image.open(path).convert("RGBA"), dtype=np.int16)
    assert rgba[..., 3].min() < 128, "the fixture should have see-through pixels"
    flat = np.asarray(verify_bytes(path.read_bytes()).image, dtype=np.int16)
    see_through = rgba[..., 3] < 128
    assert np.all(flat >= rgba[..., :3] - 1), "flattening on white can only lighten"
    assert flat[see_through].mean() > 200
    assert flat[see_through].mean() > rgba[..., :3][see_through].mean() + 60


def test_animated_gif_keeps_the_first_frame(tmp_path):
    path = synth.write_animated_gif(tmp_path / "anim.gif")
    with Image.open(path) as gif:
        gif.seek(0)
        first = np.asarray(gif.convert("RGB"), dtype=np.int16)
        gif.seek(1)
        second = np.asarray(gif.convert("RGB"), dtype=np.int16)
    got = np.asarray(verify_bytes(path.read_bytes()).image, dtype=np.int16)
    assert np.abs(got - first).mean() < np.abs(got - second).mean()
    np.testing.assert_array_equal(got, first)


def test_exif_orientation_shows_the_image_upright(tmp_path):
    path = synth.write_exif_rotated_jpeg(tmp_path / "phone.jpg")
    with Image.open(path) as stored:
        assert stored.size == (200, 120)
        upright = np.asarray(stored.transpose(Image.Transpose.ROTATE_270).convert("RGB"), dtype=np.int16)
    got = np.asarray(verify_bytes(path.read_bytes()).image, dtype=np.int16)
    assert got.shape == (200, 120, 3)
    assert np.abs(got - upright).mean() < 2


def test_plain_jpeg_needs_no_note_and_large_jpeg_is_decoded_reduced():
    plain = verify_bytes(encoded(synth.photo_like(4, (300, 200)), "JPEG"))
    assert isinstance(plain, Verified) and plain.normalised == [] and plain.image.size == (300, 200)
    data = encoded(synth.photo_like(5, (1600, 1200)), "JPEG")
    full = verify_bytes(data)
    assert full.image.size == (1600, 1200)
    large = verify_bytes(data, side=224)
    assert (large.width, large.height) == (1600, 1200)
    assert 224 <= large.image.size[0] < 1600 and large.image.size[0] / large.image.size[1] == 4 / 3
    assert_plain_rgb(large)


def mutate(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        if not out:
            break
        pos = rng.randrange(len(out))
        roll = rng.random()
        if roll < 0.6:
            out[pos] = rng.randrange(256)
        elif roll < 0.8:
            del out[pos:]
        else:
            out[pos:pos] = rng.randbytes(rng.randint(1, 8))
    return bytes(out)


def assert_outcome(data: bytes) -> None:
    result = verify_bytes(data)
    assert isinstance(result, (Verified, Failure)), type(result)
    if isinstance(result, Failure):
        assert result.reason in REASONS and result.detail
    else:
        assert result.image.mode == "RGB"


def test_verify_bytes_never_raises_on_random_or_damaged_bytes(tmp_path):
    """Seeded fuzzing: random bytes behind every known magic, and damaged copies of real images."""
    rng = random.Random(20240611)
    for _ in range(300):
        assert_outcome(rng.choice(PREFIXES) + rng.randbytes(rng.randint(0, 300)))
    seeds = [synth.DEFECTS[k](tmp_path / k).read_bytes() for k in sorted(synth.USABLE_DEFECTS)]
    seeds += [encoded(synth.photo_like(6, (64, 48)), fmt) for fmt in ("PNG", "GIF", "BMP", "TIFF", "ICO")]
    for _ in range(600):
        assert_outcome(mutate(rng.choice(seeds), rng))


if given is not None:
    @settings(max_examples=150, deadline=None)
    @given(st.sampled_from(PREFIXES), st.binary(max_size=1024))
    def test_verify_bytes_never_raises_hypothesis(prefix, tail):
        assert_outcome(prefix + tail)
else:
    def test_verify_bytes_never_raises_hypothesis():
        pytest.skip("hypothesis is not installed in this environment; the seeded fuzz test above covers it")
