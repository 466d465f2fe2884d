"""The key pool's policies, driven by a fake clock: usage, errors, limits, selection, recovery."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import START, base64_key, hex_key, make_policy

from kto_keys.core.answers import Outcome, classify
from kto_keys.core.clock import KST, FakeClock
from kto_keys.core.codes import OutcomeKind, lookup
from kto_keys.core.keys import ServiceKey
from kto_keys.core.operations import PROBE_OPERATION, Operation
from kto_keys.core.pool import (
    RESERVE_AHEAD,
    USAGE_BLOCK,
    DeactivationCause,
    EventKind,
    Exhausted,
    KeyPool,
    KeyState,
    Lease,
    Reason,
    Wait,
)

OP = Operation.LIST
OTHER = Operation.DETAIL_INTRO
SUCCESS = Outcome(OutcomeKind.SUCCESS, "0000", http_status=200)
FAULT = Outcome(OutcomeKind.TRANSIENT, "01", "APPLICATION_ERROR", "gateway fault", 200)
BARE_403 = Outcome(OutcomeKind.TRANSIENT, None, "", "HTTP 403", 403, uncoded_auth=True)
START_DAY = datetime(2026, 11, 24).date()  # the fake clock's Korea day


def coded(code: str, symbol: str = "", retry_after: float | None = None) -> Outcome:
    """The outcome of an answer that carried a gateway code."""
    row = lookup(code, symbol)
    assert row is not None
    return Outcome(
        row.kind, row.code, row.symbol, f"{row.code} {row.symbol}", retry_after=retry_after
    )


def make_keys(count: int) -> list[ServiceKey]:
    """Fake keys of both formats, indexed in order."""
    return [
        ServiceKey.from_raw(hex_key() if index % 2 == 0 else base64_key(), index, "environment")
        for index in range(count)
    ]


def make_pool(clock: FakeClock, count: int = 1, **policy: object) -> KeyPool:
    """A pool of fresh keys under the given policy."""
    return KeyPool(make_keys(count), make_policy(**policy), clock.now())


def lease_of(pool: KeyPool, clock: FakeClock, operation: str = OP) -> Lease:
    """Acquire and insist that a key was handed out."""
    lease = pool.acquire(operation, clock.now())
    assert isinstance(lease, Lease), lease
    return lease


def call(pool: KeyPool, clock: FakeClock, outcome: Outcome, operation: str = OP) -> Lease:
    """One whole call: acquire a key and record the answer."""
    lease = lease_of(pool, clock, operation)
    pool.record_outcome(lease, outcome, clock.now())
    return lease


def call_with(pool: KeyPool, clock: FakeClock, key: ServiceKey, outcome: Outcome) -> list[Any]:
    """One call made with a given key."""
    return pool.record_outcome(pool.lease_key(key, OP, clock.now()), outcome, clock.now())


def others_succeed(pool: KeyPool, clock: FakeClock, key: ServiceKey, times: int = 5) -> None:
    """The gateway is shown to work: a key other than `key` succeeds `times` times."""
    other = next(candidate for candidate in pool.keys if candidate != key)
    for _ in range(times):
        call_with(pool, clock, other, SUCCESS)


def with_usage(clock: FakeClock, usages: list[dict[str, int]], **policy: object) -> KeyPool:
    """A pool whose keys already spent the given calls today."""
    keys = make_keys(len(usages))
    today = clock.now().astimezone(KST).date()
    states = {
        key.fingerprint: KeyState(key.fingerprint, clock.now(), usage_day=today, usage=dict(usage))
        for key, usage in zip(keys, usages, strict=True)
    }
    return KeyPool(keys, make_policy(**policy), clock.now(), states)


# --- usage -------------------------------------------------------------------------------------
def test_usage_is_counted_per_operation_when_the_key_is_handed_out(clock):
    """Acquiring counts the call for that operation at once, before any answer."""
    pool = make_pool(clock)
    lease = lease_of(pool, clock)
    assert pool.used(lease.key, OP) == 1
    assert pool.used(lease.key, OTHER) == 0
    assert pool.state(lease.key).total_calls == 1
    assert pool.in_flight(lease.key) == 1


@pytest.mark.parametrize(
    "outcome",
    [
        pytest.param(SUCCESS, id="success"),
        pytest.param(FAULT, id="transient"),
        pytest.param(coded("10"), id="request-error"),
        pytest.param(coded("12"), id="config-error"),
        pytest.param(coded("29"), id="host-blocked"),
        pytest.param(coded("22"), id="daily-limit"),
        pytest.param(coded("23"), id="per-second-limit"),
        pytest.param(coded("30"), id="key-unusable"),
    ],
)
def test_every_call_counts_toward_usage_whatever_the_answer(clock, outcome):
    """Failed calls count against the key's usage too, and the key is released."""
    pool = make_pool(clock)
    lease = call(pool, clock, outcome)
    assert pool.used(lease.key, OP) == 1
    assert pool.state(lease.key).total_calls == 1
    assert pool.in_flight(lease.key) == 0


# --- errors ------------------------------------------------------------------------------------
def test_transient_error_counts_and_starts_the_error_wait(clock):
    """A transient error adds to both counts, records the error and sets the wait."""
    pool = make_pool(clock, error_wait=timedelta(seconds=600))
    lease = call(pool, clock, FAULT)
    state = pool.state(lease.key)
    assert (state.consecutive_errors, state.total_errors) == (1, 1)
    assert state.error_wait_until == clock.now() + timedelta(seconds=600)
    assert state.last_error is not None
    assert (state.last_error.code, state.last_error.at) == ("01", clock.now())


def test_success_resets_consecutive_errors(clock):
    """A success sets the consecutive count back to 0 but keeps the total."""
    pool = make_pool(clock)
    for _ in range(3):
        call(pool, clock, FAULT)
    lease = call(pool, clock, SUCCESS)
    state = pool.state(lease.key)
    assert (state.consecutive_errors, state.total_errors, state.total_successes) == (0, 3, 1)
    assert state.error_wait_until is None
    assert state.last_success == clock.now()


def test_key_in_error_wait_is_skipped_while_another_is_usable(clock):
    """After an error the key waits, even when it has the most quota left."""
    pool = with_usage(clock, [{}, {OP: 100}], error_wait=timedelta(minutes=10))
    first, second = pool.keys
    assert call(pool, clock, FAULT).key == first
    for _ in range(3):
        assert call(pool, clock, SUCCESS).key == second
    assert pool.availability(first, OP, clock.now()).reason is Reason.ERROR_WAIT
    clock.advance(600)
    assert lease_of(pool, clock).key == first


def test_key_in_error_wait_is_used_when_no_other_is_usable(clock):
    """The error wait yields when every other key is out."""
    pool = make_pool(clock, count=2)
    first, second = pool.keys
    pool.deactivate_by_hand(second, "testing", clock.now())
    call(pool, clock, FAULT)
    assert pool.state(first).error_wait_until is not None
    assert lease_of(pool, clock).key == first


@pytest.mark.parametrize(
    "threshold",
    [pytest.param(5, id="default-5"), pytest.param(3, id="configured-3"), pytest.param(1, id="1")],
)
def test_consecutive_error_at_threshold_deactivates_key(clock, threshold):
    """With the gateway working for another key, the Nth error in a row (5 by default) takes the
    key out, not the one before."""
    pool = make_pool(clock, count=2, max_consecutive_errors=threshold)
    key = pool.keys[0]
    others_succeed(pool, clock, key)
    for _ in range(threshold - 1):
        call_with(pool, clock, key, FAULT)
        assert not pool.state(key).is_deactivated
    events = call_with(pool, clock, key, FAULT)
    state = pool.state(key)
    assert state.is_deactivated
    assert state.deactivated_at == clock.now()
    assert state.deactivation_cause is DeactivationCause.TOO_MANY_ERRORS
    assert state.consecutive_errors == threshold
    assert [event.kind for event in events] == [EventKind.FAILURE, EventKind.DEACTIVATED]
    assert events[-1].cause is DeactivationCause.TOO_MANY_ERRORS
    assert pool.availability(key, OP, clock.now()).reason is Reason.DEACTIVATED


def test_fifth_consecutive_error_deactivates_key_by_default(clock):
    """The default policy deactivates on the 5th consecutive error, after 4 that did not."""
    pool = make_pool(clock, count=2)
    key = pool.keys[0]
    others_succeed(pool, clock, key)
    for _ in range(4):
        call_with(pool, clock, key, FAULT)
    assert not pool.state(key).is_deactivated
    call_with(pool, clock, key, FAULT)
    assert pool.state(key).is_deactivated


