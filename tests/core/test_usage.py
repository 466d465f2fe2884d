"""Usage history: error classes, the daily roll-up, and a key's window for `history`."""

from __future__ import annotations

from datetime import date

from kto_keys.core.codes import OutcomeKind
from kto_keys.core.usage import (
    ErrorClass,
    KnownKey,
    RawCall,
    error_class,
    key_histories,
    roll_up,
    window,
)


def test_every_outcome_kind_has_a_class_and_only_success_has_none() -> None:
    """A new outcome kind must be placed: the roll-up counts every call somewhere."""
    for kind in OutcomeKind:
        if kind is OutcomeKind.SUCCESS:
            assert error_class(kind.value) is None
        else:
            assert isinstance(error_class(kind.value), ErrorClass), kind


def test_roll_up_counts_calls_successes_errors_and_latency_per_day_key_and_operation() -> None:
    """Ten calls of one key on one day: 7 ok, a 31, a 22, a timeout; p50/p95 of their latencies."""
    calls: list[RawCall] = [
        ("2026-11-24", "fp-a", 0, "detailIntro2", "success", float(latency))
        for latency in (10, 20, 30, 40, 50, 60, 70)
    ]
    calls += [
        ("2026-11-24", "fp-a", 0, "detailIntro2", "key_unusable", 80.0),
        ("2026-11-24", "fp-a", 0, "detailIntro2", "daily_limit", 90.0),
        ("2026-11-24", "fp-a", 0, "detailIntro2", "transient", 100.0),
        ("2026-11-23", "fp-a", 0, "detailIntro2", "success", 5.0),
        ("2026-11-24", "fp-b", 1, "areaBasedList2", "success", None),
    ]
    rows = roll_up(calls, {"fp-a": "aaaaaaaaaa..."})
    assert [(row.day.isoformat(), row.fingerprint, row.operation) for row in rows] == [
        ("2026-11-23", "fp-a", "detailIntro2"),
        ("2026-11-24", "fp-a", "detailIntro2"),
        ("2026-11-24", "fp-b", "areaBasedList2"),
    ]
    day = rows[1]
    assert (day.calls, day.successes, day.key_index, day.preview) == (10, 7, 0, "aaaaaaaaaa...")
    assert dict(day.errors) == {"key": 1, "limit": 1, "gateway": 1, "request": 0}
    assert (day.p50_ms, day.p95_ms) == (50.0, 100.0)  # nearest rank, as `status` counts
    assert rows[2].p50_ms is None and rows[2].preview is None


def test_a_keys_window_sums_its_days_and_counts_spent_days_inside_it() -> None:
    """Calls per day line up with the window; a spent day outside it is not counted; a key
    without a call has a flat line and no rate."""
    days = window(date(2026, 11, 24), 3)
    assert [day.isoformat() for day in days] == ["2026-11-22", "2026-11-23", "2026-11-24"]
    calls: list[RawCall] = [
        ("2026-11-22", "fp-a", 0, "areaBasedList2", "success", 10.0),
        ("2026-11-24", "fp-a", 0, "detailIntro2", "success", 30.0),
        ("2026-11-24", "fp-a", 0, "detailCommon2", "rate_limit", 20.0),
        ("2026-11-20", "fp-a", 0, "detailCommon2", "success", 20.0),
    ]
    keys = [KnownKey("fp-a", 0, "aaaa...", True), KnownKey("fp-b", 1, "bbbb...", True)]
    spent = {"fp-a": [date(2026, 11, 24), date(2026, 11, 1)]}
    first, second = key_histories(
        keys, days, roll_up(calls, {}), {"fp-a": [30.0, 10.0, 20.0]}, spent
    )
    assert first.calls_per_day == (1, 0, 2) and first.calls == 3 and first.successes == 2
    assert first.errors["limit"] == 1 and first.success_rate == 2 / 3
    assert (first.p50_ms, first.p95_ms) == (20.0, 30.0)
    assert first.quota_spent_days == (date(2026, 11, 24),)
    assert second.calls_per_day == (0, 0, 0) and second.success_rate is None
    data = first.to_json()
    assert data["calls_per_day"] == {"2026-11-22": 1, "2026-11-23": 0, "2026-11-24": 2}
    assert data["key"] == "#0" and data["quota_spent_days"] == ["2026-11-24"]
