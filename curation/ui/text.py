"""Showing text that came from users or the internet as text, never as markup."""

from __future__ import annotations

import re

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$])")


def md_text(value) -> str:
    """Escape every Markdown (and HTML) special character so `value` renders literally."""
    return _MARKDOWN.sub(r"\\\1", str(value))
