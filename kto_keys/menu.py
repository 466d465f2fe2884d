"""The interactive menu (placeholder until the menu lands)."""

from __future__ import annotations


def run_menu() -> int:
    """Loop over the menu until the user leaves; return the exit code."""
    return 0
