"""Jobs on the key pool: status, health, disable and enable, recovery probes, key tests.

Each job comes twice: on an open Session (what the command line uses), and as a plain function
that opens one from the settings (the programmatic API, exported by `kto_keys`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kto_keys.core.answers import Outcome
from kto_keys.core.calls import CallStats
from kto_keys.core.clock import Clock
from kto_keys.core.errors import SettingsError, SettingsProblem
from kto_keys.core.health import Attention, Health, KeyNote, assess, attention_for
from kto_keys.core.keys import ServiceKey
from kto_keys.core.pool import KeyPool, Reason
from kto_keys.core.rotation import KeyEventKind
from kto_keys.core.status import KeyStatusRow, key_status, unknown_status
from kto_keys.edges.client import ProbeResult
from kto_keys.edges.clock import SystemClock
from kto_keys.edges.settings import Settings, load_settings
from kto_keys.edges.shared import SharedState
from kto_keys.edges.state import StateCache
from kto_keys.edges.store import Store
from kto_keys.jobs.session import Session, open_session


@dataclass(frozen=True, slots=True)
class KeyTest:
    """What one test call with one key found."""

    index: int
    preview: str
    outcome: Outcome
    latency_ms: float | None


# --- on a session ----------------------------------------------------------------------------
def call_stats(session: Session) -> dict[str, CallStats]:
    """Today's success rate and latency per key, from the call history (empty without a database)."""
    path = session.settings.db_path
    if not path.exists():
        return {}
    with Store(path, readonly=True) as store:
        return store.call_stats(session.clock.now())


def status_of(session: Session) -> list[KeyStatusRow]:
    """The detailed status of every key."""
    rows = key_status(session.pool, session.clock.now(), call_stats(session))
    session.save_if_changed()
    return rows


def status_unknown(settings: Settings) -> list[KeyStatusRow]:
    """Every configured key as its sources describe it, its state unknown (the shared pool
    cannot be reached): `keys list` still answers, from this machine alone."""
    return unknown_status(settings.keys, settings.policy())


def health_of(session: Session) -> Health:
    """The health of every key, with the keys that need attention."""
    health = assess(session.pool, session.clock.now(), cache_lost=session.cache_notice is not None)
    session.save_if_changed()
    return health


def health_json(health: Health) -> dict[str, Any]:
    """A health report as JSON-ready data, the same in every language."""
    return {
        "level": str(health.level),
        "score": round(health.score, 1),
        "working": health.working,
        "total": health.total,
        "attention": [
            {
                "key": f"#{n.key.index}",
                "preview": n.key.preview,
                "reason": str(n.attention),
                "detail": n.detail,
                "recovery_at": n.until.isoformat() if n.until else None,
            }
            for n in health.attention
        ],
        "limits": [
            {
                "key": f"#{n.key.index}",
                "preview": n.key.preview,
                "limit": f"{'spent' if n.reason is Reason.QUOTA_SPENT else 'cooling'}:{n.operation}",
                "until": n.until.isoformat() if n.until else None,
            }
            for n in health.limits
        ],
        "expiring": [
            {
                "key": f"#{n.key.index}",
                "preview": n.key.preview,
                "expires": n.expires.isoformat(),
                "estimated": n.estimated,
                "days_left": n.days_left,
            }
            for n in health.expiring
        ],
    }


def row_of(session: Session, index: int) -> KeyStatusRow:
    """The detailed status of key `#index`."""
    key = key_at(session, index)
    return next(row for row in status_of(session) if row.index == key.index)


def disable(session: Session, index: int, reason: str | None = None) -> KeyStatusRow:
    """Take key `#index` out of the pool until it is enabled again."""
    key = key_at(session, index)
    already = session.pool.state(key).disabled_by_hand
    session.pool.deactivate_by_hand(key, reason, session.clock.now())
    session.put_by_hand(key)
    session.save()
    if not already:
        session.watch.by_hand(key, KeyEventKind.DISABLED, session.pool, reason)
        session.watch.flush(wait=True)
    return row_of(session, index)


def enable(session: Session, index: int) -> KeyStatusRow:
    """Put key `#index` back into the pool, whatever took it out (no probe: see enable_key)."""
    key = key_at(session, index)
    was_out = session.pool.state(key).is_deactivated
    session.pool.enable_by_hand(key)
    session.put_by_hand(key)
    session.save()
    if was_out:
        session.watch.by_hand(key, KeyEventKind.ENABLED, session.pool, None)
        session.watch.flush(wait=True)
    return row_of(session, index)


