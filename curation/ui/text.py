"""Showing text that came from users or the internet as text, never as markup."""

from __future__ import annotations

import re

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$])")


def md_text(value) -> str:
    """Escape every Markdown (and HTML) special character so `value` renders literally."""
    return _MARKDOWN.sub(r"\\\1", str(value))


_INLINE_MARKUP = re.compile(r"([\\`*\[\]<>!~$|])")


def md_inline(value) -> str:
    """Escape what turns a one-line sentence into markup that fetches, links, styles or hides text
    (images, links, HTML, code, emphasis, strikethrough, LaTeX, tables), and nothing else, so a
    message holding a label reads exactly as written. Names hold no line break (`curation.names`)."""
    return _INLINE_MARKUP.sub(r"\\\1", str(value))
