"""The shared pool's pure rules: what one call's outcome sends to the server, what a refusal does
to this process's view, and URLs shown with their password masked."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import START, hex_key, make_policy

from kto_keys.core.answers import Outcome
from kto_keys.core.codes import OutcomeKind
from kto_keys.core.keys import ServiceKey
from kto_keys.core.pool import KeyPool, Lease, Reason
from kto_keys.core.shared import (
    Fate,
    Grant,
    Refusal,
    Refused,
    apply_refusal,
    mask_url,
    record_facts,
)

OP = "detailIntro2"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        pytest.param("redis://:s3cret@host:6379/0", "redis://:***@host:6379/0", id="password"),
        pytest.param("rediss://kto:s3cret@host/1", "rediss://kto:***@host/1", id="user"),
        pytest.param("redis://host:6379/0", "redis://host:6379/0", id="none"),
        pytest.param("unix:///run/redis.sock", "unix:///run/redis.sock", id="socket"),
        pytest.param(
            "redis://:a@host/0?password=s3cret&x=1",
            "redis://:***@host/0?password=***&x=1",
            id="query",
        ),
        pytest.param(
            "unix:///run/r.sock?db=1&PASSWORD=s3cret",
            "unix:///run/r.sock?db=1&PASSWORD=***",
            id="q2",
        ),
    ],
)
def test_a_url_is_shown_with_its_password_masked(url: str, shown: str) -> None:
    """Whatever a message shows of KTO_STATE_URL, the password is never in it."""
    assert mask_url(url) == shown


def _one_call(outcome: Outcome) -> dict[str, object]:
    key = ServiceKey.from_raw(hex_key(), 0, "test")
    pool = KeyPool([key], make_policy(), START)
    lease = pool.acquire(OP, START)
    assert isinstance(lease, Lease)
    grant = Grant("lease-1", key.fingerprint, OP, False, 20416, 1, START + timedelta(minutes=2))
    before = Fate.of(pool.peek(key))
    events = pool.record_outcome(lease, outcome, START)
    return record_facts(grant, before, pool.peek(key), outcome, events, START)


def test_a_success_proves_the_key_and_clears_its_errors() -> None:
    """A success: proven for the operation, errors in a row back to 0."""
    facts = _one_call(Outcome(OutcomeKind.SUCCESS, "0000"))
    assert (facts["success"], facts["proven"], facts["errors"]) == (True, "add", 0)
    assert "deactivate" not in facts and "cooldown_ms" not in facts


def test_code_22_sends_the_cool_down_as_a_duration() -> None:
    """22: the cool-down goes as milliseconds from now, so the server's clock sets its end."""
    facts = _one_call(Outcome(OutcomeKind.DAILY_LIMIT, "22"))
    assert facts["cooldown_ms"] == make_policy().rate_limit_cooldown.total_seconds() * 1000
    assert facts["proven"] == "remove"


def test_a_refused_key_deactivates_it_with_its_cause_and_code() -> None:
    """30 on a key: the server takes it out for every process, with the cause and the code."""
    facts = _one_call(
        Outcome(OutcomeKind.KEY_UNUSABLE, "30", "SERVICE_KEY_IS_NOT_REGISTERED_ERROR")
    )
    assert facts["deactivate"] == {"cause": "not_activated_yet", "code": "30"}
    assert facts["errors_add"] == 1


def test_a_call_that_never_left_gives_its_count_back() -> None:
    """Nothing left the machine: the server gives the call back and judges nothing."""
    facts = _one_call(Outcome(OutcomeKind.UNSENT, message="refused"))
    assert facts["unsent"] is True and "success" not in facts


@pytest.mark.parametrize(
    ("refused", "reason"),
    [
        pytest.param(Refused(Refusal.DISABLED, None, 0), Reason.DISABLED, id="disabled"),
        pytest.param(
            Refused(Refusal.DEACTIVATED, START, 0, "expired", "31"),
            Reason.DEACTIVATED,
            id="deactivated",
        ),
        pytest.param(
            Refused(Refusal.COOLING, START + timedelta(hours=1), 0), Reason.COOLING, id="cooling"
        ),
        pytest.param(Refused(Refusal.QUOTA_SPENT, None, 1000), Reason.QUOTA_SPENT, id="spent"),
        pytest.param(
            Refused(Refusal.PAUSED, START + timedelta(seconds=5), 3), Reason.PAUSED, id="paused"
        ),
        pytest.param(Refused(Refusal.BUSY, None, 0), Reason.PAUSED, id="busy"),
    ],
)
def test_a_refusal_turns_the_key_away_in_this_process_too(refused: Refused, reason: Reason) -> None:
    """After a refusal, the pool's own rule says the same: it picks another key, not this one."""
    key = ServiceKey.from_raw(hex_key(), 0, "test")
    policy = make_policy()
    pool = KeyPool([key], policy, START)
    apply_refusal(pool.state(key), refused, OP, policy.usable_limit, START)
    assert pool.availability(key, OP, START).reason is reason