def test_errors_interrupted_by_a_success_do_not_deactivate(clock):
    """Four errors, a success, four errors: never five in a row, so the key stays."""
    pool = make_pool(clock)
    for outcome in [FAULT] * 4 + [SUCCESS] + [FAULT] * 4:
        call(pool, clock, outcome)
    state = pool.state(pool.keys[0])
    assert not state.is_deactivated
    assert (state.consecutive_errors, state.total_errors) == (4, 8)


# --- daily limit (22) --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "cooldown_s", [pytest.param(3600, id="default-1h"), pytest.param(120, id="configured-2min")]
)
def test_daily_limit_cools_down_only_that_operation(clock, cooldown_s):
    """Code 22 cools the key for that operation for the configured time; others still use it."""
    pool = make_pool(clock, rate_limit_cooldown=timedelta(seconds=cooldown_s))
    key = pool.keys[0]
    events = pool.record_outcome(lease_of(pool, clock), coded("22"), clock.now())
    until = clock.now() + timedelta(seconds=cooldown_s)
    assert events[0].kind is EventKind.DAILY_LIMIT
    assert events[0].until == until
    assert pool.availability(key, OP, clock.now()).reason is Reason.COOLING
    assert pool.state(key).consecutive_errors == 0
    assert not pool.state(key).is_deactivated
    exhausted = pool.acquire(OP, clock.now())
    assert isinstance(exhausted, Exhausted)
    assert (exhausted.key, exhausted.until, exhausted.reason) == (key, until, Reason.COOLING)
    assert call(pool, clock, SUCCESS, OTHER).key == key
    clock.advance(cooldown_s - 1)
    assert isinstance(pool.acquire(OP, clock.now()), Exhausted)
    clock.advance(1)
    assert lease_of(pool, clock).key == key


def test_after_the_cool_down_one_call_tests_the_key(clock):
    """Once the cool-down ends, a single call goes out; more follow only after it succeeds."""
    pool = make_pool(clock)
    key = pool.keys[0]
    call(pool, clock, SUCCESS)
    assert pool.is_proven(key, OP)
    call(pool, clock, coded("22"))
    clock.advance(3600)
    test_call = lease_of(pool, clock)
    assert isinstance(pool.acquire(OP, clock.now()), Wait)
    pool.record_outcome(test_call, SUCCESS, clock.now())
    leases = [pool.acquire(OP, clock.now()) for _ in range(4)]
    assert all(isinstance(lease, Lease) for lease in leases)


def test_daily_limit_cool_down_is_per_key(clock):
    """A 22 on one key leaves the other key usable for the same operation."""
    pool = make_pool(clock, count=2)
    first, second = pool.keys
    call(pool, clock, coded("22"))
    assert pool.availability(first, OP, clock.now()).reason is Reason.COOLING
    assert lease_of(pool, clock).key == second


@pytest.mark.parametrize(
    "daily_limit, reserve",
    [
        pytest.param(10, 0, id="limit-10"),
        pytest.param(10, 3, id="limit-10-reserve-3"),
        pytest.param(1000, 998, id="limit-1000-reserve-998"),
    ],
)
def test_usable_limit_is_never_exceeded_per_key_and_operation(clock, daily_limit, reserve):
    """A key makes at most daily_limit - reserve calls per operation, then waits for midnight."""
    pool = make_pool(clock, count=2, daily_limit=daily_limit, reserve=reserve)
    usable = daily_limit - reserve
    handed = []
    while isinstance(lease := pool.acquire(OP, clock.now()), Lease):
        pool.record_outcome(lease, SUCCESS, clock.now())
        handed.append(lease.key.index)
        assert len(handed) <= 2 * usable
    assert handed.count(0) == handed.count(1) == usable
    assert all(pool.used(key, OP) == usable for key in pool.keys)
    assert isinstance(lease, Exhausted)
    assert lease.reason is Reason.QUOTA_SPENT
    assert lease.until == datetime(2026, 11, 25, 0, 0, tzinfo=KST)
    assert isinstance(pool.acquire(OTHER, clock.now()), Lease)


def test_usable_limit_holds_with_calls_in_flight(clock):
    """Calls still under way count too: concurrency cannot overshoot the limit."""
    pool = make_pool(clock, daily_limit=5, reserve=1)
    call(pool, clock, SUCCESS)
    in_flight = [pool.acquire(OP, clock.now()) for _ in range(10)]
    assert sum(isinstance(lease, Lease) for lease in in_flight) == 3
    assert pool.used(pool.keys[0], OP) == 4
    assert pool.quota_left(pool.keys[0], OP) == 0


def test_quota_left_counts_the_reserve(clock):
    """quota_left is the usable limit minus today's calls for that operation."""
    pool = with_usage(clock, [{OP: 3}], daily_limit=10, reserve=2)
    key = pool.keys[0]
    assert pool.quota_left(key, OP) == 5
    assert pool.quota_left(key, OTHER) == 8


def test_pool_quota_left_counts_only_keys_that_can_be_used(clock):
    """The pool's quota for an operation leaves out deactivated and cooling keys."""
    pool = with_usage(clock, [{OP: 1}, {}, {OP: 4}, {}], daily_limit=10)
    pool.deactivate_by_hand(pool.keys[1], "testing", clock.now())
    assert call(pool, clock, coded("22")).key == pool.keys[3]
    assert pool.pool_quota_left(OP, clock.now()) == 9 + 6
    assert pool.pool_quota_left(OTHER, clock.now()) == 10 + 10 + 10


def test_pool_quota_left_counts_working_keys_only(clock):
    """The pool's quota counts working keys only, the one definition health and status use: a
    key waiting after an error counts, a key out does not."""
    pool = with_usage(clock, [{}, {OP: 4}], daily_limit=10)
    assert call(pool, clock, FAULT).key == pool.keys[0]
    assert pool.pool_quota_left(OP, clock.now()) == 9 + 6
    pool.deactivate_by_hand(pool.keys[0], "aside", clock.now())
    assert pool.pool_quota_left(OP, clock.now()) == 6


def test_pool_quota_left_counts_keys_kept_back_for_a_moment(clock):
    """A pause of seconds, a call in flight or a wrong-URL answer holds a key back for a moment
    and still counts its quota left; a spent key adds nothing."""
    pool = with_usage(clock, [{}, {OP: 2}, {OP: 3}, {OP: 10}], daily_limit=10)
    paused = call(pool, clock, coded("23")).key
    busy = lease_of(pool, clock).key
    wrong_url = call(pool, clock, Outcome(OutcomeKind.WRONG_URL, None, "", "HTTP 404", 404)).key
    reasons = [pool.availability(key, OP, clock.now()).reason for key in pool.keys]
    assert [paused, busy, wrong_url] == list(pool.keys[:3])
    assert reasons == [Reason.PAUSED, Reason.BUSY, Reason.WRONG_URL, Reason.QUOTA_SPENT]
    assert pool.pool_quota_left(OP, clock.now()) == 9 + 7 + 6 + 0


# --- working -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "situation, working",
    [
        pytest.param("ok", True, id="ok"),
        pytest.param("quota-spent", True, id="quota-spent-still-works"),
        pytest.param("cooling-after-22", True, id="cooling-after-22-still-works"),
        pytest.param("paused", True, id="paused-still-works"),
        pytest.param("unproven-in-flight", True, id="in-flight-still-works"),
        pytest.param("error-wait", True, id="error-wait-still-works"),
        pytest.param("deactivated", False, id="deactivated"),
        pytest.param("disabled-by-hand", False, id="disabled-by-hand"),
    ],
)
def test_a_key_works_unless_it_is_out(clock, situation, working):
    """Working: in the pool; limits of today's quota and a wait after an error do not count."""
    pool = make_pool(clock, count=2)
    key, other = pool.keys
    put(pool, key, clock.now(), situation)
    assert pool.is_working(key, clock.now()) is working
    assert pool.working_keys(clock.now()) == ([key, other] if working else [other])


def test_a_key_waiting_after_an_error_works_but_is_picked_last(clock):
    """The error wait keeps a key's count of working keys; it only puts the key behind the others."""
    pool = make_pool(clock, count=2)
    first, second = pool.keys
    call_with(pool, clock, first, FAULT)
    assert pool.is_working(first, clock.now())
    assert lease_of(pool, clock).key == second


