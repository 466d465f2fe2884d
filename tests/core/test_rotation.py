"""The rotation log's rules: which pool events are a change of a key's fate, each written once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import hex_key

from kto_keys.core.answers import Outcome
from kto_keys.core.clock import FakeClock
from kto_keys.core.codes import OutcomeKind
from kto_keys.core.keys import ServiceKey
from kto_keys.core.pool import DeactivationCause, EventKind, PoolEvent
from kto_keys.core.rotation import FateTracker, KeyEventKind, by_hand, event_of

EXPIRED = Outcome(OutcomeKind.KEY_UNUSABLE, "31", "DEADLINE_HAS_EXPIRED_ERROR")
LIMIT_22 = Outcome(
    OutcomeKind.DAILY_LIMIT, "22", "LIMITED_NUMBER_OF_SERVICE_REQUESTS_EXCEEDS_ERROR"
)
PER_SECOND = Outcome(OutcomeKind.RATE_LIMIT, "23", "LIMITED_NUMBER_OF_SERVICE_REQUESTS_PER_SECOND")
OK = Outcome(OutcomeKind.SUCCESS)


def _key(index: int = 0) -> ServiceKey:
    return ServiceKey.from_raw(hex_key(), index, "environment")


def test_a_deactivation_reported_twice_is_one_change_until_the_key_recovers(
    clock: FakeClock,
) -> None:
    """Calls in flight when a key goes out come back with the same verdict: one row; a recovery
    and a second deactivation are two more."""
    key, tracker, now = _key(), FateTracker(), clock.now()
    out = PoolEvent(
        EventKind.DEACTIVATED, key, "detailIntro2", EXPIRED, now, DeactivationCause.EXPIRED
    )
    assert tracker.fate(out, now) is KeyEventKind.DEACTIVATED
    assert tracker.fate(out, now) is None
    back = PoolEvent(EventKind.RECOVERED, key, "ldongCode2", OK)
    assert tracker.fate(back, now) is KeyEventKind.RECOVERED
    assert tracker.fate(out, now) is KeyEventKind.DEACTIVATED


def test_cooling_after_22_is_one_change_while_it_lasts(clock: FakeClock) -> None:
    """A second 22 for the same key and operation while it cools is no news; after the cool-down
    it is; another operation is news at once."""
    key, tracker, now = _key(), FateTracker(), clock.now()
    until = now + timedelta(hours=1)
    cooling = PoolEvent(EventKind.DAILY_LIMIT, key, "detailIntro2", LIMIT_22, until)
    assert tracker.fate(cooling, now) is KeyEventKind.COOLING
    assert tracker.fate(cooling, now + timedelta(minutes=5)) is None
    other = PoolEvent(EventKind.DAILY_LIMIT, key, "detailCommon2", LIMIT_22, until)
    assert tracker.fate(other, now) is KeyEventKind.COOLING
    later = until + timedelta(seconds=1)
    again = PoolEvent(
        EventKind.DAILY_LIMIT, key, "detailIntro2", LIMIT_22, later + timedelta(hours=1)
    )
    assert tracker.fate(again, later) is KeyEventKind.COOLING


def test_a_spent_quota_is_one_change_per_key_operation_and_korea_day(clock: FakeClock) -> None:
    """Every call that ends after the quota ran out reports it: one row a day."""
    key, tracker, now = _key(), FateTracker(), clock.now()
    spent = PoolEvent(EventKind.QUOTA_SPENT, key, "detailIntro2", OK, now + timedelta(hours=14))
    assert tracker.fate(spent, now) is KeyEventKind.QUOTA_SPENT
    assert tracker.fate(spent, now + timedelta(minutes=1)) is None
    assert tracker.fate(spent, now + timedelta(days=1)) is KeyEventKind.QUOTA_SPENT


def test_only_the_first_per_second_refusal_of_a_run_is_kept(clock: FakeClock) -> None:
    """Per-second refusals come in bursts: the first of the run says it, whichever key."""
    tracker, now = FateTracker(), clock.now()
    first = PoolEvent(EventKind.RATE_LIMITED, _key(0), "detailIntro2", PER_SECOND, now)
    assert tracker.fate(first, now) is KeyEventKind.RATE_LIMITED
    second = PoolEvent(EventKind.RATE_LIMITED, _key(1), "detailIntro2", PER_SECOND, now)
    assert tracker.fate(second, now) is None


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        pytest.param(EventKind.OUTAGE, KeyEventKind.OUTAGE, id="outage"),
        pytest.param(EventKind.OUTAGE_OVER, KeyEventKind.OUTAGE_OVER, id="outage-over"),
        pytest.param(EventKind.PROBE_FAILED, KeyEventKind.PROBE_FAILED, id="probe-failed"),
        pytest.param(EventKind.SUCCESS, None, id="success"),
        pytest.param(EventKind.FAILURE, None, id="failure"),
        pytest.param(EventKind.REQUEST_ERROR, None, id="request-error"),
    ],
)
def test_each_pool_event_maps_to_its_row_or_none(
    clock: FakeClock, kind: EventKind, expected: KeyEventKind | None
) -> None:
    """Outages and failed probes are news each time; a success or a single failure is not."""
    event = PoolEvent(kind, _key(), "areaBasedList2", OK)
    assert FateTracker().fate(event, clock.now()) is expected


def test_a_row_carries_the_code_the_cause_the_symbol_and_until(clock: FakeClock) -> None:
    """What `log` answers "why, and until when" with; a recovery carries no cause."""
    key, now = _key(2), clock.now()
    until = now + timedelta(minutes=30)
    out = PoolEvent(
        EventKind.DEACTIVATED, key, "detailIntro2", EXPIRED, until, DeactivationCause.EXPIRED
    )
    row = event_of(out, KeyEventKind.DEACTIVATED, now)
    assert (row.key_index, row.preview, row.fingerprint) == (2, key.preview, key.fingerprint)
    assert (row.operation, row.code, row.cause, row.reason) == (
        "detailIntro2",
        "31",
        "expired",
        "DEADLINE_HAS_EXPIRED_ERROR",
    )
    assert row.until == until and row.is_alert
    back = event_of(
        PoolEvent(EventKind.RECOVERED, key, "ldongCode2", OK), KeyEventKind.RECOVERED, now
    )
    assert back.cause is None and back.reason is None and not back.is_alert
    data = row.to_json()
    assert data["at"].endswith("+09:00") and data["key"] == "#2" and data["event"] == "deactivated"


def test_by_hand_rows_keep_the_persons_words(clock: FakeClock) -> None:
    """`disable --reason` is kept as given; a key taken out by hand is not deactivated again."""
    key, tracker, now = _key(), FateTracker(), clock.now()
    row = by_hand(key, KeyEventKind.DISABLED, now, "shared with the web team")
    assert row.reason == "shared with the web team" and row.operation is None
    tracker.by_hand(key, KeyEventKind.DISABLED)
    out = PoolEvent(
        EventKind.DEACTIVATED, key, "detailIntro2", EXPIRED, now, DeactivationCause.EXPIRED
    )
    assert tracker.fate(out, now) is None
    tracker.by_hand(key, KeyEventKind.ENABLED)
    assert tracker.fate(out, now) is KeyEventKind.DEACTIVATED
