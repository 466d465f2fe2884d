"""The detail quota plan: calls needed, calls left today, calls this run, days to finish (pure)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from kto_keys.core.pool import KeyPool


@dataclass(frozen=True, slots=True)
class OperationPlan:
    """One detail operation's figures."""

    operation: str
    needed: int
    left_today: int
    this_run: int
    daily_capacity: int

    @property
    def remaining_after(self) -> int:
        """Calls still needed once this run is done."""
        return self.needed - self.this_run

    @property
    def beyond_today(self) -> int:
        """Calls today's quota cannot make, whatever --budget holds back for another run today."""
        return max(0, self.needed - self.left_today)

    @property
    def more_days(self) -> int | None:
        """Days after today to finish at this pool size (None: the pool cannot do it).

        A run that --budget stops early is finished by another run today while quota is left,
        so only what today's quota cannot make counts as days.
        """
        if self.beyond_today <= 0:
            return 0
        if self.daily_capacity <= 0:
            return None
        return math.ceil(self.beyond_today / self.daily_capacity)


@dataclass(frozen=True, slots=True)
class DetailPlan:
    """The plan for every detail operation of a run."""

    operations: tuple[OperationPlan, ...]
    budget: int | None

    @property
    def needed(self) -> int:
        """Detail calls needed in all."""
        return sum(op.needed for op in self.operations)

    @property
    def this_run(self) -> int:
        """Detail calls this run will make at most."""
        return sum(op.this_run for op in self.operations)

    @property
    def more_days(self) -> int | None:
        """Days after today until every operation is done."""
        days = [op.more_days for op in self.operations]
        return None if any(day is None for day in days) else max((d or 0 for d in days), default=0)

    def to_json(self) -> dict[str, Any]:
        """The plan as JSON-ready data."""
        return {
            "operations": [
                {**asdict(op), "remaining_after": op.remaining_after, "more_days": op.more_days}
                for op in self.operations
            ],
            "needed": self.needed,
            "this_run": self.this_run,
            "more_days": self.more_days,
            "budget": self.budget,
        }


def make_plan(
    needed: Mapping[str, int],
    left_today: Mapping[str, int],
    daily_capacity: Mapping[str, int],
    budget: int | None,
) -> DetailPlan:
    """Share the budget over the operations in turn, each within its own quota left."""
    this_run = {
        operation: min(count, left_today.get(operation, 0)) for operation, count in needed.items()
    }
    if budget is not None:
        remaining = budget
        shares = dict.fromkeys(needed, 0)
        while remaining > 0 and any(shares[op] < this_run[op] for op in needed):
            for operation in needed:
                if remaining > 0 and shares[operation] < this_run[operation]:
                    shares[operation] += 1
                    remaining -= 1
        this_run = shares
    return DetailPlan(
        tuple(
            OperationPlan(op, count, left_today.get(op, 0), this_run[op], daily_capacity.get(op, 0))
            for op, count in needed.items()
        ),
        budget,
    )


def plan_details(
    pool: KeyPool, needed: Mapping[str, int], now: datetime, budget: int | None
) -> DetailPlan:
    """The plan a pool allows: its working keys' quota left today, and their quota per day."""
    left_today = {operation: pool.pool_quota_left(operation, now) for operation in needed}
    per_day = pool.daily_capacity(now)
    return make_plan(needed, left_today, dict.fromkeys(needed, per_day), budget)