# --- per-second limit (23, bare 429) -----------------------------------------------------------
@pytest.mark.parametrize(
    "outcome, pause_s",
    [
        pytest.param(coded("23"), 5, id="code-23"),
        pytest.param(Outcome(OutcomeKind.RATE_LIMIT, http_status=429), 5, id="bare-429"),
        pytest.param(
            Outcome(OutcomeKind.RATE_LIMIT, http_status=429, retry_after=7),
            7,
            id="bare-429-retry-after-7",
        ),
        pytest.param(
            Outcome(OutcomeKind.RATE_LIMIT, http_status=429, retry_after=2),
            5,
            id="bare-429-retry-after-shorter-than-the-pause",
        ),
        pytest.param(
            Outcome(OutcomeKind.RATE_LIMIT, "24", http_status=429), 5, id="429-unknown-code"
        ),
        pytest.param(coded("23", retry_after=30), 30, id="code-23-retry-after-30"),
    ],
)
def test_per_second_limit_pauses_the_key_briefly_without_an_error(clock, outcome, pause_s):
    """23, a bare 429 or a 429 with an unknown code pauses the key 5 s (or a longer
    Retry-After); no error is counted."""
    pool = make_pool(clock, count=2)
    first, second = pool.keys
    events = pool.record_outcome(lease_of(pool, clock), outcome, clock.now())
    state = pool.state(first)
    assert events[0].kind is EventKind.RATE_LIMITED
    assert (state.consecutive_errors, state.total_errors) == (0, 0)
    assert state.error_wait_until is None
    assert not state.is_deactivated
    availability = pool.availability(first, OP, clock.now())
    assert availability.reason is Reason.PAUSED
    assert availability.until == clock.now() + timedelta(seconds=pause_s)
    assert lease_of(pool, clock).key == second
    clock.advance(pause_s)
    assert pool.availability(first, OP, clock.now()).is_ready


def test_per_second_pause_is_short_even_with_a_long_retry_after(clock):
    """A huge Retry-After still pauses the key only for seconds, never for the day."""
    pool = make_pool(clock)
    outcome = Outcome(OutcomeKind.RATE_LIMIT, http_status=429, retry_after=86400)
    pool.record_outcome(lease_of(pool, clock), outcome, clock.now())
    until = pool.availability(pool.keys[0], OP, clock.now()).until
    assert until is not None
    assert timedelta(0) < until - clock.now() <= timedelta(minutes=2)


def test_paused_only_key_makes_the_caller_wait_until_the_pause_ends(clock):
    """With every key paused, acquire answers Wait with the end of the pause."""
    pool = make_pool(clock)
    pool.record_outcome(lease_of(pool, clock), coded("23", retry_after=5), clock.now())
    waited = pool.acquire(OP, clock.now())
    assert waited == Wait(clock.now() + timedelta(seconds=5))


# --- permanent key errors ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "code, symbol, cause",
    [
        pytest.param(
            "20",
            "SERVICE_ACCESS_DENIED_ERROR",
            DeactivationCause.NOT_APPROVED,
            id="20-access-denied",
        ),
        pytest.param(
            "21", "", DeactivationCause.TEMPORARILY_DISABLED, id="21-temporarily-disabled"
        ),
        pytest.param("30", "", DeactivationCause.NOT_REGISTERED, id="30-not-registered"),
        pytest.param("31", "", DeactivationCause.EXPIRED, id="31-expired"),
        pytest.param("32", "", DeactivationCause.IP_RESTRICTED, id="32-ip-not-allowed"),
    ],
)
def test_permanent_key_error_deactivates_at_once_with_the_cause(clock, code, symbol, cause):
    """One answer of 20 (denied), 21, 30, 31 or 32 takes the key out with its cause and code."""
    pool = make_pool(clock, count=2)
    first, second = pool.keys
    clock.advance(3 * 3600)  # an old key: no activation hint
    outcome = coded(code, symbol)
    events = pool.record_outcome(lease_of(pool, clock), outcome, clock.now())
    state = pool.state(first)
    assert state.is_deactivated
    assert state.deactivation_code == code
    assert state.deactivation_cause is cause
    assert state.last_error is not None
    assert (state.last_error.code, state.last_error.symbol) == (code, outcome.symbol)
    assert state.deactivation_reason is None
    assert events[-1].kind is EventKind.DEACTIVATED
    assert events[-1].cause is cause
    # An expired key waits for a new expiry date, not for a time: no probe is planned for it.
    probe_at = (
        None if cause is DeactivationCause.EXPIRED else clock.now() + pool.policy.recovery_after
    )
    assert events[-1].until == probe_at
    assert pool.availability(first, OP, clock.now()).reason is Reason.DEACTIVATED
    assert pool.availability(first, OTHER, clock.now()).reason is Reason.DEACTIVATED
    assert lease_of(pool, clock).key == second


@pytest.mark.parametrize(
    "status, body",
    [
        pytest.param(
            401,
            b'{"OpenAPI_ServiceResponse": {"cmmMsgHeader": {"errMsg": "SERVICE_ACCESS_DENIED_ERROR",'
            b' "returnAuthMsg": "-", "returnReasonCode": "20"}}}',
            id="401-with-20",
        ),
        pytest.param(
            403,
            b"<OpenAPI_ServiceResponse><cmmMsgHeader><errMsg>SERVICE ERROR</errMsg>"
            b"<returnAuthMsg>Service key is null</returnAuthMsg><returnReasonCode>020"
            b"</returnReasonCode></cmmMsgHeader></OpenAPI_ServiceResponse>",
            id="null-in-the-message",
        ),
    ],
)
def test_a_20_that_means_no_key_was_sent_blames_no_key(clock, status, body):
    """Code 20 on a 401, or with "null" in its texts, is our request's fault: the key stays in."""
    pool = make_pool(clock, count=2)
    first = pool.keys[0]
    events = pool.record_outcome(lease_of(pool, clock), classify(status, {}, body), clock.now())
    state = pool.state(first)
    assert [event.kind for event in events] == [EventKind.REQUEST_ERROR]
    assert not state.is_deactivated and state.consecutive_errors == 0
    assert pool.availability(first, OP, clock.now()).is_ready


@pytest.mark.parametrize(
    "age, hinted",
    [
        pytest.param(timedelta(0), True, id="just-seen"),
        pytest.param(timedelta(hours=1, minutes=59), True, id="1h59m"),
        pytest.param(timedelta(hours=2), False, id="2h"),
        pytest.param(timedelta(days=30), False, id="30-days"),
    ],
)
def test_30_on_a_key_first_seen_under_2_hours_ago_may_not_be_activated_yet(clock, age, hinted):
    """A 30 on a newly seen key says it may not be activated yet; on an old key it does not."""
    key = make_keys(1)[0]
    state = KeyState(key.fingerprint, first_seen=clock.now() - age)
    pool = KeyPool([key], make_policy(), clock.now(), {key.fingerprint: state})
    pool.record_outcome(lease_of(pool, clock), coded("30"), clock.now())
    state = pool.state(key)
    assert (state.deactivation_cause is DeactivationCause.NOT_ACTIVATED_YET) is hinted
    assert (state.deactivation_cause is DeactivationCause.NOT_REGISTERED) is not hinted
    assert state.deactivation_code == "30"


def test_new_key_first_seen_is_when_the_pool_first_met_it(clock):
    """A key the pool never saw before starts its activation window now."""
    pool = make_pool(clock)
    assert pool.state(pool.keys[0]).first_seen == clock.now()
    clock.advance(2 * 3600 + 1)
    pool.record_outcome(lease_of(pool, clock), coded("30"), clock.now())
    assert pool.state(pool.keys[0]).deactivation_cause is DeactivationCause.NOT_REGISTERED


@pytest.mark.parametrize(
    "outcome",
    [
        pytest.param(coded("10"), id="10-invalid-parameter"),
        pytest.param(coded("11"), id="11-missing-parameter"),
        pytest.param(coded("12"), id="12-retired-service"),
        pytest.param(coded("20", "SERVICE_KEY_IS_NULL"), id="20-key-missing"),
        pytest.param(coded("29"), id="29-host-blocked"),
        pytest.param(coded("33"), id="33-unsigned"),
    ],
)
def test_request_config_and_host_errors_never_count_against_the_key(clock, outcome):
    """Our own mistakes and a blocked host leave the key's error record untouched."""
    pool = make_pool(clock)
    key = pool.keys[0]
    for _ in range(10):
        call(pool, clock, outcome)
    state = pool.state(key)
    assert (state.consecutive_errors, state.total_errors) == (0, 0)
    assert state.last_error is None
    assert state.error_wait_until is None
    assert not state.is_deactivated
    assert pool.used(key, OP) == 10


# --- the day -----------------------------------------------------------------------------------
def test_usage_resets_at_midnight_korea_time(clock):
    """At 00:00:00 KST (15:00 UTC) the counts start over; at 23:59:59 KST they do not."""
    clock.set(datetime(2026, 11, 24, 14, 59, 58, tzinfo=UTC))
    pool = make_pool(clock)
    key = pool.keys[0]
    for _ in range(3):
        call(pool, clock, SUCCESS)
    clock.set(datetime(2026, 11, 24, 14, 59, 59, tzinfo=UTC))
    call(pool, clock, SUCCESS)
    assert pool.used(key, OP) == 4
    clock.set(datetime(2026, 11, 24, 15, 0, 0, tzinfo=UTC))
    call(pool, clock, SUCCESS)
    assert pool.used(key, OP) == 1
    assert pool.state(key).usage_day == datetime(2026, 11, 25).date()
    assert pool.state(key).total_calls == 5


