"""Messages in Korean (the default) or English."""

from __future__ import annotations


def pick(lang: str, ko: str, en: str) -> str:
    """The message in the user's language."""
    return en if lang == "en" else ko
