"""Project pictures drawn for the session that asked for them, and for nobody else.

`st.image` registers a picture with Streamlit's media endpoint and sends the browser a
`/media/<hash>.jpg` URL, which answers anyone who has it, signed in or not. In team mode, where
every page needs a signed-in user, pictures are therefore drawn inline instead: an `st.html` with
`<img src="data:image/jpeg;base64,…">`, sent over the session's own websocket, sized and captioned
the way `st.image` would, so that no media URL ever exists for them. In single-user mode nobody
signs in, and `st.image` (whose media URLs the browser caches) is kept; its captions are Markdown
(images included), so they are escaped.

Every project file drawn here is read through `curation.files`: a thumbnail, chip or original that
is missing, unreadable, altered or undecodable is drawn as a grey placeholder that names the
problem, and the rest of the page goes on.
"""

from __future__ import annotations

import base64
import functools
import html
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st
from PIL import Image, ImageDraw, ImageFont

from ..files import Unreadable, decode, kind_of, load_original, read_bytes
from ..store import Store
from .signin import signed_in
from .text import md_text

JPEG_QUALITY = 90
Width = int | str


def inline_pictures(store: Store) -> bool:
    """True in team mode: pictures go inline through the session, never to the media endpoint."""
    return signed_in() is not None or store.team_mode()


def show_picture(store: Store, picture: Any, *, width: Width = "stretch", caption: str | None = None,
                 alt: str | None = None) -> None:
    """One picture (a file path, a PIL image or an array) like `st.image(picture, width, caption)`."""
    if inline_pictures(store):
        st.html(picture_html([picture], [caption], width, [alt]))
    else:
        st.image(displayable(picture), width=width, caption=md_text(caption) if caption else caption)


def show_gallery(store: Store, pictures: Sequence[Any], captions: Sequence[str] | None = None,
                 width: Width = "content") -> None:
    """Pictures side by side (wrapping), like `st.image(pictures, width, caption=captions)`."""
    if not pictures:
        return
    if inline_pictures(store):
        st.html(picture_html(list(pictures), list(captions or []), width, []))
    else:
        shown = [md_text(c) if c else c for c in captions] if captions is not None else None
        st.image([displayable(p) for p in pictures], width=width, caption=shown)


def picture_html(pictures: list, captions: list[str | None], width: Width, alts: list[str | None]) -> str:
    """The markup of st.image's list: a wrapping row, each picture with its caption under it."""
    stretch = width == "stretch"
    size = f"width:{width}px;" if isinstance(width, int) else ("width:100%;" if stretch else "")
    figures = []
    for n, picture in enumerate(pictures):
        text = captions[n] if n < len(captions) else None
        alt = (alts[n] if n < len(alts) else None) or text or "picture"
        figure = (f'<img src="{data_uri(picture)}" alt="{html.escape(str(alt))}" '
                  f'style="{size}max-width:100%;display:block;border-radius:0.5rem">')
        if text:
            figure += (f'<div style="{size}max-width:100%;text-align:center;margin-top:0.375rem;padding:0.125rem;'
                       f'overflow-wrap:break-word;font-size:0.875rem;opacity:0.6">{html.escape(str(text))}</div>')
        grow = "width:100%;flex-grow:1;" if stretch else ""
        figures.append(f'<div style="display:flex;flex-direction:column;align-items:stretch;{grow}">{figure}</div>')
    row = "width:100%;" if stretch else "width:fit-content;"
    return (f'<div style="display:flex;flex-flow:row wrap;row-gap:1rem;max-width:100%;{row}">'
            + "".join(figures) + "</div>")


def data_uri(picture: Any) -> str:
    """A JPEG data URI: a JPEG file's bytes as they are, anything else (a placeholder too) encoded."""
    picture = displayable(picture)
    if isinstance(picture, bytes) and picture[:3] == b"\xff\xd8\xff":
        return _jpeg_uri(picture)
    if isinstance(picture, bytes):
        picture = decode(picture, Path("picture"))
    return _jpeg_uri(_encode(_as_pil(picture)))


