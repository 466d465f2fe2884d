"""Prometheus' text exposition format, for node_exporter's textfile collector (pure).

Only gauges: a batch job's figures are snapshots, read whenever the collector scrapes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

PREFIX = "kto_keys_"


@dataclass(frozen=True, slots=True)
class Sample:
    """One value of a metric, with its labels."""

    labels: tuple[tuple[str, str], ...]
    value: float


@dataclass(slots=True)
class Family:
    """One metric: its name (without the prefix), what it means, and its samples."""

    name: str
    help: str
    samples: list[Sample] = field(default_factory=list)

    def add(self, value: float, labels: Mapping[str, str] | None = None) -> None:
        """Append one sample."""
        self.samples.append(Sample(tuple((labels or {}).items()), value))


def render(families: Iterable[Family]) -> str:
    """The families as a textfile: HELP and TYPE lines, then one line per sample; a family
    without a sample (a figure not known) is left out whole."""
    lines: list[str] = []
    for family in families:
        if not family.samples:
            continue
        name = PREFIX + family.name
        lines.append(f"# HELP {name} {_escape_help(family.help)}")
        lines.append(f"# TYPE {name} gauge")
        for sample in family.samples:
            labels = ",".join(f'{label}="{_escape_label(value)}"' for label, value in sample.labels)
            shown = f"{name}{{{labels}}}" if labels else name
            lines.append(f"{shown} {_number(sample.value)}")
    return "\n".join(lines) + "\n"


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))