def test_spent_quota_opens_again_at_midnight_korea_time(clock):
    """A key spent at 23:59:59 KST is Exhausted until 00:00 KST and usable at that moment."""
    clock.set(datetime(2026, 11, 24, 14, 59, 59, tzinfo=UTC))
    pool = make_pool(clock, daily_limit=2)
    call(pool, clock, SUCCESS)
    call(pool, clock, SUCCESS)
    exhausted = pool.acquire(OP, clock.now())
    assert isinstance(exhausted, Exhausted)
    assert exhausted.until == datetime(2026, 11, 24, 15, 0, 0, tzinfo=UTC)
    assert exhausted.reason is Reason.QUOTA_SPENT
    clock.advance(1)
    assert lease_of(pool, clock).key == pool.keys[0]


def test_usage_from_yesterday_loaded_from_the_cache_does_not_count_today(clock):
    """States carried over from another Korea day start the pool with zero usage."""
    key = make_keys(1)[0]
    yesterday = clock.now().astimezone(KST).date() - timedelta(days=1)
    state = KeyState(key.fingerprint, clock.now(), usage_day=yesterday, usage={OP: 1000})
    pool = KeyPool([key], make_policy(), clock.now(), {key.fingerprint: state})
    assert pool.used(key, OP) == 0
    assert pool.quota_left(key, OP) == 1000


def test_a_clock_stepping_back_over_midnight_does_not_forget_the_days_usage(clock):
    """The day only moves forward: 7 calls after midnight survive the clock going back and forth."""
    clock.set(datetime(2026, 11, 24, 14, 59, 50, tzinfo=UTC))  # 23:59:50 KST
    pool = make_pool(clock)
    key = pool.keys[0]
    call(pool, clock, SUCCESS)
    clock.set(datetime(2026, 11, 24, 15, 0, 5, tzinfo=UTC))  # 00:00:05 KST, the 25th
    for _ in range(7):
        call(pool, clock, SUCCESS)
    assert pool.used(key, OP) == 7
    clock.set(datetime(2026, 11, 24, 14, 59, 55, tzinfo=UTC))  # back to 23:59:55 KST
    assert pool.usage_today(key, clock.now()) == {OP: 7}
    assert pool.availability(key, OP, clock.now()).is_ready
    call(pool, clock, SUCCESS)
    clock.set(datetime(2026, 11, 24, 15, 0, 10, tzinfo=UTC))  # forward again
    call(pool, clock, SUCCESS)
    assert pool.used(key, OP) == 9
    assert pool.state(key).usage_day == datetime(2026, 11, 25).date()
    assert pool.state(key).total_calls == 10


def test_every_reading_after_midnight_sees_the_new_day_without_a_call(clock):
    """Status, health and the plan read the pool without acquiring: they see the reset too."""
    clock.set(datetime(2026, 11, 24, 14, 59, 59, tzinfo=UTC))  # 23:59:59 KST
    pool = make_pool(clock, daily_limit=2)
    key = pool.keys[0]
    call(pool, clock, SUCCESS)
    call(pool, clock, SUCCESS)
    assert not pool.is_usable(key, OP, clock.now())
    clock.advance(1)
    assert pool.availability(key, OP, clock.now()).reason is Reason.OK
    assert pool.pool_quota_left(OP, clock.now()) == 2
    assert pool.usage_today(key, clock.now()) == {}
    assert pool.used(key, OP) == 0


def test_usage_of_a_later_day_from_another_process_is_kept(clock):
    """A state saved by a process whose clock is already past midnight keeps its usage."""
    key = make_keys(1)[0]
    tomorrow = clock.now().astimezone(KST).date() + timedelta(days=1)
    state = KeyState(key.fingerprint, clock.now(), usage_day=tomorrow, usage={OP: 5})
    pool = KeyPool([key], make_policy(), clock.now(), {key.fingerprint: state})
    assert pool.used(key, OP) == 5
    clock.advance(86400)
    assert pool.usage_today(key, clock.now()) == {OP: 5}
    clock.advance(86400)
    assert pool.usage_today(key, clock.now()) == {}


def test_daily_limit_cool_down_ends_with_the_korea_day(clock):
    """A 22 near midnight does not outlive the day's reset; one call tests the key after it."""
    clock.set(datetime(2026, 11, 24, 14, 30, tzinfo=UTC))  # 23:30 KST
    pool = make_pool(clock)
    call(pool, clock, coded("22"))
    assert isinstance(pool.acquire(OP, clock.now()), Exhausted)
    clock.set(datetime(2026, 11, 24, 15, 0, tzinfo=UTC))  # 00:00 KST, cool-down still 30 min
    assert lease_of(pool, clock).key == pool.keys[0]
    assert isinstance(pool.acquire(OP, clock.now()), Wait)


# --- recovery ----------------------------------------------------------------------------------
def test_deactivated_key_becomes_a_recovery_candidate_after_recovery_after(clock):
    """Recovery candidates are the keys deactivated at least recovery_after ago."""
    pool = make_pool(clock, count=2, recovery_after=timedelta(minutes=30))
    first, _ = pool.keys
    call(pool, clock, coded("32"))
    assert pool.recovery_candidates(clock.now()) == []
    clock.advance(30 * 60 - 1)
    assert pool.recovery_candidates(clock.now()) == []
    clock.advance(1)
    assert pool.recovery_candidates(clock.now()) == [first]


def test_force_makes_every_deactivated_key_a_candidate_but_not_hand_disabled_ones(clock):
    """--force probes every deactivated key now; a key disabled by hand waits for `enable`."""
    pool = make_pool(clock, count=3)
    first, second, _ = pool.keys
    call(pool, clock, coded("32"))
    pool.deactivate_by_hand(second, "paused by me", clock.now())
    assert pool.recovery_candidates(clock.now(), force=True) == [first]
    clock.advance(86400)
    assert pool.recovery_candidates(clock.now()) == [first]


@pytest.mark.parametrize(
    "outcome, still_cooling",
    [
        pytest.param(SUCCESS, False, id="success"),
        pytest.param(coded("22"), True, id="daily-limit-means-the-key-works"),
        pytest.param(coded("23"), False, id="per-second-limit-means-the-key-works"),
    ],
)
def test_probe_that_gets_through_reactivates_the_key(clock, outcome, still_cooling):
    """A probe answered by the service (not refused by the gateway) brings the key back."""
    pool = make_pool(clock, max_consecutive_errors=5)
    key = pool.keys[0]
    call(pool, clock, coded("30"))
    clock.advance(1800)
    assert pool.recovery_candidates(clock.now()) == [key]
    probe = pool.begin_probe(key, PROBE_OPERATION, clock.now())
    assert probe.probe
    events = pool.record_outcome(probe, outcome, clock.now())
    state = pool.state(key)
    assert events[0].kind is EventKind.RECOVERED
    assert not state.is_deactivated
    assert (state.deactivation_reason, state.deactivation_cause) == (None, None)
    assert state.consecutive_errors == 0
    assert pool.recovery_candidates(clock.now(), force=True) == []
    assert pool.used(key, PROBE_OPERATION) == 1
    cooling = pool.availability(key, PROBE_OPERATION, clock.now()).reason is Reason.COOLING
    assert cooling is still_cooling
    assert lease_of(pool, clock).key == key


@pytest.mark.parametrize(
    "outcome, cause",
    [
        pytest.param(coded("30"), DeactivationCause.NOT_ACTIVATED_YET, id="still-not-registered"),
        pytest.param(coded("31"), DeactivationCause.EXPIRED, id="expired"),
        pytest.param(FAULT, DeactivationCause.NOT_ACTIVATED_YET, id="transient-keeps-the-cause"),
    ],
)
def test_failed_probe_keeps_the_key_out_with_a_fresh_timestamp(clock, outcome, cause):
    """A failed probe restarts the recovery wait; a refusal renews the cause, a fault keeps it."""
    pool = make_pool(clock, recovery_after=timedelta(minutes=30))
    key = pool.keys[0]
    call(pool, clock, coded("30"))
    clock.advance(3600)
    probed_at = clock.now()
    events = pool.record_outcome(pool.begin_probe(key, OP, probed_at), outcome, probed_at)
    state = pool.state(key)
    assert events[0].kind is EventKind.PROBE_FAILED
    assert events[0].cause is state.deactivation_cause is cause
    assert state.is_deactivated
    assert state.deactivated_at == probed_at
    assert pool.recovery_candidates(clock.now()) == []
    clock.advance(30 * 60)
    # A key that answered 31 is probed again only once its expiry date changes.
    back = [] if cause is DeactivationCause.EXPIRED else [key]
    assert pool.recovery_candidates(clock.now()) == back
    assert isinstance(pool.acquire(OP, clock.now()), Exhausted)


