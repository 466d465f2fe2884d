"""The status report: each key's condition and blocked operations, read from the pool's one rule."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from conftest import hex_key, make_policy

from kto_keys.core.answers import Outcome
from kto_keys.core.calls import CallStats
from kto_keys.core.clock import KST, FakeClock
from kto_keys.core.codes import OutcomeKind, lookup
from kto_keys.core.keys import ServiceKey
from kto_keys.core.operations import Operation
from kto_keys.core.pool import DeactivationCause, ErrorRecord, KeyPool, Lease, Reason
from kto_keys.core.status import KeyCondition, key_status

LIST = Operation.LIST
INTRO = Operation.DETAIL_INTRO
FAULT = Outcome(OutcomeKind.TRANSIENT, "01", "APPLICATION_ERROR", "gateway fault")
MIDNIGHT = datetime(2026, 11, 25, 0, 0, tzinfo=KST)


def coded(code: str, retry_after: float | None = None) -> Outcome:
    """The outcome of an answer that carried a gateway code."""
    row = lookup(code)
    assert row is not None
    return Outcome(row.kind, row.code, row.symbol, row.symbol, retry_after=retry_after)


def make_pool(clock: FakeClock, count: int = 1) -> KeyPool:
    """Fresh fake keys with a daily limit of 10."""
    keys = [ServiceKey.from_raw(hex_key(), index, "environment") for index in range(count)]
    return KeyPool(keys, make_policy(daily_limit=10), clock.now())


def put(pool: KeyPool, key: ServiceKey, now: datetime, situation: str) -> None:
    """Bring a key into a named situation; several, joined by '+', apply in turn."""
    for part in situation.split("+"):
        operation = INTRO if part.endswith("-intro") else LIST
        what = part.removesuffix("-intro")
        if what == "used":
            pool.state(key).usage[operation] = 3
        elif what == "spent":
            pool.state(key).usage[operation] = 10
        elif what == "cooling":
            pool.record_outcome(Lease(key, operation), coded("22"), now)
        elif what == "paused":
            pool.record_outcome(Lease(key, operation), coded("23", retry_after=5), now)
        elif what == "error-wait":
            pool.record_outcome(Lease(key, operation), FAULT, now)
        elif what == "expired":
            pool.record_outcome(Lease(key, operation), coded("31"), now)
        elif what == "disabled":
            pool.deactivate_by_hand(key, "kept for the web team", now)
        elif what == "in-flight":
            pool.lease_key(key, operation, now)
        else:
            assert what == "fresh", what


@pytest.mark.parametrize(
    "situation, condition, blocked, until",
    [
        pytest.param("fresh", KeyCondition.ACTIVE, {}, None, id="fresh-active"),
        pytest.param("used+used-intro", KeyCondition.ACTIVE, {}, None, id="used-active"),
        pytest.param("in-flight", KeyCondition.ACTIVE, {}, None, id="call-in-flight-is-active"),
        pytest.param(
            "spent+used-intro",
            KeyCondition.ACTIVE_WITH_LIMITS,
            {LIST: Reason.QUOTA_SPENT},
            None,
            id="one-operation-spent",
        ),
        pytest.param(
            "cooling+used-intro",
            KeyCondition.ACTIVE_WITH_LIMITS,
            {LIST: Reason.COOLING},
            None,
            id="one-operation-cooling",
        ),
        pytest.param(
            "spent", KeyCondition.QUOTA_SPENT, {LIST: Reason.QUOTA_SPENT}, MIDNIGHT, id="spent"
        ),
        pytest.param(
            "cooling",
            KeyCondition.COOLING,
            {LIST: Reason.COOLING},
            timedelta(hours=1),
            id="cooling-after-22",
        ),
        pytest.param(
            "spent+cooling-intro",
            KeyCondition.COOLING,
            {LIST: Reason.QUOTA_SPENT, INTRO: Reason.COOLING},
            timedelta(hours=1),
            id="spent-and-cooling-shows-the-sooner",
        ),
        pytest.param(
            "paused",
            KeyCondition.PAUSED,
            {LIST: Reason.PAUSED},
            timedelta(seconds=5),
            id="paused-per-second",
        ),
        pytest.param(
            "error-wait",
            KeyCondition.ERROR_WAIT,
            {LIST: Reason.ERROR_WAIT},
            timedelta(minutes=10),
            id="error-wait",
        ),
        pytest.param(
            # Expired (31): no probe until its expiry date changes, so no time to show.
            "expired",
            KeyCondition.DEACTIVATED,
            {},
            None,
            id="deactivated",
        ),
        pytest.param("disabled", KeyCondition.DISABLED, {}, None, id="disabled-by-hand"),
        pytest.param("expired+disabled", KeyCondition.DISABLED, {}, None, id="out-both-ways"),
    ],
)
def test_each_situation_gives_one_condition_and_its_blocked_operations(
    clock, situation, condition, blocked, until
):
    """The row's condition, blocked operations and next usable time come from the pool's rule."""
    pool = make_pool(clock)
    key = pool.keys[0]
    put(pool, key, clock.now(), situation)
    [row] = key_status(pool, clock.now())
    assert row.state is condition
    assert row.blocked == blocked
    expected = clock.now() + until if isinstance(until, timedelta) else until
    assert row.next_usable_at == expected
    for operation, reason in row.blocked.items():
        assert pool.availability(key, operation, clock.now()).reason is reason


@pytest.mark.parametrize(
    "situation, working",
    [
        pytest.param("spent", True, id="spent-still-works"),
        pytest.param("cooling", True, id="cooling-still-works"),
        pytest.param("paused", True, id="paused-still-works"),
        pytest.param("error-wait", True, id="error-wait-still-works"),
        pytest.param("expired", False, id="deactivated"),
        pytest.param("disabled", False, id="disabled"),
    ],
)
def test_a_rows_working_flag_is_the_pools_one_definition(clock, situation, working):
    """Status says 'working' exactly when the pool (and so health) does."""
    pool = make_pool(clock)
    key = pool.keys[0]
    put(pool, key, clock.now(), situation)
    [row] = key_status(pool, clock.now())
    assert row.working is pool.is_working(key, clock.now()) is working


def test_a_deactivated_row_carries_the_cause_and_code_as_data(clock):
    """The cause, the gateway code and the last error are fields, with no words in any language."""
    pool = make_pool(clock)
    put(pool, pool.keys[0], clock.now(), "expired")
    [row] = key_status(pool, clock.now())
    assert (row.deactivation_cause, row.deactivation_code) == (DeactivationCause.EXPIRED, "31")
    assert row.deactivation_reason is None
    assert row.last_error == ErrorRecord(
        "31",
        "DEADLINE_HAS_EXPIRED_ERROR",
        "DEADLINE_HAS_EXPIRED_ERROR",
        clock.now(),
        "key_unusable",
    )
    assert row.last_error_at == clock.now()


def test_a_key_out_by_hand_carries_the_persons_words(clock):
    """`disable --reason` words are the only text a row holds."""
    pool = make_pool(clock)
    put(pool, pool.keys[0], clock.now(), "disabled")
    [row] = key_status(pool, clock.now())
    assert (row.deactivation_reason, row.deactivation_cause) == ("kept for the web team", None)


def test_status_after_midnight_shows_the_new_days_usage(clock):
    """A key spent yesterday is active this morning, with no usage: status reads the rolled day."""
    pool = make_pool(clock)
    put(pool, pool.keys[0], clock.now(), "spent")
    clock.advance(24 * 3600)
    [row] = key_status(pool, clock.now())
    assert (row.state, row.usage, row.blocked) == (KeyCondition.ACTIVE, {}, {})


def test_row_json_is_data_with_stable_keys(clock):
    """The JSON names the condition, blocked operations, cause and last error as plain values."""
    pool = make_pool(clock, count=2)
    first, second = pool.keys
    put(pool, first, clock.now(), "spent+used-intro+error-wait-intro")
    put(pool, second, clock.now(), "expired")
    stats = {first.fingerprint: CallStats(calls=4, successes=3)}
    rows = [row.to_json() for row in key_status(pool, clock.now(), stats)]
    assert json.loads(json.dumps(rows)) == rows
    one, two = rows
    assert (one["state"], one["blocked"]) == (
        "error_wait",
        {"areaBasedList2": "quota_spent", "detailIntro2": "error_wait"},
    )
    assert one["next_usable_at"] == (clock.now() + timedelta(minutes=10)).isoformat()
    assert one["last_error"] == {
        "code": "01",
        "symbol": "APPLICATION_ERROR",
        "message": "gateway fault",
        "at": clock.now().isoformat(),
        "kind": "transient",
    }
    assert one["stats"]["success_rate"] == 0.75
    assert (two["state"], two["deactivation_cause"], two["deactivation_code"]) == (
        "deactivated",
        "expired",
        "31",
    )
    assert {"usage", "limit", "working", "last_error_at", "deactivation_reason"} <= set(two)
