"""Usage history: calls rolled up per Korea day, key and operation, and a key's window of days
summed up for `history` (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from kto_keys.core.calls import percentile
from kto_keys.core.codes import OutcomeKind


class ErrorClass(StrEnum):
    """What a failed call says, in the four classes an operator tells apart."""

    KEY = "key"  # the gateway refused the key: 20, 21, 30, 31, 32
    LIMIT = "limit"  # a daily or per-second limit: 22, 23, 429
    GATEWAY = "gateway"  # the gateway's or the network's fault: 5xx, 01/02/04/05/99, timeouts
    REQUEST = "request"  # our request or this machine: 10, 11, 12, 29


_CLASS_OF_OUTCOME: dict[str, ErrorClass] = {
    OutcomeKind.KEY_UNUSABLE.value: ErrorClass.KEY,
    OutcomeKind.DAILY_LIMIT.value: ErrorClass.LIMIT,
    OutcomeKind.RATE_LIMIT.value: ErrorClass.LIMIT,
    OutcomeKind.TRANSIENT.value: ErrorClass.GATEWAY,
    OutcomeKind.WRONG_URL.value: ErrorClass.GATEWAY,
    OutcomeKind.UNSENT.value: ErrorClass.GATEWAY,
    OutcomeKind.REQUEST_ERROR.value: ErrorClass.REQUEST,
    OutcomeKind.CONFIG_ERROR.value: ErrorClass.REQUEST,
    OutcomeKind.HOST_BLOCKED.value: ErrorClass.REQUEST,
}
_SUCCESS = OutcomeKind.SUCCESS.value


def error_class(outcome: str) -> ErrorClass | None:
    """The class of a call's outcome as the call history writes it (None: a success)."""
    if outcome == _SUCCESS:
        return None
    return _CLASS_OF_OUTCOME.get(outcome, ErrorClass.GATEWAY)


def no_errors() -> dict[str, int]:
    """A count of zero for every error class."""
    return {kind.value: 0 for kind in ErrorClass}


@dataclass(frozen=True, slots=True)
class DayUsage:
    """One key's calls for one operation on one Korea day."""

    day: date
    fingerprint: str
    operation: str
    key_index: int | None
    preview: str | None
    calls: int
    successes: int
    errors: Mapping[str, int]
    p50_ms: float | None
    p95_ms: float | None

    def to_json(self) -> dict[str, Any]:
        """The day as JSON-ready data."""
        return {
            "day": self.day.isoformat(),
            "operation": self.operation,
            "calls": self.calls,
            "successes": self.successes,
            "errors": dict(self.errors),
            "p50_ms": _ms(self.p50_ms),
            "p95_ms": _ms(self.p95_ms),
        }


# One call as the call history keeps it: day, fingerprint, key index, operation, outcome, latency.
RawCall = tuple[str, str, int | None, str, str, float | None]


def roll_up(calls: Iterable[RawCall], previews: Mapping[str, str]) -> list[DayUsage]:
    """Calls → one row per day, key and operation: counts, errors by class, p50 and p95."""
    groups: dict[tuple[str, str, str], _Group] = {}
    for day, fingerprint, key_index, operation, outcome, latency in calls:
        group = groups.get((day, fingerprint, operation))
        if group is None:
            group = groups[(day, fingerprint, operation)] = _Group()
        group.add(key_index, outcome, latency)
    return [
        group.usage(date.fromisoformat(day), fingerprint, operation, previews.get(fingerprint))
        for (day, fingerprint, operation), group in sorted(groups.items())
    ]


@dataclass(slots=True)
class _Group:
    key_index: int | None = None
    calls: int = 0
    successes: int = 0
    errors: dict[str, int] = field(default_factory=no_errors)
    latencies: list[float] = field(default_factory=list)

    def add(self, key_index: int | None, outcome: str, latency: float | None) -> None:
        self.key_index = key_index if key_index is not None else self.key_index
        self.calls += 1
        kind = error_class(outcome)
        if kind is None:
            self.successes += 1
        else:
            self.errors[kind.value] += 1
        if latency is not None:
            self.latencies.append(latency)

    def usage(self, day: date, fingerprint: str, operation: str, preview: str | None) -> DayUsage:
        latencies = sorted(self.latencies)
        return DayUsage(
            day,
            fingerprint,
            operation,
            self.key_index,
            preview,
            self.calls,
            self.successes,
            self.errors,
            percentile(latencies, 0.5),
            percentile(latencies, 0.95),
        )


