"""The Review grid as one browser component (Streamlit components v2, no build step).

Selection, the focus ring and the tile size live in the browser (`static/tile_grid.js`); the server
hears only actions (label, flag, tag, clear flags, undo, open, turn the page), each one trigger
value that names every target image, so one action is one round trip and one batch of events.
Pictures travel inside the session as data URIs (see `pictures.py`), so no URL ever answers
without a signed-in session; a tile whose thumbnail file is missing says so instead.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from ..accounts import PermissionDenied
from ..flags import flag_title
from ..store import EditError, GridItem, Store
from ..verify import reason_title
from ..files import Unreadable
from .pictures import data_uri, file_bytes

STATIC = Path(__file__).parent / "static"
#: (image id, sha256) of the pictures this session's browser already holds.
SENT_KEY = "grid-pictures-sent"
HELP = ("Click, Shift+click, Ctrl+click or drag to select; Ctrl+A all, Esc none; arrows move, Enter opens; "
        "1-9 label; type a label's name to search it (/ opens the search); F flag, T tag, X clear flags, "
        "Ctrl+Z undo; PageDown/PageUp turn the page.")


@functools.cache
def _component():
    return st.components.v2.component(
        "curation_tile_grid",
        css=(STATIC / "tile_grid.css").read_text(),
        js=(STATIC / "tile_grid.js").read_text(),
    )


@dataclass
class GridState:
    """What a grid draws beyond its images: label keys, blind images, predictions, commands."""

    labels: list[str]
    blind: set[int] = field(default_factory=set)
    predictions: dict[int, tuple[str, float]] = field(default_factory=dict)
    gold: set[int] = field(default_factory=set)
    #: The viewer's own blind labels (the only label a blind tile shows).
    own: dict[int, str] = field(default_factory=dict)
    commands: list[dict] = field(default_factory=list)


def tile(store: Store, item: GridItem, grid: GridState, sent: set | None = None) -> dict:
    """One tile's data: its picture (or why there is none), title and overlays. A picture already
    in `sent` (what this session's browser holds, by image and content) is named by id only."""
    blind = item.id in grid.blind
    if blind:
        title = f"blind, yours: {grid.own[item.id]}" if item.id in grid.own else "blind, not labelled by you"
    else:
        title = item.label or "unlabelled"
    data = {"id": item.id, "title": title, "badges": badges(item, blind, item.id in grid.gold)}
    if item.status != "ok":
        data["missing"] = reason_title(item.reason)
    else:
        path = store.project.thumb_path(item.sha256)
        if sent is None or (item.id, item.sha256) not in sent:
            picture = file_bytes(path)
            if isinstance(picture, Unreadable):
                data["missing"] = picture.title("Thumbnail")
            else:
                data["src"] = data_uri(picture)
                if sent is not None:
                    sent.add((item.id, item.sha256))
        elif not path.exists():
            data["missing"] = Unreadable("missing", path).title("Thumbnail")
    predicted = grid.predictions.get(item.id)
    if predicted and not blind and predicted[0] != item.label:
        data["pred"] = f"model: {predicted[0]} {predicted[1]:.0%}"
    return data


def badges(item: GridItem, blind: bool, gold: bool) -> list[dict]:
    found = [{"kind": "flag", "text": flag_title(kind)} for kind in item.flags]
    if item.near_group is not None:
        found.append({"kind": "dup", "text": f"group #{item.near_group}"})
    if item.sources > 1:
        found.append({"kind": "dup", "text": f"{item.sources} copies"})
    if blind:
        found.append({"kind": "blind", "text": "blind"})
    if gold:
        found.append({"kind": "gold", "text": "gold"})
    return found


Handler = Callable[[Store, str, dict], tuple[str, bool] | None]


def tile_grid(store: Store, items: list[GridItem], grid: GridState, who: str, handlers: dict[str, Handler],
              *, page: str, settings: dict | None = None, key: str = "review-grid") -> None:
    """Mount the grid. `handlers[kind](store, who, action)` does an action (the browser's, with
    `settings` merged in) and returns (message, clear the selection) or None; `page` names the page
    shown, so a new page starts unselected."""
    ack = dict(st.session_state.get(f"{key}-ack", {}))
    st.session_state.get(f"{key}-ack", {}).pop("autofocus", None)
    sent = st.session_state.setdefault(SENT_KEY, set())
    data = {"tiles": [tile(store, item, grid, sent) for item in items], "labels": grid.labels[:9], "page": page,
            "help": HELP, "commands": grid.commands, **ack}
    _component()(key=key, data=data, height="content",
                 on_action_change=functools.partial(_on_action, store, who, key, handlers, settings or {}))


def _on_action(store: Store, who: str, key: str, handlers: dict[str, Handler], settings: dict) -> None:
    action = (st.session_state.get(key) or {}).get("action")
    if isinstance(action, dict) and action.get("kind") == "resend":
        st.session_state[SENT_KEY] = set()
        handlers = {"resend": lambda *_: None}
    if not isinstance(action, dict) or action.get("kind") not in handlers:
        return
    action = {**action, **settings}
    try:
        outcome = handlers[action["kind"]](store, who, action)
    except (EditError, PermissionDenied) as exc:
        outcome = (str(exc), False)
    message, clear = outcome or ("", False)
    st.session_state[f"{key}-ack"] = {"ack": int(action.get("seq", 0)), "clear": clear, "message": message,
                                      "autofocus": True}


def plural(n: int, word: str = "image") -> str:
    return f"{n} {word}{'s' * (n != 1)}"


@functools.cache
def _zoom_component():
    return st.components.v2.component(
        "curation_zoom_view",
        css=(STATIC / "zoom_view.css").read_text(),
        js=(STATIC / "zoom_view.js").read_text(),
    )


def zoom_view(src: str, alt: str, *, height: int = 520, key: str = "zoom-view") -> None:
    """A picture (a data URI) that zooms with the wheel or + / - and pans by dragging."""
    _zoom_component()(key=key, data={"src": src, "alt": alt, "height": height}, height="content")
