"""Downloads that follow the role allowed to export, and in team mode travel inside the session.

`st.download_button` hands the browser a `/media/<id>` URL that answers whoever has it, signed in
or not, after sign-out and across a restart. In team mode a download is therefore never put
there: a "Prepare" button makes the file for the signed-in user, and it arrives as a small frame
sent over the session's own websocket that holds the bytes and saves them with one click (a Blob
made in the browser), so no URL ever answers without the session. In single-user mode nobody
signs in, and `st.download_button` is kept. Only a role that may `export` gets either.
"""

from __future__ import annotations

import base64
import html
import json
from typing import Callable

import streamlit as st
import streamlit.components.v1 as components

from ..store import Store
from .pictures import inline_pictures
from .signin import refusal

Data = bytes | str | Callable[[], bytes | str]


def download(store: Store, label: str, data: Data, file_name: str, mime: str, key: str, where=None) -> None:
    """A download of `data` (or what the callable returns) as `file_name`, for those who may export."""
    where = where or st
    if why := refusal("export"):
        where.caption(f"Downloads: {why}")
        return
    if not inline_pictures(store):
        where.download_button(label, data, file_name=file_name, mime=mime, key=key, on_click="ignore")
        return
    prepared = f"prepared-{key}"
    if where.button(f"Prepare {label[:1].lower()}{label[1:]}", key=key) or st.session_state.get(prepared):
        st.session_state[prepared] = True
        body = data() if callable(data) else data
        components.html(save_frame(body.encode("utf-8") if isinstance(body, str) else body, file_name, mime), height=48)


def save_frame(data: bytes, file_name: str, mime: str) -> str:
    """A frame with one button that saves `data` as `file_name`, made in the browser from a Blob."""
    payload = json.dumps(base64.b64encode(data).decode("ascii"))
    name, kind = json.dumps(file_name), json.dumps(mime)
    return (
        f'<button id="save" style="font:14px sans-serif;padding:6px 12px;cursor:pointer">'
        f'Save {html.escape(file_name)}</button><script>'
        f'document.getElementById("save").onclick=function(){{'
        f'var b=atob({payload}),a=new Uint8Array(b.length);for(var i=0;i<b.length;i++)a[i]=b.charCodeAt(i);'
        f'var l=document.createElement("a");l.href=URL.createObjectURL(new Blob([a],{{type:{kind}}}));'
        f'l.download={name};document.body.appendChild(l);l.click();}};</script>'
    )