def test_probe_of_a_key_deactivated_for_errors_reactivates_it(clock):
    """A key taken out by five errors comes back after one good probe, with a clean count."""
    pool = make_pool(clock, count=2)
    key = pool.keys[0]
    others_succeed(pool, clock, key)
    for _ in range(5):
        call_with(pool, clock, key, FAULT)
    assert pool.state(key).is_deactivated
    clock.advance(1800)
    pool.record_outcome(pool.begin_probe(key, OP, clock.now()), SUCCESS, clock.now())
    state = pool.state(key)
    assert not state.is_deactivated
    assert state.consecutive_errors == 0
    assert state.total_errors == 5


# --- the one rule: availability and acquire agree ------------------------------------------------
def put(pool: KeyPool, key: ServiceKey, now: datetime, situation: str) -> None:
    """Bring one key into a named situation, through the pool's own doors where there is one."""
    state = pool.state(key)
    if situation.startswith("used-"):
        state.usage[OP] = int(situation.removeprefix("used-"))
    elif situation == "disabled-by-hand":
        pool.deactivate_by_hand(key, "testing", now)
    elif situation == "deactivated":
        pool.record_outcome(Lease(key, OP), coded("32"), now)
    elif situation == "cooling-after-22":
        pool.record_outcome(Lease(key, OP), coded("22"), now)
    elif situation == "quota-spent":
        state.usage[OP] = pool.policy.usable_limit
    elif situation == "paused":
        pool.record_outcome(Lease(key, OP), coded("23", retry_after=5), now)
    elif situation == "error-wait":
        pool.record_outcome(Lease(key, OP), FAULT, now)
    elif situation == "unproven-in-flight":
        pool.lease_key(key, OP, now)
    elif situation == "proven-in-flight":
        pool.record_outcome(pool.lease_key(key, OP, now), SUCCESS, now)
        pool.lease_key(key, OP, now)
    else:
        assert situation == "ok", situation


def choice_from_verdicts(pool: KeyPool, now: datetime) -> ServiceKey | type[Wait] | type[Exhausted]:
    """What acquire must do, worked out from availability alone: ready keys first, then keys in
    an error wait, the most quota left winning (ties: lowest index); else wait, else give up."""
    verdicts = {key: pool.availability(key, OP, now).reason for key in pool.keys}
    for wanted in (Reason.OK, Reason.ERROR_WAIT):
        group = [key for key, reason in verdicts.items() if reason is wanted]
        if group:
            return min(group, key=lambda key: (pool.used(key, OP), key.index))
    if any(reason in (Reason.PAUSED, Reason.BUSY) for reason in verdicts.values()):
        return Wait
    return Exhausted


@pytest.mark.parametrize(
    "first, second, reason, expected",
    [
        pytest.param("ok", "disabled-by-hand", Reason.OK, 0, id="ok"),
        pytest.param(
            "disabled-by-hand",
            "disabled-by-hand",
            Reason.DISABLED,
            Exhausted,
            id="disabled-by-hand",
        ),
        pytest.param(
            "deactivated", "disabled-by-hand", Reason.DEACTIVATED, Exhausted, id="deactivated"
        ),
        pytest.param(
            "cooling-after-22", "disabled-by-hand", Reason.COOLING, Exhausted, id="cooling-after-22"
        ),
        pytest.param(
            "quota-spent", "disabled-by-hand", Reason.QUOTA_SPENT, Exhausted, id="quota-spent"
        ),
        pytest.param(
            "used-7", "disabled-by-hand", Reason.QUOTA_SPENT, Exhausted, id="reserve-reached"
        ),
        pytest.param("paused", "disabled-by-hand", Reason.PAUSED, Wait, id="paused-per-second"),
        pytest.param("error-wait", "disabled-by-hand", Reason.ERROR_WAIT, 0, id="error-wait-alone"),
        pytest.param(
            "unproven-in-flight", "disabled-by-hand", Reason.BUSY, Wait, id="unproven-in-flight"
        ),
        pytest.param("proven-in-flight", "disabled-by-hand", Reason.OK, 0, id="proven-in-flight"),
        pytest.param("used-2", "used-1", Reason.OK, 1, id="second-key-better"),
        pytest.param("used-2", "used-3", Reason.OK, 0, id="second-key-worse"),
        pytest.param("used-2", "used-2", Reason.OK, 0, id="tie-lowest-index"),
        pytest.param("error-wait", "used-3", Reason.ERROR_WAIT, 1, id="error-wait-yields-to-ready"),
        pytest.param("paused", "used-3", Reason.PAUSED, 1, id="paused-yields-to-ready"),
        pytest.param("unproven-in-flight", "used-3", Reason.BUSY, 1, id="busy-yields-to-ready"),
        pytest.param("cooling-after-22", "used-3", Reason.COOLING, 1, id="cooling-yields-to-ready"),
        pytest.param(
            "quota-spent", "error-wait", Reason.QUOTA_SPENT, 1, id="spent-yields-to-error-wait"
        ),
        pytest.param(
            "deactivated", "paused", Reason.DEACTIVATED, Wait, id="deactivated-beside-paused"
        ),
    ],
)
def test_acquire_and_availability_agree_on_every_situation(clock, first, second, reason, expected):
    """Each situation of a key gives one verdict, and acquire picks exactly what the verdicts say."""
    pool = make_pool(clock, count=2, daily_limit=10, reserve=3)
    now = clock.now()
    subject, other = pool.keys
    put(pool, subject, now, first)
    put(pool, other, now, second)
    assert pool.availability(subject, OP, now).reason is reason
    predicted = choice_from_verdicts(pool, now)
    soonest = pool.next_usable(OP, now)
    chosen = pool.acquire(OP, now)
    if isinstance(expected, int):
        assert isinstance(chosen, Lease)
        assert chosen.key == pool.keys[expected] == predicted
    else:
        assert isinstance(chosen, expected)
        assert predicted is expected
    if isinstance(chosen, Exhausted):
        assert chosen == soonest


UNSENT = Outcome(OutcomeKind.UNSENT, message="refused")
HISTORY_OUTCOMES = (
    SUCCESS,
    SUCCESS,
    SUCCESS,
    FAULT,
    UNSENT,
    coded("22"),
    coded("23", retry_after=2),
    coded("31"),
)


@pytest.mark.parametrize("seed", range(25))
def test_acquire_picks_what_the_verdicts_say_through_any_history(clock, seed):
    """Random histories of calls of two operations, answers of every kind, time passing (across
    midnight too) and changes by hand: at every step acquire hands out exactly what the one
    rule's verdicts predict, so the line it picks from never misses or favours a key."""
    rng = random.Random(seed)
    pool = make_pool(clock, count=6, daily_limit=12, reserve=2)
    leases: list[Lease] = []
    for _ in range(400):
        now = clock.now()
        action = rng.random()
        if action < 0.45:
            predicted = choice_from_verdicts(pool, now)
            chosen = pool.acquire(OP, now)
            if isinstance(chosen, Lease):
                assert chosen.key == predicted
                leases.append(chosen)
            else:
                assert isinstance(chosen, predicted)  # type: ignore[arg-type]
        elif action < 0.55:
            other = pool.acquire(OTHER, now)
            if isinstance(other, Lease):
                leases.append(other)
        elif action < 0.85 and leases:
            lease = leases.pop(rng.randrange(len(leases)))
            pool.record_outcome(lease, rng.choice(HISTORY_OUTCOMES), now)
        elif action < 0.95:
            clock.advance(rng.choice((0.5, 3, 30, 700, 7200)))
        else:
            key = rng.choice(pool.keys)
            if rng.random() < 0.5:
                pool.enable_by_hand(key)
            else:
                pool.deactivate_by_hand(key, "testing", now)


def test_a_state_changed_by_hand_after_a_call_is_seen_by_the_next_acquire(clock):
    """state() hands out a state to change: a key made usable through it is back in line."""
    pool = make_pool(clock, count=2, daily_limit=10, reserve=0)
    first, second = pool.keys
    pool.state(first).usage[OP] = 10  # spent
    lease = pool.acquire(OP, clock.now())
    assert isinstance(lease, Lease) and lease.key == second
    pool.record_outcome(lease, SUCCESS, clock.now())
    pool.state(first).usage[OP] = 0
    again = pool.acquire(OP, clock.now())
    assert isinstance(again, Lease) and again.key == first


def test_one_reservation_covers_the_keys_next_in_line(clock):
    """With many fresh keys, the first lease reserves a block for the next keys as well: one
    save before RESERVE_AHEAD keys' first calls, each key at most a block ahead."""
    pool = make_pool(clock, count=RESERVE_AHEAD * 2)
    flags = []
    for _ in range(RESERVE_AHEAD * 2):
        lease = pool.acquire(OP, clock.now())
        assert isinstance(lease, Lease)
        flags.append(lease.reserved)
        pool.record_outcome(lease, SUCCESS, clock.now())
    assert flags.count(True) == 2
    for key in pool.keys:
        state = pool.state(key)
        assert state.usage[OP] == 1 and state.reserved[OP] - state.usage[OP] <= USAGE_BLOCK - 1