def window(last: date, days: int) -> tuple[date, ...]:
    """The `days` Korea days that end with `last`, oldest first."""
    return tuple(last - timedelta(days=offset) for offset in range(days - 1, -1, -1))


@dataclass(frozen=True, slots=True)
class KeyHistory:
    """One key over a window of days: what `history` shows for it."""

    fingerprint: str
    key_index: int | None
    preview: str | None
    configured: bool
    days: tuple[date, ...]
    calls_per_day: tuple[int, ...]
    calls: int
    successes: int
    errors: Mapping[str, int]
    p50_ms: float | None
    p95_ms: float | None
    quota_spent_days: tuple[date, ...]
    daily: tuple[DayUsage, ...]

    @property
    def success_rate(self) -> float | None:
        """Share of the window's calls that succeeded, or None without a call."""
        return self.successes / self.calls if self.calls else None

    def to_json(self) -> dict[str, Any]:
        """The key's history as JSON-ready data."""
        return {
            "key": f"#{self.key_index}" if self.key_index is not None else None,
            "index": self.key_index,
            "preview": self.preview,
            "fingerprint": self.fingerprint,
            "configured": self.configured,
            "calls": self.calls,
            "successes": self.successes,
            "success_rate": round(self.success_rate, 4) if self.success_rate is not None else None,
            "errors": dict(self.errors),
            "p50_ms": _ms(self.p50_ms),
            "p95_ms": _ms(self.p95_ms),
            "calls_per_day": dict(
                zip((day.isoformat() for day in self.days), self.calls_per_day, strict=True)
            ),
            "quota_spent_days": [day.isoformat() for day in self.quota_spent_days],
            "daily": [usage.to_json() for usage in self.daily],
        }


@dataclass(frozen=True, slots=True)
class KnownKey:
    """A key as `history` names it: configured now, or only seen in the history."""

    fingerprint: str
    key_index: int | None
    preview: str | None
    configured: bool


def key_histories(
    keys: Sequence[KnownKey],
    days: Sequence[date],
    usage: Iterable[DayUsage],
    latencies: Mapping[str, Sequence[float]],
    spent: Mapping[str, Iterable[date]],
) -> list[KeyHistory]:
    """Each key's window: calls per day, success rate, p50/p95 and the days its quota ran out.

    `latencies` holds the raw calls' latencies of the window, which give exact percentiles;
    days whose raw calls were pruned count in the calls and the success rate only.
    """
    first, last = days[0], days[-1]
    by_key: dict[str, list[DayUsage]] = {}
    for row in usage:
        if first <= row.day <= last:
            by_key.setdefault(row.fingerprint, []).append(row)
    position = {day: n for n, day in enumerate(days)}
    histories = []
    for known in keys:
        rows = sorted(by_key.get(known.fingerprint, []), key=lambda row: (row.day, row.operation))
        per_day = [0] * len(days)
        errors = no_errors()
        for row in rows:
            per_day[position[row.day]] += row.calls
            for name, count in row.errors.items():
                errors[name] = errors.get(name, 0) + count
        latency = sorted(latencies.get(known.fingerprint, ()))
        spent_days = sorted(
            {day for day in spent.get(known.fingerprint, ()) if first <= day <= last}
        )
        histories.append(
            KeyHistory(
                known.fingerprint,
                known.key_index,
                known.preview,
                known.configured,
                tuple(days),
                tuple(per_day),
                sum(row.calls for row in rows),
                sum(row.successes for row in rows),
                errors,
                percentile(latency, 0.5),
                percentile(latency, 0.95),
                tuple(spent_days),
                tuple(rows),
            )
        )
    return histories


def _ms(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None
