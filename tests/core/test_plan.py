"""The detail plan: calls needed, left today, this run and days to go, from the pool's working keys."""

from __future__ import annotations

import pytest
from conftest import hex_key, make_policy

from kto_keys.core.answers import Outcome
from kto_keys.core.clock import FakeClock
from kto_keys.core.codes import OutcomeKind, lookup
from kto_keys.core.keys import ServiceKey
from kto_keys.core.operations import Operation
from kto_keys.core.plan import make_plan, plan_details
from kto_keys.core.pool import KeyPool, Lease

INTRO = Operation.DETAIL_INTRO
COMMON = Operation.DETAIL_COMMON
FAULT = Outcome(OutcomeKind.TRANSIENT, "05", "SERVICETIMEOUT_ERROR", "service timed out")


def coded(code: str) -> Outcome:
    """The outcome of an answer that carried a gateway code."""
    row = lookup(code)
    assert row is not None
    return Outcome(row.kind, row.code, row.symbol, row.symbol)


def make_pool(clock: FakeClock, count: int, daily_limit: int) -> KeyPool:
    """A pool of fresh fake keys with a small daily limit."""
    keys = [ServiceKey.from_raw(hex_key(), index, "environment") for index in range(count)]
    return KeyPool(keys, make_policy(daily_limit=daily_limit), clock.now())


@pytest.mark.parametrize(
    "needed, left, capacity, this_run, more_days",
    [
        pytest.param(30, 100, 100, 30, 0, id="fits-today"),
        pytest.param(250, 100, 100, 100, 2, id="two-more-days"),
        pytest.param(201, 100, 50, 100, 3, id="rounds-up"),
        pytest.param(10, 0, 0, 0, None, id="no-working-key-never-finishes"),
        pytest.param(0, 0, 0, 0, 0, id="nothing-needed"),
    ],
)
def test_one_operation_runs_within_todays_quota_and_counts_the_days_after(
    needed, left, capacity, this_run, more_days
):
    """This run takes what today's quota allows; the rest takes ceil(rest ÷ daily capacity) days."""
    plan = make_plan({INTRO: needed}, {INTRO: left}, {INTRO: capacity}, budget=None)
    [operation] = plan.operations
    assert (operation.this_run, operation.remaining_after) == (this_run, needed - this_run)
    assert operation.more_days == more_days
    assert plan.more_days == more_days


def test_a_budget_stop_with_quota_left_today_takes_no_more_days():
    """--budget 10 of 30 needed with 100 left today: 20 remain, for another run today, 0 days."""
    plan = make_plan({INTRO: 30}, {INTRO: 100}, {INTRO: 100}, budget=10)
    [operation] = plan.operations
    assert (operation.this_run, operation.remaining_after, operation.more_days) == (10, 20, 0)


def test_budget_is_shared_over_the_operations_in_turn():
    """--budget 5 goes to the operations in turn, each stopping at its own quota left: 4 and 1."""
    plan = make_plan({INTRO: 10, COMMON: 10}, {INTRO: 10, COMMON: 1}, {}, budget=5)
    assert {op.operation: op.this_run for op in plan.operations} == {INTRO: 4, COMMON: 1}
    assert (plan.needed, plan.this_run, plan.budget) == (20, 5, 5)


def test_plan_json_carries_every_figure():
    """The JSON of a plan has each operation's figures and the totals."""
    plan = make_plan({INTRO: 5}, {INTRO: 3}, {INTRO: 2}, budget=None)
    assert plan.to_json() == {
        "operations": [
            {
                "operation": INTRO,
                "needed": 5,
                "left_today": 3,
                "this_run": 3,
                "daily_capacity": 2,
                "remaining_after": 2,
                "more_days": 1,
            }
        ],
        "needed": 5,
        "this_run": 3,
        "more_days": 1,
        "budget": None,
    }


def test_plan_for_a_pool_counts_only_working_keys(clock):
    """Out by hand or deactivated: no quota today and no daily capacity; a key waiting after one
    error still works and counts."""
    pool = make_pool(clock, 5, daily_limit=10)
    ok, spent, disabled, expired, waiting = pool.keys
    pool.state(spent).usage[INTRO] = 10
    pool.deactivate_by_hand(disabled, "kept aside", clock.now())
    pool.record_outcome(Lease(expired, INTRO), coded("31"), clock.now())
    pool.record_outcome(Lease(waiting, INTRO), FAULT, clock.now())
    plan = plan_details(pool, {INTRO: 100, COMMON: 5}, clock.now(), budget=None)
    figures = {op.operation: (op.left_today, op.daily_capacity) for op in plan.operations}
    assert figures == {INTRO: (20, 30), COMMON: (30, 30)}
    assert pool.working_keys(clock.now()) == [ok, spent, waiting]


def test_plan_for_a_pool_leaves_out_todays_quota_of_a_key_cooling_after_22(clock):
    """A key cooling after code 22 still works tomorrow, but has nothing left today for that call."""
    pool = make_pool(clock, 2, daily_limit=10)
    cooling, _ = pool.keys
    pool.record_outcome(Lease(cooling, INTRO), coded("22"), clock.now())
    plan = plan_details(pool, {INTRO: 30, COMMON: 30}, clock.now(), budget=7)
    figures = {op.operation: (op.left_today, op.daily_capacity) for op in plan.operations}
    assert figures == {INTRO: (10, 20), COMMON: (20, 20)}
    assert plan.this_run == 7
