"""Benchmark 4: the tool's own cost per call with 10, 100 and 1,000 keys, no network at all.

Each call goes through what the client and the run's session do around the request: key
selection (`KeyPool.acquire`), bookkeeping (`record_outcome`), and the session's share
(`Session.call_ended`: the call history and the cache saved when due). The log line written per
call (through the redacting filter) is timed beside them, as context: the figure leaves logging
out.
"""

from __future__ import annotations

import logging
import math
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.fixtures import fake_key
from bench.table import Row
from kto_keys.cli.messages import Messages
from kto_keys.core.answers import Outcome, Payload
from kto_keys.core.clock import FakeClock
from kto_keys.core.codes import OutcomeKind
from kto_keys.core.pool import Lease
from kto_keys.edges.logbook import logger, setup_logging
from kto_keys.edges.settings import settings_in
from kto_keys.edges.store import Store
from kto_keys.jobs.session import open_session

KEY_COUNTS = (10, 100, 1000)
CALLS = 20_000
# Bounded: stop early once a key count has used its share of time (enough calls to average).
TIME_BUDGET_S = 3.0
MIN_CALLS = 500
OPERATIONS = ("detailIntro2", "detailCommon2")
TARGET_US_AT_1000 = 1000.0
# 10:00 KST on a working day: no midnight roll-over during the loop.
START = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
PARTS = ("acquire", "record_outcome", "session")


class _BenchClock(FakeClock):
    """Wall time that moves a millisecond a call; the session's save cadence in real seconds,
    as in a real run (a fake second per 1,000 calls would save far more often than the tool)."""

    def monotonic(self) -> float:
        return time.monotonic()


def _one_pool(folder: Path, key_count: int) -> dict[str, Any]:
    clock = _BenchClock(START)
    # A quota no loop reaches: the figure is about selection, not about running dry.
    settings = settings_in(
        folder,
        [fake_key() for _ in range(key_count)],
        "http://127.0.0.1:9/B551011/KorService2",
        KTO_API_DAILY_LIMIT=str(10**9),
    )
    session = open_session(settings, clock)
    pool, keys = session.pool, settings.keys
    store = Store(settings.db_path)
    session.history = store
    setup_logging(folder / "logs", keys, clock.now(), console_level=logging.CRITICAL + 1)
    log = logger()
    messages = Messages("en")
    success = Outcome(OutcomeKind.SUCCESS, payload=Payload())
    spent = dict.fromkeys((*PARTS, "log_line"), 0)
    calls = 0
    started = time.perf_counter()
    deadline = started + TIME_BUDGET_S
    try:
        for number in range(CALLS):
            if number >= MIN_CALLS and time.perf_counter() > deadline:
                break
            operation = OPERATIONS[number % len(OPERATIONS)]
            clock.advance(0.001)
            now = clock.now()
            t0 = time.perf_counter_ns()
            lease = pool.acquire(operation, now)
            t1 = time.perf_counter_ns()
            if not isinstance(lease, Lease):
                raise RuntimeError(f"no key handed out at call {number}: {lease}")
            events = pool.record_outcome(lease, success, now, 0.05)
            t2 = time.perf_counter_ns()
            session.call_ended(lease, success, events, 0.05)
            t3 = time.perf_counter_ns()
            for event in events:
                level, line = messages.event(event, pool)
                log.log(level, line)
            t4 = time.perf_counter_ns()
            spent["acquire"] += t1 - t0
            spent["record_outcome"] += t2 - t1
            spent["session"] += t3 - t2
            spent["log_line"] += t4 - t3
            calls += 1
    finally:
        session.save()
        store.close()
        for handler in list(log.handlers):
            log.removeHandler(handler)
            handler.close()
    per_call = {part: round(ns / calls / 1000, 2) for part, ns in spent.items()}
    core = sum(per_call[part] for part in PARTS)
    return {
        "keys": key_count,
        "calls": calls,
        "wall_s": round(time.perf_counter() - started, 3),
        "us_per_call": round(core, 2),
        "us_per_call_with_log_line": round(core + per_call["log_line"], 2),
        "us_by_part": per_call,
    }


def overhead(folder: Path) -> tuple[dict[str, Any], list[Row]]:
    """Benchmark 4: microseconds per call at 10, 100 and 1,000 keys, and how they grow."""
    pools = {n: _one_pool(folder / f"keys-{n}", n) for n in KEY_COUNTS}
    small, large = pools[KEY_COUNTS[0]], pools[KEY_COUNTS[-1]]
    key_growth = KEY_COUNTS[-1] / KEY_COUNTS[0]
    cost_growth = large["us_per_call"] / small["us_per_call"]
    # Growth exponent: 1.0 means linear in the key count, 0 means flat.
    exponent = math.log(cost_growth) / math.log(key_growth)
    log_growth = large["us_per_call_with_log_line"] / small["us_per_call_with_log_line"]
    result = {
        "calls_per_key_count_max": CALLS,
        "time_budget_s": TIME_BUDGET_S,
        "pools": {str(n): pools[n] for n in KEY_COUNTS},
        "growth_10_to_1000": round(cost_growth, 2),
        "growth_exponent": round(exponent, 3),
        "growth_10_to_1000_with_log_line": round(log_growth, 2),
    }
    rows = [
        Row(
            "4 overhead",
            f"us/call, {n} keys",
            f"{pools[n]['us_per_call']:.0f} us ({pools[n]['calls']} calls;"
            f" with log line {pools[n]['us_per_call_with_log_line']:.0f} us)",
            "<= 1000 us" if n == KEY_COUNTS[-1] else "",
            pools[n]["us_per_call"] <= TARGET_US_AT_1000 if n == KEY_COUNTS[-1] else None,
        )
        for n in KEY_COUNTS
    ]
    rows.append(
        Row(
            "4 overhead",
            "growth 10 -> 1,000 keys",
            f"x{cost_growth:.1f} (exponent {exponent:.2f}; with log line x{log_growth:.1f})",
            "<= x100 (exponent <= 1)",
            exponent <= 1.0,
        )
    )
    return result, rows
