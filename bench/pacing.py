"""Benchmark 7: pacing per key against a gateway that locks a key past its per-second limit.

Case "fast": the gateway allows 25 calls per second per key and then locks the key for 60 s;
4 keys, concurrency 32, KTO_KEY_RPS=24, 1,000 records so 2,000 detail calls. Target: at least
90 % of 4 x 24 calls per second over the detail phase, and zero locks.
Case "default": the lowest limit measured (22 per second), the default pace: zero locks.
A run that has not finished after its time limit is reported with what it did by then.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

from bench.fixtures import PhaseTimer, fake_key
from bench.gateway_process import GatewayProcess
from bench.table import Row
from kto_keys.core.regions import Selection
from kto_keys.edges.clock import SystemClock
from kto_keys.edges.logbook import setup_logging
from kto_keys.edges.settings import settings_in
from kto_keys.jobs.collect import CollectOptions, collect
from kto_keys.jobs.session import open_session

KEYS = 4
CONCURRENCY = 32
LATENCY_S = 0.05
LOCK_S = 60.0
TIME_LIMIT_S = 40.0
TARGET_SHARE = 0.90
# name -> (gateway limit per second, KTO_KEY_RPS or None for the default, records)
CASES: dict[str, tuple[int, str | None, int]] = {
    "fast": (25, "24", 1000),
    "default": (22, None, 300),
}


async def _bounded(job: Any, limit_s: float) -> bool:
    """Run the job; False when it was cancelled at its time limit."""
    try:
        await asyncio.wait_for(job, limit_s)
    except TimeoutError:
        return False
    return True


def _one_case(folder: Path, limit: int, rps: str | None, records: int) -> dict[str, Any]:
    keys = [fake_key() for _ in range(KEYS)]
    config = {
        "keys": {raw: {"label": f"k{i}", "behaviour": "valid"} for i, raw in enumerate(keys)},
        "sizes": {"11": records},
        "seed": 1,
        "latency_s": LATENCY_S,
        "per_second_limit": limit,
        "per_second_lock_s": LOCK_S,
    }
    with GatewayProcess(config, folder / "gateway") as gateway:
        overrides = {"KTO_LANG": "en"} | ({"KTO_KEY_RPS": rps} if rps else {})
        settings = settings_in(folder / "run", keys, gateway.base_url, **overrides)
        clock = SystemClock()
        setup_logging(
            settings.log_dir, settings.keys, clock.now(), console_level=logging.CRITICAL + 1
        )
        session = open_session(settings, clock)
        timer = PhaseTimer()
        options = CollectOptions(
            Selection("ldong", ("11",)),
            kinds=("intro", "common"),
            page_size=1000,
            concurrency=CONCURRENCY,
        )
        started = time.perf_counter()
        finished = asyncio.run(_bounded(collect(session, options, timer), TIME_LIMIT_S))
        ended = time.perf_counter()
        counts = gateway.counts()
        events = gateway.events()
    detail_calls = sum(
        n for ops in counts.values() for op, n in ops.items() if op.startswith("detail")
    )
    detail_started = timer.details_started or started
    elapsed = ended - detail_started
    locks = sum(events.get("locks", {}).values())
    refusals = sum(events.get("per_second_refusals", {}).values())
    return {
        "gateway_limit_per_s": limit,
        "key_rps": rps or "default",
        "finished": finished,
        "detail_calls": detail_calls,
        "detail_elapsed_s": round(elapsed, 3),
        "calls_per_s": round(detail_calls / elapsed, 2) if elapsed > 0 else 0.0,
        "locks": locks,
        "code_23": refusals,
    }


def pacing(folder: Path) -> tuple[dict[str, Any], list[Row]]:
    """Both cases; the fast one is judged on its rate and locks, the default one on locks."""
    results = {
        name: _one_case(folder / name, limit, rps, records)
        for name, (limit, rps, records) in CASES.items()
    }
    fast, default = results["fast"], results["default"]
    wanted = KEYS * int(CASES["fast"][1] or 0)
    share = fast["calls_per_s"] / wanted
    ended = "" if fast["finished"] else f", stopped at {TIME_LIMIT_S:.0f} s"
    rows = [
        Row(
            "7 pacing",
            f"limit 25/s, {KEYS} keys, c={CONCURRENCY}, KTO_KEY_RPS=24: rate",
            f"{fast['calls_per_s']:.1f}/s = {share:.2f} of {wanted}/s"
            f" ({fast['detail_calls']} detail calls in {fast['detail_elapsed_s']:.1f} s{ended})",
            f">= {TARGET_SHARE:.2f}",
            share >= TARGET_SHARE and fast["finished"],
        ),
        Row(
            "7 pacing",
            "limit 25/s, KTO_KEY_RPS=24: locks",
            f"{fast['locks']} (code 23: {fast['code_23']})",
            "0",
            fast["locks"] == 0,
        ),
        Row(
            "7 pacing",
            "limit 22/s, default pace: locks",
            f"{default['locks']} (code 23: {default['code_23']};"
            f" {default['detail_calls']} detail calls at {default['calls_per_s']:.1f}/s)",
            "0",
            default["locks"] == 0 and default["finished"],
        ),
    ]
    return {"cases": results, "keys": KEYS, "concurrency": CONCURRENCY}, rows
