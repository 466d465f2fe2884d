"""The programmatic API: what the CLI and the menu call, usable from any Python code."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from kto_keys.core.answers import Outcome
from kto_keys.core.clock import Clock, SystemClock
from kto_keys.core.errors import SettingsError
from kto_keys.core.health import Attention, Health, assess
from kto_keys.core.calls import CallStats
from kto_keys.core.status import KeyStatusRow, key_status
from kto_keys.edges.client import ProbeResult, TourClient
from kto_keys.edges.settings import Settings, load_settings
from kto_keys.edges.store import Store
from kto_keys.jobs.session import Runtime, open_runtime


def _open(settings: Settings | None, clock: Clock | None) -> Runtime:
    chosen = settings or load_settings()
    chosen.require_keys()
    return open_runtime(chosen, clock or SystemClock())


def call_stats(settings: Settings, clock: Clock) -> dict[str, CallStats]:
    """Today's success rate and latency per key, from the call history (empty without a database)."""
    if not settings.db_path.exists():
        return {}
    with Store(settings.db_path) as store:
        return store.call_stats(clock.now())


def status_rows(settings: Settings | None = None, clock: Clock | None = None) -> list[KeyStatusRow]:
    """The detailed status of every key."""
    runtime = _open(settings, clock)
    rows = key_status(
        runtime.pool, runtime.clock.now(), call_stats(runtime.settings, runtime.clock)
    )
    runtime.save()
    return rows


def status_summary(settings: Settings | None = None, clock: Clock | None = None) -> dict[str, Any]:
    """A quick summary: keys in all, working, deactivated, health level and score."""
    health = check_health(settings, clock)
    return {
        "keys": health.total,
        "working": health.working,
        "deactivated": sum(
            1 for note in health.attention if note.attention is not Attention.ERROR_WAIT
        ),
        "level": str(health.level),
        "score": round(health.score, 1),
    }


def check_health(settings: Settings | None = None, clock: Clock | None = None) -> Health:
    """The health of every key, with the keys that need attention."""
    runtime = _open(settings, clock)
    health = assess(runtime.pool, runtime.clock.now(), cache_lost=runtime.cache_notice is not None)
    runtime.save()
    return health


def key_detail(
    index: int, settings: Settings | None = None, clock: Clock | None = None
) -> KeyStatusRow:
    """The detailed status of key `#index`."""
    rows = status_rows(settings, clock)
    for row in rows:
        if row.index == index:
            return row
    raise SettingsError(f"no key #{index}: the pool has #0 to #{len(rows) - 1}")


def deactivate_key(
    index: int,
    reason: str = "disabled by hand",
    settings: Settings | None = None,
    clock: Clock | None = None,
) -> KeyStatusRow:
    """Take key `#index` out of the pool until it is enabled again."""
    runtime = _open(settings, clock)
    key = _key(runtime, index)
    runtime.pool.deactivate_by_hand(key, reason, runtime.clock.now())
    runtime.save()
    return key_detail(index, runtime.settings, runtime.clock)


def reactivate_key(
    index: int, settings: Settings | None = None, clock: Clock | None = None
) -> KeyStatusRow:
    """Put key `#index` back into the pool, whatever took it out."""
    runtime = _open(settings, clock)
    runtime.pool.enable_by_hand(_key(runtime, index))
    runtime.save()
    return key_detail(index, runtime.settings, runtime.clock)


@dataclass(frozen=True, slots=True)
class KeyTest:
    """What one test call with one key found."""

    index: int
    preview: str
    outcome: Outcome
    latency_ms: float | None


async def recover_keys(runtime: Runtime, force: bool = False) -> list[ProbeResult]:
    """Probe the deactivated keys that are due (all with `force`), each with a call of its own."""
    with Store(runtime.settings.db_path) as store:
        async with TourClient(runtime, store, concurrency=1) as client:
            return await client.recover(force=force)


def recover(
    force: bool = False, settings: Settings | None = None, clock: Clock | None = None
) -> list[ProbeResult]:
    """Try to bring deactivated keys back (a blocking call)."""
    return asyncio.run(recover_keys(_open(settings, clock), force))


async def test_all_keys(runtime: Runtime) -> list[KeyTest]:
    """One test call per key, in order."""
    results = []
    with Store(runtime.settings.db_path) as store:
        async with TourClient(runtime, store, concurrency=1) as client:
            for key in runtime.pool.keys:
                outcome = await client.test_key(key)
                latency = runtime.pool.state(key).latency_ms_avg
                results.append(KeyTest(key.index, key.preview, outcome, latency))
    return results


def _key(runtime: Runtime, index: int) -> Any:
    try:
        return runtime.pool.key_by_index(index)
    except IndexError:
        raise SettingsError(
            f"no key #{index}: the pool has #0 to #{len(runtime.pool.keys) - 1}"
        ) from None