@pytest.mark.parametrize(
    "situation, until",
    [
        pytest.param("ok", None, id="ok"),
        pytest.param("disabled-by-hand", None, id="disabled-by-hand-no-return"),
        pytest.param("deactivated", timedelta(minutes=30), id="deactivated-until-probe"),
        pytest.param("cooling-after-22", timedelta(hours=1), id="cooling-one-hour"),
        pytest.param("quota-spent", timedelta(hours=14), id="quota-until-midnight-kst"),
        pytest.param("paused", timedelta(seconds=5), id="paused-retry-after"),
        pytest.param("error-wait", timedelta(minutes=10), id="error-wait-ten-minutes"),
        pytest.param("unproven-in-flight", None, id="busy-until-a-release"),
    ],
)
def test_availability_says_until_when(clock, situation, until):
    """Each verdict carries the moment it ends: the policies' 30 min, 1 h, 10 min, midnight KST."""
    pool = make_pool(clock)
    key = pool.keys[0]
    put(pool, key, clock.now(), situation)
    expected = None if until is None else clock.now() + until
    assert pool.availability(key, OP, clock.now()).until == expected


# --- selection ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "usages, chosen",
    [
        pytest.param([{}, {}, {}], 0, id="tie-lowest-index"),
        pytest.param([{OP: 5}, {OP: 2}, {OP: 7}], 1, id="most-quota-left"),
        pytest.param([{OP: 5}, {OP: 2}, {OP: 2}], 1, id="tie-after-usage-lowest-index"),
        pytest.param([{OP: 1, OTHER: 0}, {OP: 0, OTHER: 900}], 1, id="only-this-operation-counts"),
        pytest.param([{OTHER: 900}, {OP: 1}], 0, id="other-operation-ignored"),
    ],
)
def test_selection_picks_most_quota_left_for_the_operation(clock, usages, chosen):
    """The key with the most quota left for this operation wins; ties go to the lowest index."""
    pool = with_usage(clock, usages)
    assert lease_of(pool, clock).key.index == chosen


def test_selection_spreads_calls_over_keys_by_quota_left(clock):
    """Recording calls keeps the pool balanced: each key is chosen in turn."""
    pool = make_pool(clock, count=3)
    chosen = [call(pool, clock, SUCCESS).key.index for _ in range(6)]
    assert chosen == [0, 1, 2, 0, 1, 2]


def test_unproven_key_carries_one_request_at_a_time(clock):
    """Before its first success a key takes one call; the next caller waits."""
    pool = make_pool(clock)
    key = pool.keys[0]
    first = lease_of(pool, clock)
    assert pool.acquire(OP, clock.now()) == Wait(None)
    assert pool.used(key, OP) == 1
    pool.record_outcome(first, SUCCESS, clock.now())
    assert pool.is_proven(key, OP)
    leases = [pool.acquire(OP, clock.now()) for _ in range(8)]
    assert all(isinstance(lease, Lease) and lease.key == key for lease in leases)
    assert pool.in_flight(key) == 8


def test_unproven_keys_each_take_one_call_then_callers_wait(clock):
    """Under concurrency, each unproven key gets one call: a dead key costs one call."""
    pool = make_pool(clock, count=3)
    handed = [pool.acquire(OP, clock.now()) for _ in range(5)]
    assert [lease.key.index for lease in handed[:3] if isinstance(lease, Lease)] == [0, 1, 2]
    assert handed[3:] == [Wait(None), Wait(None)]


def test_proof_is_per_operation(clock):
    """A key proven for one operation still carries one call at a time for another."""
    pool = make_pool(clock)
    call(pool, clock, SUCCESS, OP)
    lease_of(pool, clock, OTHER)
    assert pool.acquire(OTHER, clock.now()) == Wait(None)
    assert isinstance(pool.acquire(OP, clock.now()), Lease)


def test_proven_key_takes_calls_while_an_unproven_one_is_busy(clock):
    """Callers go to a proven key while an unproven key's single call is under way."""
    pool = make_pool(clock, count=2)
    first, second = pool.keys
    assert call(pool, clock, SUCCESS).key == first
    assert lease_of(pool, clock).key == second
    assert [lease_of(pool, clock).key for _ in range(3)] == [first] * 3
    assert (pool.in_flight(first), pool.in_flight(second)) == (3, 1)


def test_a_failure_unproves_the_key(clock):
    """After a transient failure the key is back to one call at a time."""
    pool = make_pool(clock)
    call(pool, clock, SUCCESS)
    call(pool, clock, FAULT)
    lease_of(pool, clock)
    assert pool.acquire(OP, clock.now()) == Wait(None)


# --- no usable key -----------------------------------------------------------------------------
def test_exhausted_names_the_soonest_usable_key_and_time(clock):
    """With every key limited, Exhausted names the key that is usable first, and when."""
    pool = make_pool(clock, count=3, daily_limit=3)
    first, second, third = pool.keys
    call(pool, clock, coded("22"))  # #0 cools until +60 min
    clock.advance(20 * 60)
    call(pool, clock, coded("22"))  # #1 cools until +80 min
    for _ in range(3):
        call(pool, clock, SUCCESS)  # #2 spends its quota until midnight
    exhausted = pool.acquire(OP, clock.now())
    assert isinstance(exhausted, Exhausted)
    assert exhausted.key == first
    assert exhausted.until == datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    assert exhausted.operation == OP
    assert pool.state(second).cooldowns[OP] > exhausted.until
    assert pool.availability(third, OP, clock.now()).reason is Reason.QUOTA_SPENT


def test_exhausted_without_a_time_when_every_key_is_disabled_by_hand(clock):
    """Keys taken out by hand have no time of return: Exhausted says so with None."""
    pool = make_pool(clock, count=2)
    for key in pool.keys:
        pool.deactivate_by_hand(key, "off", clock.now())
    assert pool.acquire(OP, clock.now()) == Exhausted(OP, None, None, None)


# --- by hand -----------------------------------------------------------------------------------
def test_disable_by_hand_takes_the_key_out_until_enabled(clock):
    """`disable N` keeps the key out, with its reason; `enable N` brings it back clean."""
    pool = make_pool(clock, count=2)
    first, second = pool.keys
    pool.deactivate_by_hand(first, "shared with another team", clock.now())
    state = pool.state(first)
    assert state.is_deactivated
    assert state.deactivation_reason == "shared with another team"
    assert pool.availability(first, OP, clock.now()).reason is Reason.DISABLED
    assert [call(pool, clock, SUCCESS).key for _ in range(3)] == [second] * 3
    pool.enable_by_hand(first)
    assert not pool.state(first).is_deactivated
    assert pool.state(first).deactivation_reason is None
    assert lease_of(pool, clock).key == first


def test_enable_by_hand_brings_back_a_key_the_policy_took_out(clock):
    """`enable N` also reactivates a key deactivated for a code, and clears its errors."""
    pool = make_pool(clock)
    key = pool.keys[0]
    call(pool, clock, coded("31"))
    pool.enable_by_hand(key)
    state = pool.state(key)
    assert not state.is_deactivated
    assert (state.deactivation_code, state.consecutive_errors) == (None, 0)
    assert state.deactivation_cause is None
    assert lease_of(pool, clock).key == key


# --- outage ------------------------------------------------------------------------------------
@pytest.mark.parametrize("count", [pytest.param(2, id="2-keys"), pytest.param(4, id="4-keys")])
def test_outage_lifts_error_waits_and_stops_deactivation(clock, count):
    """When every working key failed since the last success, it is the gateway, not the keys."""
    pool = make_pool(clock, count=count)
    events = []
    for _ in range(count):
        events += pool.record_outcome(lease_of(pool, clock), FAULT, clock.now())
    assert pool.outage_since == clock.now()
    assert EventKind.OUTAGE in [event.kind for event in events]
    assert all(pool.state(key).error_wait_until is None for key in pool.keys)
    for _ in range(10 * count):
        call(pool, clock, FAULT)
    assert not any(pool.state(key).is_deactivated for key in pool.keys)
    assert all(pool.state(key).consecutive_errors < 5 for key in pool.keys)
    assert sum(pool.state(key).total_errors for key in pool.keys) == 11 * count
    call(pool, clock, SUCCESS)
    assert pool.outage_since is None


def test_one_key_failing_alone_is_not_an_outage(clock):
    """With another key still succeeding, a failing key waits and is not excused."""
    pool = with_usage(clock, [{}, {OP: 100}])
    first, second = pool.keys
    assert call(pool, clock, FAULT).key == first
    assert call(pool, clock, SUCCESS).key == second
    assert pool.outage_since is None
    assert pool.state(first).error_wait_until is not None


