"""Pool health: working keys over all keys, the level and exit code, and keys needing attention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from conftest import base64_key, hex_key, make_policy

from kto_keys.cli.exits import HEALTH_EXIT_CODES
from kto_keys.core.answers import Outcome
from kto_keys.core.clock import KST, FakeClock
from kto_keys.core.codes import OutcomeKind, lookup
from kto_keys.core.health import Attention, HealthLevel, assess, level_for
from kto_keys.core.keys import ServiceKey
from kto_keys.core.operations import Operation
from kto_keys.core.pool import DeactivationCause, KeyPool, KeyState, Lease, Reason

OP = Operation.LIST
SUCCESS = Outcome(OutcomeKind.SUCCESS, "0000")
FAULT = Outcome(OutcomeKind.TRANSIENT, "05", "SERVICETIMEOUT_ERROR", "service timed out")


def coded(code: str, symbol: str = "") -> Outcome:
    """The outcome of an answer that carried a gateway code."""
    row = lookup(code, symbol)
    assert row is not None
    return Outcome(row.kind, row.code, row.symbol, row.symbol)


def make_pool(clock: FakeClock, count: int, **policy: object) -> KeyPool:
    """A pool of fresh fake keys of both formats."""
    keys = [
        ServiceKey.from_raw(hex_key() if i % 2 else base64_key(), i, "environment")
        for i in range(count)
    ]
    return KeyPool(keys, make_policy(**policy), clock.now())


def answer_with(pool: KeyPool, key: ServiceKey, outcome: Outcome, now: datetime) -> None:
    """Make one call with a given key (as a probe would) and record its answer."""
    state = pool.state(key)
    assert not state.is_deactivated
    pool.record_outcome(Lease(key, OP), outcome, now)


def deactivate(pool: KeyPool, count: int, now: datetime) -> None:
    """Take the first `count` keys out with an expired-key answer."""
    for key in pool.keys[:count]:
        answer_with(pool, key, coded("31"), now)


@pytest.mark.parametrize(
    "working, total, level",
    [
        pytest.param(0, 0, HealthLevel.UNKNOWN, id="no-keys-unknown"),
        pytest.param(1, 1, HealthLevel.HEALTHY, id="1-of-1"),
        pytest.param(4, 5, HealthLevel.HEALTHY, id="80pct-healthy"),
        pytest.param(8, 10, HealthLevel.HEALTHY, id="8-of-10-healthy"),
        pytest.param(79, 100, HealthLevel.WARNING, id="79pct-warning"),
        pytest.param(3, 5, HealthLevel.WARNING, id="60pct-warning"),
        pytest.param(1, 2, HealthLevel.WARNING, id="50pct-warning"),
        pytest.param(49, 100, HealthLevel.DANGER, id="49pct-danger"),
        pytest.param(1, 3, HealthLevel.DANGER, id="33pct-danger"),
        pytest.param(1, 100, HealthLevel.DANGER, id="1pct-danger"),
        pytest.param(0, 5, HealthLevel.CRITICAL, id="none-critical"),
    ],
)
def test_level_boundaries(working, total, level):
    """≥ 80 % healthy, 50–80 % warning, < 50 % danger, none critical, no keys unknown."""
    assert level_for(working, total) is level


@pytest.mark.parametrize(
    "level, code",
    [
        pytest.param(HealthLevel.HEALTHY, 0, id="healthy-0"),
        pytest.param(HealthLevel.WARNING, 1, id="warning-1"),
        pytest.param(HealthLevel.DANGER, 2, id="danger-2"),
        pytest.param(HealthLevel.CRITICAL, 2, id="critical-2"),
        pytest.param(HealthLevel.UNKNOWN, 3, id="unknown-3"),
    ],
)
def test_exit_code_per_level(level, code):
    """`health` exits 0 healthy, 1 warning, 2 danger or critical, 3 unknown."""
    assert HEALTH_EXIT_CODES[level] == code


@pytest.mark.parametrize(
    "total, out, score, level, exit_code",
    [
        pytest.param(5, 0, 100.0, HealthLevel.HEALTHY, 0, id="all-working"),
        pytest.param(5, 1, 80.0, HealthLevel.HEALTHY, 0, id="4-of-5"),
        pytest.param(5, 2, 60.0, HealthLevel.WARNING, 1, id="3-of-5"),
        pytest.param(4, 2, 50.0, HealthLevel.WARNING, 1, id="2-of-4"),
        pytest.param(5, 3, 40.0, HealthLevel.DANGER, 2, id="2-of-5"),
        pytest.param(3, 3, 0.0, HealthLevel.CRITICAL, 2, id="none"),
    ],
)
def test_assess_scores_the_working_keys(clock, total, out, score, level, exit_code):
    """The score is working keys ÷ all keys × 100, with the matching level and exit code."""
    pool = make_pool(clock, total)
    deactivate(pool, out, clock.now())
    health = assess(pool, clock.now())
    assert (health.working, health.total) == (total - out, total)
    assert health.score == pytest.approx(score)
    assert health.level is level
    assert HEALTH_EXIT_CODES[health.level] == exit_code


def test_no_keys_is_unknown_with_exit_3(clock):
    """A pool without keys cannot be judged: unknown, exit 3."""
    health = assess(make_pool(clock, 0), clock.now())
    assert (health.level, HEALTH_EXIT_CODES[health.level], health.total) == (
        HealthLevel.UNKNOWN,
        3,
        0,
    )


def test_lost_cache_state_is_unknown_with_exit_3(clock):
    """When the cache was unreadable and its state lost, health is unknown."""
    health = assess(make_pool(clock, 3), clock.now(), cache_lost=True)
    assert (health.level, HEALTH_EXIT_CODES[health.level]) == (HealthLevel.UNKNOWN, 3)


def test_one_gateway_fault_does_not_lower_health(clock):
    """A key waiting after one transient error still works: health stays green, nobody to call."""
    pool = make_pool(clock, 2, error_wait=timedelta(minutes=10))
    answer_with(pool, pool.keys[0], FAULT, clock.now())
    assert pool.state(pool.keys[0]).error_wait_until == clock.now() + timedelta(minutes=10)
    health = assess(pool, clock.now())
    assert (health.working, health.level, health.attention) == (2, HealthLevel.HEALTHY, ())


def test_spent_quota_and_cool_downs_do_not_lower_health(clock):
    """A key spent for today or cooling after code 22 still works, and is reported beside it."""
    spent, cooling, paused = (ServiceKey.from_raw(hex_key(), i, "environment") for i in range(3))
    today = clock.now().astimezone(KST).date()
    used_up = KeyState(spent.fingerprint, clock.now(), usage_day=today, usage={OP: 2})
    pool = KeyPool(
        [spent, cooling, paused],
        make_policy(daily_limit=2),
        clock.now(),
        {spent.fingerprint: used_up},
    )
    assert pool.quota_left(spent, OP) == 0
    answer_with(pool, cooling, coded("22"), clock.now())
    answer_with(pool, paused, coded("23"), clock.now())
    health = assess(pool, clock.now())
    assert (health.score, health.level, HEALTH_EXIT_CODES[health.level]) == (
        100.0,
        HealthLevel.HEALTHY,
        0,
    )
    assert health.attention == ()
    limits = {(limit.key, limit.operation, limit.reason): limit.until for limit in health.limits}
    assert limits == {
        (spent, OP, Reason.QUOTA_SPENT): datetime(2026, 11, 25, 0, 0, tzinfo=KST),
        (cooling, OP, Reason.COOLING): clock.now() + timedelta(hours=1),
    }


def test_a_night_that_spent_every_quota_looks_healthy_next_morning(clock):
    """Quota spent before midnight KST leaves no limit notes the next morning, and no alarm."""
    clock.set(datetime(2026, 11, 24, 14, 0, tzinfo=UTC))  # 23:00 KST
    keys = [ServiceKey.from_raw(hex_key(), i, "environment") for i in range(2)]
    today = clock.now().astimezone(KST).date()
    states = {
        key.fingerprint: KeyState(key.fingerprint, clock.now(), usage_day=today, usage={OP: 1000})
        for key in keys
    }
    pool = KeyPool(keys, make_policy(), clock.now(), states)
    night = assess(pool, clock.now())
    assert night.level is HealthLevel.HEALTHY
    assert len(night.limits) == 2
    clock.set(datetime(2026, 11, 24, 23, 0, tzinfo=UTC))  # 08:00 KST next day
    morning = assess(pool, clock.now())
    assert (morning.level, morning.limits) == (HealthLevel.HEALTHY, ())


@pytest.mark.parametrize(
    "code, symbol, age, attention",
    [
        pytest.param("31", "", timedelta(days=90), Attention.EXPIRED, id="31-expired"),
        pytest.param(
            "20",
            "SERVICE_ACCESS_DENIED_ERROR",
            timedelta(days=90),
            Attention.NOT_APPROVED,
            id="20-not-approved",
        ),
        pytest.param("30", "", timedelta(minutes=5), Attention.NOT_ACTIVATED_YET, id="30-new-key"),
        pytest.param("30", "", timedelta(days=90), Attention.NOT_REGISTERED, id="30-old-key"),
        pytest.param(
            "21", "", timedelta(days=90), Attention.TEMPORARILY_DISABLED, id="21-disabled"
        ),
        pytest.param("32", "", timedelta(days=90), Attention.IP_RESTRICTED, id="32-ip"),
    ],
)
def test_deactivated_key_needs_attention_with_its_reason(clock, code, symbol, age, attention):
    """Each deactivation code gives its own reason and the time of the recovery probe."""
    key = ServiceKey.from_raw(base64_key(), 0, "environment")
    state = KeyState(key.fingerprint, first_seen=clock.now() - age)
    other = ServiceKey.from_raw(hex_key(), 1, "environment")
    pool = KeyPool([key, other], make_policy(), clock.now(), {key.fingerprint: state})
    answer_with(pool, key, coded(code, symbol), clock.now())
    health = assess(pool, clock.now())
    [note] = health.attention
    assert note.key == key
    assert note.attention is attention
    assert note.error is not None and note.error.code == code
    # An expired key is probed again only once its expiry date changes: no time is given.
    probe_at = None if attention is Attention.EXPIRED else clock.now() + timedelta(minutes=30)
    assert note.until == probe_at
    assert key.reveal()[:11] not in repr(note)


def test_key_out_for_too_many_errors_needs_attention(clock):
    """Five consecutive errors, while another key works, give the 'too many errors' reason."""
    pool = make_pool(clock, 2)
    for _ in range(5):
        answer_with(pool, pool.keys[1], SUCCESS, clock.now())
    for _ in range(5):
        answer_with(pool, pool.keys[0], FAULT, clock.now())
    [note] = assess(pool, clock.now()).attention
    assert note.attention is Attention.TOO_MANY_ERRORS
    assert note.consecutive_errors == 5
    assert note.error is not None and note.error.code == "05"


def test_key_disabled_by_hand_needs_attention_with_its_reason(clock):
    """A key taken out by hand is listed with the reason given."""
    pool = make_pool(clock, 2)
    pool.deactivate_by_hand(pool.keys[1], "kept for the other team", clock.now())
    health = assess(pool, clock.now())
    [note] = health.attention
    assert (note.key, note.attention) == (pool.keys[1], Attention.DISABLED_BY_HAND)
    assert note.reason == "kept for the other team"
    assert note.until is None
    assert (health.working, health.level) == (1, HealthLevel.WARNING)


def test_working_keys_need_no_attention(clock):
    """A pool of keys that answer well lists nothing."""
    pool = make_pool(clock, 3)
    for key in pool.keys:
        answer_with(pool, key, SUCCESS, clock.now())
    health = assess(pool, clock.now())
    assert (health.attention, health.limits, health.level) == ((), (), HealthLevel.HEALTHY)


@pytest.mark.parametrize(
    "cause", [pytest.param(cause, id=str(cause)) for cause in DeactivationCause]
)
def test_every_cause_of_deactivation_has_its_attention(clock, cause):
    """Health maps the pool's typed cause straight to the reason a person sees, for every cause."""
    pool = make_pool(clock, 2)
    key = pool.keys[0]
    pool.state(key).deactivated_at = clock.now()
    pool.state(key).deactivation_cause = cause
    [note] = assess(pool, clock.now()).attention
    assert (note.key, str(note.attention)) == (key, str(cause))


def test_a_key_out_by_hand_after_a_deactivation_is_listed_as_out_by_hand(clock):
    """`disable N` on a key the pool already took out shows the person's words, not the code."""
    pool = make_pool(clock, 2)
    key = pool.keys[0]
    answer_with(pool, key, coded("31"), clock.now())
    pool.deactivate_by_hand(key, "retired", clock.now())
    [note] = assess(pool, clock.now()).attention
    assert (note.attention, note.reason, note.until) == (
        Attention.DISABLED_BY_HAND,
        "retired",
        None,
    )
