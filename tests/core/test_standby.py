"""Per-key limits, expiry dates and standby keys in the pool, on a fake clock."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from conftest import hex_key, make_policy

from kto_keys.core.answers import Outcome
from kto_keys.core.clock import FakeClock, kst_day
from kto_keys.core.codes import OutcomeKind, lookup
from kto_keys.core.expiry import expiring
from kto_keys.core.health import HealthLevel, assess
from kto_keys.core.keys import KeyAttributes, ServiceKey
from kto_keys.core.operations import Operation
from kto_keys.core.plan import plan_details
from kto_keys.core.pool import (
    DeactivationCause,
    EventKind,
    Exhausted,
    KeyPool,
    KeyState,
    Lease,
    Reason,
)
from kto_keys.core.status import KeyCondition, key_status

OP = Operation.LIST
SUCCESS = Outcome(OutcomeKind.SUCCESS, "0000", http_status=200)
FAULT = Outcome(OutcomeKind.TRANSIENT, "01", "APPLICATION_ERROR", "gateway fault", 200)


def coded(code: str) -> Outcome:
    row = lookup(code, "")
    assert row is not None
    return Outcome(row.kind, row.code, row.symbol, f"{row.code} {row.symbol}")


def key(index: int, **attributes: object) -> ServiceKey:
    made = KeyAttributes(**attributes)  # type: ignore[arg-type]
    return ServiceKey.from_raw(hex_key(), index, "keys.txt", made)


def take(pool: KeyPool, clock: FakeClock, outcome: Outcome = SUCCESS) -> tuple[Lease, list]:
    lease = pool.acquire(OP, clock.now())
    assert isinstance(lease, Lease), lease
    return lease, pool.record_outcome(lease, outcome, clock.now())


def test_a_key_with_its_own_limit_takes_exactly_that_many_calls(clock: FakeClock) -> None:
    """limit=3 beside the pool's 5: the small key stops at 3, the other carries the rest."""
    small, big = key(0, limit=3), key(1)
    pool = KeyPool([small, big], make_policy(daily_limit=5), clock.now())
    used = [take(pool, clock)[0].key.index for _ in range(8)]
    assert used.count(0) == 3 and used.count(1) == 5
    assert isinstance(pool.acquire(OP, clock.now()), Exhausted)
    assert (pool.limit_of(small), pool.quota_left(small, OP)) == (3, 0)
    assert pool.availability(small, OP, clock.now()).reason is Reason.QUOTA_SPENT
    assert [row.limit for row in key_status(pool, clock.now())] == [3, 5]


def test_the_plan_counts_each_keys_own_limit(clock: FakeClock) -> None:
    """Days needed come from the sum of the limits of the keys in use, standby keys aside."""
    keys = [key(0, limit=30), key(1, limit=70), key(2, standby=True)]
    pool = KeyPool(keys, make_policy(daily_limit=1000), clock.now())
    plan = plan_details(pool, {OP: 250}, clock.now(), None)
    [operation] = plan.operations
    assert operation.daily_capacity == 100 and operation.left_today == 100


def test_a_standby_key_waits_while_the_pool_is_whole(clock: FakeClock) -> None:
    """Never handed out while the active keys can take calls; status says it is in reserve."""
    active, standby = key(0), key(1, standby=True)
    pool = KeyPool([active, standby], make_policy(daily_limit=3), clock.now())
    assert {take(pool, clock)[0].key for _ in range(3)} == {active}
    assert isinstance(pool.acquire(OP, clock.now()), Exhausted)  # spent: no standby for that
    assert pool.availability(standby, OP, clock.now()).reason is Reason.STANDBY
    [_, row] = key_status(pool, clock.now())
    assert row.state is KeyCondition.STANDBY and row.standby and row.stands_in_for is None