async def enable_key(session: Session, index: int, force: bool = False) -> KeyStatusRow:
    """Put key `#index` back: one taken out by hand at once; one the gateway refused only
    when a probe made with it succeeds (deactivated keys come back only through a probe), or
    with `force`."""
    key = key_at(session, index)
    state = session.pool.peek(key)
    if force or state.disabled_by_hand or state.deactivated_at is None:
        return enable(session, index)
    with session.keeping_history():
        async with session.client(concurrency=1) as client:
            await client.probe(key)
    return row_of(session, index)


async def recover_keys(session: Session, force: bool = False) -> list[ProbeResult]:
    """Probe the deactivated keys that are due (all with `force`), each with a call of its own."""
    with session.keeping_history():
        async with session.client(concurrency=1) as client:
            return await client.recover(force=force)


def expired_waiting(session: Session, probed: Sequence[ServiceKey] = ()) -> list[KeyNote]:
    """The expired keys `recover` left alone (those in `probed` aside), each as `health` notes
    it: it waits for a new expiry date, so it stays out."""
    now = session.clock.now()
    tried = {key.fingerprint for key in probed}
    waiting = [
        key for key in session.pool.awaiting_expiry_date(now) if key.fingerprint not in tried
    ]
    return [note for key in waiting if (note := attention_for(session.pool, key, now)) is not None]


async def test_all_keys(session: Session) -> list[KeyTest]:
    """One test call per key, in order."""
    results = []
    with session.keeping_history():
        async with session.client(concurrency=1) as client:
            for key in session.pool.keys:
                outcome = await client.test_key(key)
                latency = session.pool.peek(key).latency_ms_avg
                results.append(KeyTest(key.index, key.preview, outcome, latency))
    return results


def export_state(settings: Settings, clock: Clock | None = None) -> int:
    """Write the configured keys' shared state to the JSON cache; how many keys."""
    now = (clock or SystemClock()).now()
    shared = SharedState(settings)
    try:
        states = shared.load_view(settings.keys, now)
    finally:
        shared.close()
    policy = settings.policy()
    cache = StateCache(
        settings.cache_path, max_wait=max(policy.rate_limit_cooldown, policy.error_wait)
    )
    cache.load(now)
    pool = KeyPool(settings.keys, policy, now, states)
    for key in settings.keys:
        pool.state(key)  # every key is written as the server has it
    cache.sync(pool, now)
    return len(states)


def import_state(settings: Settings, clock: Clock | None = None) -> int:
    """Write the JSON cache's key states to the shared server; how many keys."""
    now = (clock or SystemClock()).now()
    policy = settings.policy()
    cache = StateCache(
        settings.cache_path, max_wait=max(policy.rate_limit_cooldown, policy.error_wait)
    )
    states = cache.load(now).states
    shared = SharedState(settings)
    try:
        return shared.import_states(states, now)
    finally:
        shared.close()


def key_at(session: Session, index: int) -> ServiceKey:
    """The key shown as `#index`, or a settings error naming the valid range."""
    return key_of(session.pool.keys, index)


def key_of(keys: Sequence[ServiceKey], index: int) -> ServiceKey:
    """The key shown as `#index` among `keys`, or a settings error naming the valid range."""
    if not 0 <= index < len(keys):
        raise SettingsError(SettingsProblem.NO_SUCH_KEY, value=index, last=len(keys) - 1)
    return keys[index]


# --- the programmatic API: each opens its own session -----------------------------------------
def _open(settings: Settings | None, clock: Clock | None) -> Session:
    chosen = settings or load_settings()
    chosen.require_keys()
    return open_session(chosen, clock or SystemClock())


def status_rows(settings: Settings | None = None, clock: Clock | None = None) -> list[KeyStatusRow]:
    """The detailed status of every key."""
    return status_of(_open(settings, clock))


def check_health(settings: Settings | None = None, clock: Clock | None = None) -> Health:
    """The health of every key, with the keys that need attention."""
    return health_of(_open(settings, clock))


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


def key_detail(
    index: int, settings: Settings | None = None, clock: Clock | None = None
) -> KeyStatusRow:
    """The detailed status of key `#index`."""
    return row_of(_open(settings, clock), index)


def deactivate_key(
    index: int,
    reason: str | None = None,
    settings: Settings | None = None,
    clock: Clock | None = None,
) -> KeyStatusRow:
    """Take key `#index` out of the pool until it is enabled again."""
    return disable(_open(settings, clock), index, reason)


def reactivate_key(
    index: int, settings: Settings | None = None, clock: Clock | None = None
) -> KeyStatusRow:
    """Put key `#index` back into the pool, whatever took it out."""
    return enable(_open(settings, clock), index)


def recover(
    force: bool = False, settings: Settings | None = None, clock: Clock | None = None
) -> list[ProbeResult]:
    """Try to bring deactivated keys back (a blocking call)."""
    return asyncio.run(recover_keys(_open(settings, clock), force))
