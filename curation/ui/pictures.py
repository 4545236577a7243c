"""Project pictures drawn for the session that asked for them, and for nobody else.

`st.image` registers a picture with Streamlit's media endpoint and sends the browser a
`/media/<hash>.jpg` URL, which answers anyone who has it, signed in or not. In team mode, where
every page needs a signed-in user, pictures are therefore drawn inline instead: an `st.html` with
`<img src="data:image/jpeg;base64,…">`, sent over the session's own websocket, sized and captioned
the way `st.image` would, so that no media URL ever exists for them. In single-user mode nobody
signs in, and `st.image` (whose media URLs the browser caches) is kept; its captions are Markdown
(images included), so they are escaped.
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
from PIL import Image

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
        st.image(picture, width=width, caption=md_text(caption) if caption else caption)


def show_gallery(store: Store, pictures: Sequence[Any], captions: Sequence[str] | None = None,
                 width: Width = "content") -> None:
    """Pictures side by side (wrapping), like `st.image(pictures, width, caption=captions)`."""
    if not pictures:
        return
    if inline_pictures(store):
        st.html(picture_html(list(pictures), list(captions or []), width, []))
    else:
        shown = [md_text(c) if c else c for c in captions] if captions is not None else None
        st.image(list(pictures), width=width, caption=shown)


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
    """A JPEG data URI: a JPEG file's bytes as they are, anything else encoded."""
    if isinstance(picture, (str, Path)):
        path = os.fspath(picture)
        stat = os.stat(path)
        return _file_uri(path, stat.st_mtime_ns, stat.st_size)
    return _jpeg_uri(_encode(_as_pil(picture)))


@functools.lru_cache(maxsize=2048)
def _file_uri(path: str, mtime_ns: int, size: int) -> str:
    if Path(path).suffix.lower() in (".jpg", ".jpeg"):
        return _jpeg_uri(Path(path).read_bytes())
    with Image.open(path) as image:
        return _jpeg_uri(_encode(image))


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