@pytest.mark.parametrize("code", ["20", "30", "31", "32"])
def test_a_standby_takes_a_dead_keys_place_at_once(clock: FakeClock, code: str) -> None:
    """A key refused for good (20, 30, 31, 32) is replaced in the same breath: the next call
    goes to the standby, and the event names both keys and the cause."""
    clock.advance(3 * 3600)  # old keys: a 30 is no key still being activated
    dead, other, standby = key(0), key(1), key(2, standby=True)
    states = {
        k.fingerprint: KeyState(k.fingerprint, clock.now() - timedelta(days=90))
        for k in (dead, other, standby)
    }
    pool = KeyPool([dead, other, standby], make_policy(), clock.now(), states)
    lease = pool.lease_key(dead, OP, clock.now())
    events = pool.record_outcome(lease, coded(code), clock.now())
    kinds = [event.kind for event in events]
    assert kinds == [EventKind.DEACTIVATED, EventKind.STANDBY_IN]
    standby_in = events[-1]
    assert (standby_in.key, standby_in.replaced) == (standby, dead)
    assert standby_in.cause is events[0].cause
    assert {take(pool, clock)[0].key for _ in range(4)} == {other, standby}
    rows = key_status(pool, clock.now())
    assert (rows[2].stands_in_for, rows[0].replaced_by) == (0, 2)


def test_a_key_out_for_a_while_calls_no_standby(clock: FakeClock) -> None:
    """A key suspended for now (21) may come back after a probe: the standby stays in reserve."""
    paused, standby = key(0), key(1, standby=True)
    pool = KeyPool([paused, standby], make_policy(), clock.now())
    events = pool.record_outcome(pool.lease_key(paused, OP, clock.now()), coded("21"), clock.now())
    assert [event.kind for event in events] == [EventKind.DEACTIVATED]
    assert pool.availability(standby, OP, clock.now()).reason is Reason.STANDBY


def test_one_standby_for_one_dead_key_and_none_when_all_are_used(clock: FakeClock) -> None:
    """Two keys die: the two standby keys step in, one each; a third death finds none left."""
    clock.advance(3 * 3600)
    keys = [key(0), key(1), key(2), key(3, standby=True), key(4, standby=True)]
    states = {
        k.fingerprint: KeyState(k.fingerprint, clock.now() - timedelta(days=90)) for k in keys
    }
    pool = KeyPool(keys, make_policy(), clock.now(), states)
    replaced = []
    for dead in keys[:3]:
        events = pool.record_outcome(
            pool.lease_key(dead, OP, clock.now()), coded("31"), clock.now()
        )
        replaced += [(e.key.index, e.replaced.index) for e in events if e.replaced is not None]
    assert replaced == [(3, 0), (4, 1)]


def test_an_expiry_date_passed_takes_the_key_out_and_calls_a_standby(clock: FakeClock) -> None:
    """A key past its date goes out when the pool opens, without a call, and is not probed."""
    today = kst_day(clock.now())
    old, standby = key(0, expires=today - timedelta(days=1)), key(1, standby=True)
    pool = KeyPool([old, standby], make_policy(), clock.now())
    news = pool.take_news()
    assert [event.kind for event in news] == [EventKind.DEACTIVATED, EventKind.STANDBY_IN]
    assert pool.peek(old).deactivation_cause is DeactivationCause.EXPIRED
    assert take(pool, clock)[0].key == standby
    clock.advance(86400)
    assert pool.recovery_candidates(clock.now()) == []
    assert pool.recovery_candidates(clock.now(), force=True) == [old]


def test_a_new_expiry_date_makes_an_expired_key_worth_a_probe(clock: FakeClock) -> None:
    """The key answered 31; once its file gives a later date, it is a recovery candidate at once."""
    dead = key(0, expires=date(2026, 11, 30))
    pool = KeyPool([dead, key(1)], make_policy(), clock.now())
    pool.record_outcome(pool.lease_key(dead, OP, clock.now()), coded("31"), clock.now())
    clock.advance(7200)
    assert pool.recovery_candidates(clock.now()) == []
    renewed = dead.placed(0, "keys.txt", KeyAttributes(expires=date(2028, 11, 30)))
    states = pool.states()
    again = KeyPool([renewed, pool.keys[1]], make_policy(), clock.now(), states)
    assert again.recovery_candidates(clock.now()) == [renewed]


