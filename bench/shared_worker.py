"""One of benchmark 9's processes: acquire + record in a loop for a fixed time, on the shared
state (BENCH_STATE_URL) or on the JSON cache; prints {"calls": n, "seconds": s} as JSON.

Usage: python shared_worker.py SECONDS   (after printing "ready", waits for a line on stdin)
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

from bench.shared import OPERATIONS, START, SUCCESS, _settings, _WallClock
from kto_keys.core.pool import KeyPool, Lease
from kto_keys.core.shared import Fate, Grant
from kto_keys.edges.shared import SharedState
from kto_keys.jobs.session import open_session


async def _shared(seconds: float) -> int:
    settings = _settings(
        Path(os.environ["BENCH_FOLDER"]) / str(os.getpid()),
        os.environ["BENCH_KEYS"].split(","),
        os.environ["BENCH_STATE_URL"],
    )
    clock = _WallClock(START)
    shared = SharedState(settings)
    pool = KeyPool(
        settings.keys, settings.policy(), clock.now(), shared.load_view(settings.keys, clock.now())
    )
    print("ready", flush=True)
    sys.stdin.readline()
    calls = 0
    deadline = time.perf_counter() + seconds
    async with shared.gate(lambda key: 10**9) as gate:
        while time.perf_counter() < deadline:
            operation = OPERATIONS[calls % 2]
            clock.advance(0.001)
            now = clock.now()
            lease = pool.acquire(operation, now)
            assert isinstance(lease, Lease)
            grant = await gate.admit(lease, pool, now)
            if not isinstance(grant, Grant):
                continue
            before = Fate.of(pool.peek(lease.key))
            events = pool.record_outcome(lease, SUCCESS, now, 0.05)
            await gate.settle(grant, lease, before, pool, SUCCESS, events, now)
            calls += 1
    return calls


def _json(seconds: float) -> int:
    folder = Path(os.environ["BENCH_FOLDER"])
    settings = _settings(folder, os.environ["BENCH_KEYS"].split(","), None)
    clock = _WallClock(START)
    session = open_session(settings, clock)
    pool = session.pool
    print("ready", flush=True)
    sys.stdin.readline()
    calls = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        operation = OPERATIONS[calls % 2]
        clock.advance(0.001)
        now = clock.now()
        lease = pool.acquire(operation, now)
        assert isinstance(lease, Lease)
        if lease.reserved:
            session.save(durable=False)
        events = pool.record_outcome(lease, SUCCESS, now, 0.05)
        session.call_ended(lease, SUCCESS, events, 0.05)
        calls += 1
    session.save()
    return calls


def main(seconds: float) -> None:
    """Run the loop and print what it did."""
    started = time.perf_counter()
    calls = asyncio.run(_shared(seconds)) if os.environ.get("BENCH_STATE_URL") else _json(seconds)
    print(json.dumps({"calls": calls, "seconds": time.perf_counter() - started}), flush=True)


if __name__ == "__main__":
    main(float(sys.argv[1]))