def test_a_single_key_pool_never_declares_an_outage_nor_blames_its_key(clock):
    """An outage needs two working keys; one key alone failing could be the gateway's fault, so
    it is never taken out for transient errors, however many."""
    pool = make_pool(clock, count=2)
    pool.deactivate_by_hand(pool.keys[1], "off", clock.now())
    for _ in range(50):
        call(pool, clock, FAULT)
    assert pool.outage_since is None
    assert not pool.state(pool.keys[0]).is_deactivated
    assert pool.state(pool.keys[0]).consecutive_errors == 50


def test_bare_refusals_on_every_key_point_at_the_host(clock):
    """A 401/403 without a code on every key means the host or User-Agent, not the keys."""
    pool = make_pool(clock, count=2)
    call(pool, clock, BARE_403)
    assert not pool.uncoded_auth_everywhere()
    call(pool, clock, BARE_403)
    assert pool.uncoded_auth_everywhere()
    assert not any(pool.state(key).is_deactivated for key in pool.keys)
    call(pool, clock, SUCCESS)
    assert not pool.uncoded_auth_everywhere()


def test_bare_refusals_of_one_key_wait_but_never_count_toward_its_deactivation(clock):
    """Ten 401/403s without a code on one key while another succeeds: each is an error with the
    10 min wait, none counts toward the 5 in a row that take a key out."""
    pool = make_pool(clock, count=2)
    first, second = pool.keys
    for _ in range(10):
        events = call_with(pool, clock, first, BARE_403)
        call_with(pool, clock, second, SUCCESS)
        assert [event.kind for event in events] == [EventKind.FAILURE]
    state = pool.state(first)
    assert not state.is_deactivated
    assert (state.consecutive_errors, state.total_errors) == (0, 10)
    assert state.error_wait_until == clock.now() + pool.policy.error_wait
    assert pool.availability(first, OP, clock.now()).reason is Reason.ERROR_WAIT
    for _ in range(5):  # coded faults still count, with the evidence rule as before
        call_with(pool, clock, first, FAULT)
        call_with(pool, clock, second, SUCCESS)
    assert pool.state(first).deactivation_cause is DeactivationCause.TOO_MANY_ERRORS


WRONG_URL = Outcome(OutcomeKind.WRONG_URL, http_status=500, message="Unexpected errors")


def test_a_wrong_url_answer_goes_to_each_key_once_and_then_to_none(clock):
    """Each key that may take the operation gets one wrong-URL answer, then none is handed out
    and the pool says it came from every key; a key paused for seconds still gets its turn.
    No key is blamed, and other operations take every key."""
    pool = make_pool(clock, count=3)
    call(pool, clock, SUCCESS)
    pool.record_outcome(pool.lease_key(pool.keys[2], OP, clock.now()), coded("23"), clock.now())
    answered = [call(pool, clock, WRONG_URL).key.index for _ in range(2)]
    assert sorted(answered) == [0, 1] and not pool.wrong_url_everywhere(OP, clock.now())
    assert pool.acquire(OP, clock.now()) == Wait(clock.now() + timedelta(seconds=5))
    clock.advance(5)
    assert call(pool, clock, WRONG_URL).key.index == 2
    assert pool.wrong_url_everywhere(OP, clock.now())
    assert isinstance(pool.acquire(OP, clock.now()), Exhausted)
    assert pool.availability(pool.keys[0], OP, clock.now()).reason is Reason.WRONG_URL
    assert pool.availability(pool.keys[0], OTHER, clock.now()).is_ready
    for key in pool.keys:
        state = pool.state(key)
        assert (state.total_errors, state.consecutive_errors, state.is_deactivated) == (0, 0, False)


def test_a_success_gives_keys_that_got_a_wrong_url_answer_their_turn_again(clock):
    """A wrong-URL answer, then the operation answers on another key: every key takes it again."""
    pool = make_pool(clock, count=2)
    first, second = pool.keys
    call_with(pool, clock, first, WRONG_URL)
    assert call(pool, clock, SUCCESS).key == second
    assert not pool.wrong_url_everywhere(OP, clock.now())
    assert pool.availability(first, OP, clock.now()).is_ready


# --- what must be saved at once ----------------------------------------------------------------
@pytest.mark.parametrize(
    "outcome, kinds",
    [
        pytest.param(SUCCESS, [EventKind.SUCCESS], id="success-is-usage-only"),
        pytest.param(coded("10"), [EventKind.REQUEST_ERROR], id="request-error-is-usage-only"),
        pytest.param(FAULT, [EventKind.FAILURE], id="one-failure-is-not-durable"),
        pytest.param(coded("23"), [EventKind.RATE_LIMITED], id="per-second-pause-is-not"),
        pytest.param(coded("22"), [EventKind.DAILY_LIMIT], id="cool-down-is-durable"),
        pytest.param(coded("31"), [EventKind.DEACTIVATED], id="deactivation-is-durable"),
    ],
)
def test_changes_of_a_keys_fate_are_durable_and_usage_is_not(clock, outcome, kinds):
    """Cool-downs and deactivations ask for an immediate save; usage and brief waits do not."""
    pool = make_pool(clock, daily_limit=5)
    events = pool.record_outcome(lease_of(pool, clock), outcome, clock.now())
    assert [event.kind for event in events] == kinds
    durable = {EventKind.DAILY_LIMIT, EventKind.DEACTIVATED}
    assert [event.is_durable for event in events] == [kind in durable for kind in kinds]


def test_the_last_call_of_the_quota_is_not_durable(clock):
    """Spending the quota is usage: the next periodic save carries it."""
    pool = make_pool(clock, daily_limit=1)
    [event] = pool.record_outcome(lease_of(pool, clock), SUCCESS, clock.now())
    assert (event.kind, event.is_durable) == (EventKind.QUOTA_SPENT, False)


@pytest.mark.parametrize(
    "outcome, kind",
    [
        pytest.param(SUCCESS, EventKind.RECOVERED, id="recovered"),
        pytest.param(coded("31"), EventKind.PROBE_FAILED, id="probe-failed"),
    ],
)
def test_a_probe_result_is_durable(clock, outcome, kind):
    """A key coming back, or staying out with a fresh time, is saved at once."""
    pool = make_pool(clock)
    key = pool.keys[0]
    call(pool, clock, coded("30"))
    events = pool.record_outcome(pool.begin_probe(key, OP, clock.now()), outcome, clock.now())
    assert [(event.kind, event.is_durable) for event in events] == [(kind, True)]


def test_an_outage_begun_and_over_are_durable(clock):
    """The outage lifts every error wait when it begins, and its end is news too."""
    pool = make_pool(clock, count=2)
    call(pool, clock, FAULT)
    events = pool.record_outcome(lease_of(pool, clock), FAULT, clock.now())
    assert [(event.kind, event.is_durable) for event in events] == [
        (EventKind.FAILURE, False),
        (EventKind.OUTAGE, True),
    ]
    events = pool.record_outcome(lease_of(pool, clock), SUCCESS, clock.now())
    assert [(event.kind, event.is_durable) for event in events] == [
        (EventKind.SUCCESS, False),
        (EventKind.OUTAGE_OVER, True),
    ]
    assert pool.outage_since is None


def test_disable_and_enable_by_hand_change_the_key_and_nothing_else(clock):
    """By hand is plain: the state changes, the caller saves."""
    pool = make_pool(clock, count=2)
    first, _ = pool.keys
    before = {key.fingerprint: dataclasses.replace(pool.state(key)) for key in pool.keys[1:]}
    assert pool.deactivate_by_hand(first, "testing", clock.now()) is None
    assert pool.enable_by_hand(first) is None
    assert {key.fingerprint: pool.state(key) for key in pool.keys[1:]} == before
    assert pool.state(first) == KeyState(first.fingerprint, clock.now(), usage_day=START_DAY)


@pytest.mark.parametrize(
    "limited",
    [
        pytest.param({"usage": {OP: 1000}}, id="quota-spent"),
        pytest.param({"cooldown": True}, id="cooling-after-22"),
    ],
)
def test_outage_is_judged_on_the_keys_usable_for_the_operation(clock, limited):
    """A key that cannot take this operation today does not stop an outage from being seen."""
    keys = make_keys(3)
    today = clock.now().astimezone(KST).date()
    spare = KeyState(keys[2].fingerprint, clock.now(), usage_day=today)
    spare.usage = dict(limited.get("usage", {}))
    if limited.get("cooldown"):
        spare.cooldowns[OP] = clock.now() + timedelta(hours=1)
    pool = KeyPool(keys, make_policy(), clock.now(), {keys[2].fingerprint: spare})
    for _ in range(2):
        call(pool, clock, FAULT)
    assert pool.outage_since == clock.now()
    for _ in range(20):
        call(pool, clock, FAULT)
    assert not any(pool.state(key).is_deactivated for key in keys)