def test_a_standby_goes_back_in_reserve_the_day_after_its_key_recovers(clock: FakeClock) -> None:
    """The replaced key comes back by a probe: the standby keeps working that day, and is back
    in reserve the next."""
    clock.advance(3 * 3600)
    dead, standby = key(0), key(1, standby=True)
    states = {
        k.fingerprint: KeyState(k.fingerprint, clock.now() - timedelta(days=90))
        for k in (dead, standby)
    }
    pool = KeyPool([dead, standby], make_policy(), clock.now(), states)
    pool.record_outcome(pool.lease_key(dead, OP, clock.now()), coded("30"), clock.now())
    clock.advance(3600)
    probe = pool.begin_probe(dead, OP, clock.now())
    pool.record_outcome(probe, SUCCESS, clock.now())
    assert pool.availability(standby, OP, clock.now()).is_ready  # still in use today
    clock.advance(86400)
    lease, events = take(pool, clock)
    back = [event for event in events if event.kind is EventKind.STANDBY_BACK]
    assert [(event.key, event.replaced) for event in back] == [(standby, dead)]
    assert lease.key == dead
    assert pool.availability(standby, OP, clock.now()).reason is Reason.STANDBY


def test_health_lists_keys_expiring_soon_and_warns_within_a_week(clock: FakeClock) -> None:
    """Within 30 days listed; a given date within 7 days makes the level a warning at least;
    an estimate (first seen + 24 months) is listed as one, never a warning by itself."""
    today = kst_day(clock.now())
    soon, later, estimated = (
        key(0, expires=today + timedelta(days=5)),
        key(1, expires=today + timedelta(days=20)),
        key(2),
    )
    seen = clock.now() - timedelta(days=720)
    pool = KeyPool(
        [soon, later, estimated],
        make_policy(),
        clock.now(),
        {estimated.fingerprint: KeyState(estimated.fingerprint, seen)},
    )
    health = assess(pool, clock.now())
    assert health.level is HealthLevel.WARNING
    assert [(e.key.index, e.days_left, e.estimated) for e in health.expiring] == [
        (0, 5, False),
        (2, 10, True),
        (1, 20, False),
    ]
    calm = KeyPool([later, estimated], make_policy(), clock.now(), pool.states())
    assert assess(calm, clock.now()).level is HealthLevel.HEALTHY
    assert [e.key for e in expiring(calm, clock.now(), within_days=15)] == [estimated]


def test_a_pool_of_standby_keys_only_uses_them(clock: FakeClock) -> None:
    """Nothing to keep them in reserve for: every key of an all-standby pool takes calls."""
    keys = [key(0, standby=True), key(1, standby=True)]
    pool = KeyPool(keys, make_policy(), clock.now())
    assert {take(pool, clock)[0].key for _ in range(2)} == set(keys)


def test_a_key_brought_back_past_its_date_is_not_taken_out_again(clock: FakeClock) -> None:
    """`recover --force` found the key working past its file's date: the next run keeps it
    (only a new date that passes takes it out again)."""
    today = kst_day(clock.now())
    old = key(0, expires=today - timedelta(days=1))
    pool = KeyPool([old, key(1)], make_policy(), clock.now())
    assert pool.peek(old).is_deactivated
    probe = pool.begin_probe(old, OP, clock.now())
    pool.record_outcome(probe, SUCCESS, clock.now())
    again = KeyPool(pool.keys, make_policy(), clock.now(), pool.states())
    assert not again.peek(old).is_deactivated and again.take_news() == []


def test_an_expiry_date_passing_is_told_in_one_language(clock: FakeClock) -> None:
    """The line for a key whose date passed names the cause in the reader's words, no symbol."""
    from kto_keys.cli.messages import Messages

    today = kst_day(clock.now())
    pool = KeyPool([key(0, expires=today - timedelta(days=1)), key(1)], make_policy(), clock.now())
    [event] = pool.take_news()
    _, korean = Messages("ko").event(event, pool)
    assert "기간 만료" in korean and not any(
        word.isupper() and len(word) > 3 for word in korean.split()
    )
