"""One rule for every name a user creates: labels, attribute names and values, tags, user names.

A name is data. It is shown on pages, written into CSV cells, and used as a folder name by the
image-folder export, so it must never turn into a path, a control sequence or a different-looking
text. A usable name is Unicode NFC (so two spellings of "é" are one label), is stripped of
surrounding white space, holds no control character (C0, C1, line or paragraph separators), no
bidirectional override or isolate (which flip how the text around them reads), no path separator
(`/` or `\\`), is not made of dots alone (`.`, `..`), and has at most MAX_NAME_LENGTH characters.

`check_name` refuses a name that breaks the rule with one sentence (`NameRefused`); `repair_name`
turns any text into a usable name (folder names at ingest, the migration of older projects).
"""

from __future__ import annotations

import html
import unicodedata

MAX_NAME_LENGTH = 100
SEPARATORS = frozenset("/\\")
# Bidirectional marks, embeddings, overrides and isolates (Unicode's Bidi_Control property).
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
REPLACEMENT = "_"
EMPTY_REPAIR = "unnamed"


class NameRefused(ValueError):
    """A name that breaks the rule, with a sentence that says which part and how to fix it."""


def check_name(value: str | None, what: str = "name", limit: int = MAX_NAME_LENGTH) -> str:
    """`value` normalised (NFC, stripped), or NameRefused with a sentence naming `what` it is."""
    name = unicodedata.normalize("NFC", value or "").strip()
    if not name:
        raise NameRefused(f"The {what} cannot be empty.")
    if len(name) > limit:
        raise NameRefused(f"The {what} is too long ({limit} characters at most).")
    if any(_is_control(ch) for ch in name):
        raise NameRefused(f"The {what} may not hold control characters (such as a line break or a null).")
    if any(ch in BIDI_CONTROLS for ch in name):
        raise NameRefused(f"The {what} may not hold right-to-left or left-to-right override characters.")
    if any(ch in SEPARATORS for ch in name):
        raise NameRefused(f"The {what} may not hold '/' or '\\': it would read as a path.")
    if set(name) == {"."}:
        raise NameRefused(f"The {what} may not be made of dots alone.")
    return name


def repair_name(value: str | None, limit: int = MAX_NAME_LENGTH) -> str:
    """A usable name as close to `value` as the rule allows: separators become `_`, control and
    override characters go, a dots-only name gets a `_` in front, the rest is cut at `limit`."""
    text = unicodedata.normalize("NFC", value or "")
    text = "".join(REPLACEMENT if ch in SEPARATORS else ch for ch in text
                   if not _is_control(ch) and ch not in BIDI_CONTROLS).strip()
    if text and set(text) == {"."}:
        text = REPLACEMENT + text
    text = text[:limit].strip()
    return text or EMPTY_REPAIR


def chart_text(value) -> str:
    """`value` for a plotly label, axis or hover: plotly draws `<a href>`, `<img>`-like tags and
    entities in its texts, so `&`, `<` and `>` are written as entities and show as themselves."""
    return html.escape(str(value), quote=False)


def visible(value) -> str:
    """`value` with each control or override character written as `\\uXXXX`, to show a refused or
    renamed name as it was without letting it act."""
    return "".join(f"\\u{ord(ch):04x}" if _is_control(ch) or ch in BIDI_CONTROLS else ch for ch in str(value))


def is_usable(value: str | None) -> bool:
    try:
        return check_name(value) == value
    except NameRefused:
        return False


def _is_control(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Zl", "Zp")