# --- verdicts that hold under real faults -------------------------------------------------------
def run_with_noise(pool: KeyPool, clock: FakeClock, calls: int, fails: Any) -> None:
    """`calls` calls through the pool's own choice of key; `fails(n, key)` says which fail."""
    for number in range(calls):
        clock.advance(1)
        lease = lease_of(pool, clock)
        outcome = FAULT if fails(number, lease.key) else SUCCESS
        pool.record_outcome(lease, outcome, clock.now())


@pytest.mark.parametrize(
    "fails",
    [
        pytest.param(lambda rng: lambda n, key: rng.random() < 0.3, id="30-percent-random"),
        pytest.param(lambda rng: lambda n, key: n % 3 == 2, id="every-third-call"),
        pytest.param(lambda rng: lambda n, key: rng.random() < 0.5, id="50-percent-random"),
    ],
)
def test_a_gateway_error_rate_never_deactivates_a_key(clock, fails):
    """3 keys, 2,000 calls, the gateway failing a share of all calls: no key is blamed."""
    import random

    pool = make_pool(clock, count=3)
    run_with_noise(pool, clock, 2000, fails(random.Random(20261202)))
    assert [pool.state(key).is_deactivated for key in pool.keys] == [False, False, False]


def test_a_key_failing_every_call_while_others_succeed_is_taken_out_despite_noise(clock):
    """Among keys that see 30 % gateway errors, a key that fails every call is still taken out."""
    import random

    rng = random.Random(7)
    pool = make_pool(clock, count=3)
    dead = pool.keys[0]
    run_with_noise(pool, clock, 600, lambda n, key: key == dead or rng.random() < 0.3)
    state = pool.state(dead)
    assert state.deactivation_cause is DeactivationCause.TOO_MANY_ERRORS
    # Under noise the evidence takes a longer run than 5 (about 18 at 30 %, more while every key
    # waits after errors and the others' rate looks worse); then the key makes no more calls.
    assert 18 <= state.total_errors <= 40
    assert [pool.state(key).is_deactivated for key in pool.keys[1:]] == [False, False]


def test_without_noise_a_failing_key_goes_after_five_as_the_policy_says(clock):
    """When the other keys never fail, the policy's 5 in a row holds exactly."""
    pool = make_pool(clock, count=2)
    dead = pool.keys[0]
    for number in range(1, 6):
        others_succeed(pool, clock, dead, times=3)
        call_with(pool, clock, dead, FAULT)
        assert pool.state(dead).is_deactivated is (number == 5)


def test_requests_that_never_left_count_nothing_and_blame_nobody(clock):
    """No DNS answer or a refused connection: usage, totals and errors stay as they were."""
    pool = make_pool(clock, count=1)
    key = pool.keys[0]
    for _ in range(10):
        events = pool.record_outcome(
            lease_of(pool, clock), Outcome(OutcomeKind.UNSENT, message="refused"), clock.now()
        )
        assert events == []
    state = pool.state(key)
    assert (state.usage.get(OP, 0), state.total_calls, state.total_errors) == (0, 0, 0)
    assert state.consecutive_errors == 0 and not state.is_deactivated
    assert pool.in_flight(key) == 0


def test_per_second_refusals_pause_a_key_longer_each_time(clock):
    """Code 23 again and again: 5 s, 15 s, 45 s, 90 s, then 120 s at most; a success resets it."""
    pool = make_pool(clock, count=1)
    key = pool.keys[0]
    pauses = []
    for _ in range(6):
        call_with(pool, clock, key, coded("23"))
        pauses.append((pool.state(key).pause_until - clock.now()).total_seconds())
    assert pauses == [5, 15, 45, 90, 120, 120]
    call_with(pool, clock, key, SUCCESS)
    call_with(pool, clock, key, coded("23"))
    assert pool.state(key).pause_until == clock.now() + timedelta(seconds=5)


AMBIGUOUS_429S = [
    pytest.param(Outcome(OutcomeKind.RATE_LIMIT, http_status=429), id="bare-429"),
    pytest.param(
        Outcome(OutcomeKind.RATE_LIMIT, http_status=429, message="Too Many Requests"),
        id="text-429",
    ),
    pytest.param(
        Outcome(OutcomeKind.RATE_LIMIT, "24", "SOME_LIMIT_ERROR", http_status=429),
        id="429-unknown-code",
    ),
]


@pytest.mark.parametrize("ambiguous", AMBIGUOUS_429S)
def test_429s_without_a_known_code_pause_like_23_and_outlast_the_lock_to_be_the_days_limit(
    clock, ambiguous
):
    """Each pauses the key 5, 15, 45 s as code 23 does; the 4th in a row, 65 s after the first
    (past the gateway's 60 s lock), is the day's limit: the key cools for that operation only."""
    pool = make_pool(clock, count=1)
    key = pool.keys[0]
    kinds, pauses = [], []
    for _ in range(4):
        kinds.append(call_with(pool, clock, key, ambiguous)[0].kind)
        until = pool.state(key).pause_until
        pauses.append((until - clock.now()).total_seconds())
        clock.set(max(clock.now(), until))
    assert kinds == [EventKind.RATE_LIMITED] * 3 + [EventKind.DAILY_LIMIT]
    assert pauses[:3] == [5, 15, 45]
    availability = pool.availability(key, OP, clock.now())
    assert availability.reason is Reason.COOLING
    assert availability.until == clock.now() + timedelta(hours=1)
    assert clock.now() - START == timedelta(seconds=65)
    assert pool.availability(key, OTHER, clock.now()).is_ready
    state = pool.state(key)
    assert (state.consecutive_errors, state.total_errors, state.is_deactivated) == (0, 0, False)


@pytest.mark.parametrize("ambiguous", AMBIGUOUS_429S)
def test_429s_without_a_known_code_within_the_lock_never_cost_the_day(clock, ambiguous):
    """Eight at once (calls in flight when the lock began), then more within 60 s: only pauses,
    growing to 120 s, never the day's limit."""
    pool = make_pool(clock, count=1)
    key = pool.keys[0]
    leases = [pool.lease_key(key, OP, clock.now()) for _ in range(8)]
    kinds = [pool.record_outcome(lease, ambiguous, clock.now())[0].kind for lease in leases]
    clock.advance(59)
    kinds += [call_with(pool, clock, key, ambiguous)[0].kind]
    assert kinds == [EventKind.RATE_LIMITED] * 9
    assert pool.state(key).pause_until == clock.now() + timedelta(seconds=120)
    assert pool.availability(key, OP, clock.now()).reason is Reason.PAUSED


def test_a_success_between_bare_429s_starts_the_count_again(clock):
    """429, 429, success, 429, 429: still only pauses, never the day's limit."""
    pool = make_pool(clock, count=1)
    key = pool.keys[0]
    bare = Outcome(OutcomeKind.RATE_LIMIT, http_status=429)
    for outcome in (bare, bare, SUCCESS, bare, bare):
        call_with(pool, clock, key, outcome)
    assert pool.availability(key, OP, clock.now()).reason is not Reason.COOLING


def test_usage_is_reserved_in_blocks_before_calls_leave_and_given_back_at_the_end(clock):
    """The first call of a block asks for a save first; the cache counts the block meanwhile."""
    pool = make_pool(clock, count=1)
    key = pool.keys[0]
    flags = []
    for _ in range(11):
        lease = lease_of(pool, clock)
        flags.append(lease.reserved)
        pool.record_outcome(lease, SUCCESS, clock.now())
    assert flags == [True, False, False, False, False] * 2 + [True]
    state = pool.state(key)
    assert (state.usage[OP], state.reserved[OP]) == (11, 15)
    pool.release_reservations()
    assert state.reserved == {} and state.usage[OP] == 11


def test_a_resent_request_is_counted_as_a_call(clock):
    """When the HTTP library sends a request twice, the key's usage counts both."""
    pool = make_pool(clock, count=1)
    lease = lease_of(pool, clock)
    pool.count_resent(lease, 1)
    assert pool.state(lease.key).usage[OP] == 2


def test_a_block_reserved_for_one_expected_operation_covers_the_others(clock):
    """With the run's operations known, the first lease of a key reserves a block for each: its
    later calls of any of them need no save first; without, each operation reserves its own."""
    pool = make_pool(clock, count=1)
    pool.expect([OP, OTHER])
    assert call(pool, clock, SUCCESS, OP).reserved
    later = [call(pool, clock, SUCCESS, operation) for operation in (OTHER, OP, OTHER)]
    assert [lease.reserved for lease in later] == [False, False, False]
    plain = make_pool(clock, count=1)
    assert call(plain, clock, SUCCESS, OP).reserved and call(plain, clock, SUCCESS, OTHER).reserved
