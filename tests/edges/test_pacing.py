"""Pacing per key (KTO_KEY_RPS) against the local gateway's per-second limit and its 60 s lock.

Pacing is real time by nature (aiolimiter reads the event loop's clock), and so is the gateway's
count per second here: these tests use the system clock and take about a second and a half each.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import hex_key, make_settings

from kto_keys.core.operations import Operation
from kto_keys.edges.clock import SystemClock
from kto_keys.edges.settings import DEFAULTS
from kto_keys.jobs.session import open_session
from kto_keys.sim import GatewayConfig, GatewayThread, KeyBehaviour

PAGE = {"contentTypeId": "39", "lDongRegnCd": "11", "numOfRows": 5, "pageNo": 1}


@pytest.fixture
def real_time_gateway() -> Iterator[list[GatewayThread]]:
    """Gateways that count calls per second of real time (not the fake clock)."""
    started: list[GatewayThread] = []
    yield started
    for thread in started:
        thread.stop()


def start(started: list[GatewayThread], keys: list[str], limit: int) -> GatewayThread:
    """A gateway that answers 23 past `limit` calls a second of one key, and then locks it 60 s."""
    config = GatewayConfig(
        keys={key: KeyBehaviour(f"k{i}") for i, key in enumerate(keys)},
        sizes={"11": 20},
        per_second_limit=limit,
        per_second_lock_s=60.0,
    )
    thread = GatewayThread(config)
    thread.start()
    started.append(thread)
    return thread


async def calls_at_once(
    tmp_path: Path, keys: list[str], base_url: str, calls: int, rps: str, concurrency: int
) -> float:
    """Make `calls` list calls, `concurrency` at a time, as one run; the seconds they took."""
    settings = make_settings(tmp_path, keys, base_url, KTO_KEY_RPS=rps)
    session = open_session(settings, SystemClock())
    started = time.perf_counter()
    async with session.client(concurrency) as client:
        await asyncio.gather(*(client.call(Operation.LIST, PAGE) for _ in range(calls)))
    return time.perf_counter() - started


async def test_paced_keys_go_at_keys_times_the_pace_and_never_trip_the_lock(
    tmp_path: Path, real_time_gateway: list[GatewayThread]
) -> None:
    """Two keys at 9 a second under a limit of 10: 27 calls at concurrency 16 take about 1.5 s
    (2 x 9 a second), with no code 23 and no lock."""
    keys = [hex_key(), hex_key()]
    gateway = start(real_time_gateway, keys, limit=10)
    elapsed = await calls_at_once(tmp_path, keys, gateway.base_url, 27, "9", 16)
    assert gateway.locks() == {} and gateway.per_second_refusals() == {}
    assert gateway.total() == 27
    # 14 calls of one key leave 1/9 s apart: 13/9 s at least. The upper bound only catches a
    # pace far slower than asked (one call a second would take 13 s), not a loaded machine.
    assert 13 / 9 - 0.05 <= elapsed < 2 * 13 / 9


async def test_the_default_pace_stays_under_the_lowest_limit_measured(
    tmp_path: Path, real_time_gateway: list[GatewayThread]
) -> None:
    """The default KTO_KEY_RPS under a gateway that allows 22 a second: no lock, no 23."""
    keys = [hex_key()]
    gateway = start(real_time_gateway, keys, limit=22)
    rps = DEFAULTS["KTO_KEY_RPS"]
    assert float(rps) < 22
    await calls_at_once(tmp_path, keys, gateway.base_url, 30, rps, 16)
    assert gateway.locks() == {} and gateway.per_second_refusals() == {}


async def until_locked(gateway: GatewayThread) -> None:
    """Return once the gateway has locked a key (polling its count, not waiting for time to pass)."""
    while not gateway.locks():
        await asyncio.sleep(0.005)


async def test_without_pacing_the_same_load_trips_the_lock(
    tmp_path: Path, real_time_gateway: list[GatewayThread]
) -> None:
    """The tests above mean something: unpaced, the same keys are locked at once."""
    keys = [hex_key(), hex_key()]
    gateway = start(real_time_gateway, keys, limit=10)
    settings = make_settings(tmp_path, keys, gateway.base_url, KTO_KEY_RPS="1000")
    session = open_session(settings, SystemClock())
    async with session.client(16) as client:
        # 40 calls a key: over any three of the gateway's seconds, one of them holds 14 or more.
        # A locked key is paused and its calls wait for it, so the run stops at the first lock.
        calls = asyncio.gather(
            *(client.call(Operation.LIST, PAGE) for _ in range(80)), return_exceptions=True
        )
        watcher = asyncio.ensure_future(until_locked(gateway))
        await asyncio.wait({calls, watcher}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        for task in (calls, watcher):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    assert sum(gateway.locks().values()) >= 1