def displayable(picture: Any) -> Any:
    """A file path becomes the file's bytes, checked to decode, or a placeholder naming what is wrong."""
    if not isinstance(picture, (str, Path)):
        return picture
    checked = file_bytes(Path(picture))
    return placeholder(checked) if isinstance(checked, Unreadable) else checked


def file_bytes(path: Path) -> bytes | Unreadable:
    """A project file's bytes when they decode as a picture; else why not (never an exception)."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return Unreadable("missing", path)
    except OSError as exc:
        return Unreadable("unreadable", path, exc.strerror or "")
    return _checked_bytes(os.fspath(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=2048)
def _checked_bytes(path: str, mtime_ns: int, size: int) -> bytes | Unreadable:
    data = read_bytes(Path(path))
    if isinstance(data, Unreadable):
        return data
    image = decode(data, Path(path))
    return image if isinstance(image, Unreadable) else data


def picture_image(path: Path, side: int) -> Image.Image:
    """A project file as an RGB image at most `side` px, or a placeholder of that size."""
    checked = file_bytes(Path(path))
    image = placeholder(checked, side) if isinstance(checked, Unreadable) else decode(checked, Path(path)).convert("RGB")
    image.thumbnail((side, side))
    return image


def original_picture(path: Path, sha256: str, max_side: int) -> tuple[Image.Image, Unreadable | None]:
    """An original (checked against its SHA-256 name) for display, or a placeholder and the problem."""
    image = load_original(path, sha256, max_side)
    if isinstance(image, Unreadable):
        return placeholder(image, max_side), image
    return image, None


def placeholder(problem: Unreadable, side: int = 224) -> Image.Image:
    """A grey square with a broken-picture mark and the problem in words ('Thumbnail missing')."""
    return _drawn_placeholder(problem.title(kind_of(problem.path)), problem.path.name[:12], max(int(side), 64)).copy()


@functools.lru_cache(maxsize=1024)
def _drawn_placeholder(title: str, name: str, side: int) -> Image.Image:
    """Drawn once per text and size (a few ms each: a page of missing chips redraws dozens per rerun)."""
    image = Image.new("RGB", (side, side), (236, 236, 240))
    draw = ImageDraw.Draw(image)
    ink = (110, 110, 120)
    box = (side * 0.3, side * 0.18, side * 0.7, side * 0.48)
    draw.rectangle(box, outline=ink, width=max(2, side // 80))
    draw.line([(box[0], box[3]), (side * 0.45, side * 0.33), (side * 0.55, side * 0.4), (box[2], box[1])],
              fill=ink, width=max(2, side // 80))
    font = ImageFont.load_default(size=max(11, side // 14))
    y = side * 0.56
    for line in _wrapped([title, name + "…"], draw, font, side):
        draw.text((side / 2, y), line, fill=ink if y > side * 0.56 else (60, 60, 70), font=font, anchor="ma")
        y += font.size * 1.3
    return image


def _wrapped(lines: list[str], draw: ImageDraw.ImageDraw, font, side: int) -> list[str]:
    out = []
    for line in lines:
        words, current = line.split(), ""
        for word in words:
            trial = f"{current} {word}".strip()
            if current and draw.textlength(trial, font=font) > side * 0.9:
                out.append(current)
                current = word
            else:
                current = trial
        out.append(current)
    return out


def _as_pil(picture: Any) -> Image.Image:
    if isinstance(picture, Image.Image):
        return picture
    array = np.asarray(picture)
    if array.dtype.kind == "f":  # st.image's convention: floats are in [0, 1]
        array = np.clip(array, 0, 1) * 255
    array = np.clip(array, 0, 255).astype(np.uint8)
    return Image.fromarray(array.squeeze(-1) if array.ndim == 3 and array.shape[-1] == 1 else array)


def _encode(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def _jpeg_uri(data: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")
