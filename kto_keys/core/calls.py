"""The call history's values: one call as kept, and a key's calls summed up (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One call, as the call history keeps it."""

    at: datetime
    fingerprint: str
    key_index: int
    operation: str
    outcome: str
    code: str | None
    http_status: int | None
    latency_ms: float


@dataclass(frozen=True, slots=True)
class CallStats:
    """Today's calls of one key from the call history: success rate and latency."""

    calls: int = 0
    successes: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None

    @property
    def success_rate(self) -> float | None:
        """Share of today's calls that succeeded, or None before any call."""
        return self.successes / self.calls if self.calls else None


def summarize(calls: Iterable[tuple[str, float]]) -> CallStats:
    """(outcome, latency in ms) pairs → count, successes, p50 and p95."""
    pairs = list(calls)
    latencies = sorted(latency for _, latency in pairs)
    successes = sum(1 for outcome, _ in pairs if outcome == "success")
    return CallStats(len(pairs), successes, percentile(latencies, 0.5), percentile(latencies, 0.95))


def percentile(values: list[float], share: float) -> float | None:
    """The nearest-rank percentile of sorted values, or None when there are none."""
    if not values:
        return None
    index = min(len(values) - 1, max(0, round(share * (len(values) - 1))))
    return values[index]
