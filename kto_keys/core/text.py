"""Turning the service's HTML snippets into plain values (pure)."""

from __future__ import annotations

import html
import re

_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")
_HREF = re.compile(r"""href\s*=\s*["']?([^"'\s>]+)""", re.IGNORECASE)
_URL = re.compile(r"(https?://[^\s<>\"']+|www\.[^\s<>\"']+)", re.IGNORECASE)


def plain_text(snippet: str) -> str:
    """`overview` without `<br>` or tags: lines joined by newlines, entities decoded."""
    text = _TAG.sub("", _BREAK.sub("\n", snippet or ""))
    lines = [" ".join(line.split()) for line in html.unescape(text).splitlines()]
    return "\n".join(line for line in lines if line)


def homepage_url(snippet: str) -> str:
    """The URL inside `homepage`'s `<a href=…>` snippet, or the first URL in the text."""
    if not snippet:
        return ""
    match = _HREF.search(snippet) or _URL.search(html.unescape(snippet))
    return html.unescape(match.group(1)).strip() if match else ""
