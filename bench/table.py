"""The result table: one row per figure, with its target and verdict, printed as plain text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Row:
    """One figure of the table; `passed` is None for figures without a target (context)."""

    bench: str
    figure: str
    value: str
    target: str = ""
    passed: bool | None = None

    @property
    def verdict(self) -> str:
        """PASS, MISS, or blank for context figures."""
        if self.passed is None:
            return ""
        return "PASS" if self.passed else "MISS"

    def to_json(self) -> dict[str, object]:
        """The row as JSON-ready data."""
        return {
            "bench": self.bench,
            "figure": self.figure,
            "value": self.value,
            "target": self.target,
            "verdict": self.verdict or None,
        }


def render(rows: Sequence[Row]) -> str:
    """The rows as an aligned plain-text table."""
    header = ("bench", "figure", "value", "target", "verdict")
    cells = [header, *((r.bench, r.figure, r.value, r.target, r.verdict) for r in rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
    lines = []
    for number, line in enumerate(cells):
        lines.append("  ".join(text.ljust(widths[i]) for i, text in enumerate(line)).rstrip())
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)
