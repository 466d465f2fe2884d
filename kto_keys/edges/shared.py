"""The shared key pool on Redis or Valkey (KTO_STATE_URL): every process on every host sees one
pool. Keys are known by fingerprint only; no raw key, nor any piece of one, reaches the server.

The data model (prefix `kto-keys:`; `day` is the server's Korea day, days since 1970-01-01):

    k:{fp}            hash  the key's fate: disabled, reason, deactivated_at, cause, code,
                            consecutive_errors, pause_until, error_wait_until, first_seen,
                            last_success, last_error (JSON), latency_ms_avg, totals
    u:{day}:{fp}      hash  calls per operation that day            (expires when the next day ends)
    cd:{day}:{fp}     hash  cool-down after code 22, per operation   (expires with the day)
    p:{day}:{op}      set   fingerprints proven for the operation    (expires with the day)
    l:{fp}            hash  leases in flight: id -> "deadline|op|day|probe" (healed by deadline)
    probe:{fp}        str   the one recovery probe of the key (expires at its deadline)
    done:{lease}      str   a recorded lease: records are idempotent (expires in two days)

Two Lua scripts (lua/acquire.lua, lua/record.lua), registered once per client, are the only
writers during a run; each is one round trip. Times on the server are its own clock's (TIME).
"""

from __future__ import annotations

import contextlib
import errno
import json
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import redis
import redis.asyncio
from filelock import FileLock
from redis.backoff import NoBackoff
from redis.retry import Retry

from kto_keys.core.answers import Outcome, unsent
from kto_keys.core.clock import kst_day
from kto_keys.core.errors import SharedStateLostError
from kto_keys.core.keys import ServiceKey
from kto_keys.core.pool import DeactivationCause, ErrorRecord, KeyPool, KeyState, Lease, PoolEvent
from kto_keys.core.shared import (
    JOURNAL_SCHEMA,
    Fate,
    Grant,
    JournalCorrupt,
    JournalInvalid,
    Refusal,
    Refused,
    apply_refusal,
    journal_entries,
    mask_url,
    record_facts,
)
from kto_keys.edges.atomic import (
    atomic_write_text,
    make_folder,
    modified_at,
    set_aside,
)
from kto_keys.edges.settings import Settings

PREFIX = "kto-keys:"
_LUA = Path(__file__).with_name("lua")
ACQUIRE_SCRIPT = (_LUA / "acquire.lua").read_text(encoding="utf-8")
RECORD_SCRIPT = (_LUA / "record.lua").read_text(encoding="utf-8")
# A lease lasts this many times its call's deadline (KTO_REQUEST_DEADLINE_S): long enough for the
# pacing before the request and the record after it; then another process may heal it.
LEASE_SPAN = 2
# What the server's absence looks like to the client library: the server is lost.
# The server cannot be used: unreachable, gone, or refusing us (a database index it does not
# have, a listener that speaks no Redis): every one of them stops the run with exit 6.
_LOST = (
    redis.ConnectionError,
    redis.TimeoutError,
    redis.ResponseError,
    redis.exceptions.InvalidResponse,
    OSError,
)
_EPOCH = date(1970, 1, 1)
# How long a process waits for another's hand on the journal file.
JOURNAL_LOCK_S = 30.0
# A key's usable calls per operation and day (per-key limits may differ from the policy's).
LimitOf = Callable[[ServiceKey], int]


def client_url(url: str) -> str:
    """The URL as redis-py reads it: `valkey://` is `redis://` (one protocol)."""
    if url.startswith("valkeys://"):
        return "rediss://" + url[len("valkeys://") :]
    if url.startswith("valkey://"):
        return "redis://" + url[len("valkey://") :]
    return url


def journal_path(settings: Settings) -> Path:
    """Where the outcomes of calls whose record could not reach the server wait for the next run."""
    return settings.cache_path.with_name("shared_journal.json")


def _day_of(day_number: int) -> date:
    return _EPOCH + timedelta(days=day_number)


def _server_day(now_ms: int) -> int:
    return (now_ms + 9 * 3600 * 1000) // 86_400_000


@dataclass(frozen=True, slots=True)
class _Clocks:
    """The server's clock beside this process's: a moment on one is read on the other."""

    server_ms: int
    local: datetime

    def local_time(self, server_ms: Any) -> datetime | None:
        """A server moment (ms) as this process's time, or None for none."""
        if server_ms in (None, "", False):
            return None
        return self.local + timedelta(milliseconds=int(float(server_ms)) - self.server_ms)


class SharedState:
    """One pool's state on a Redis or Valkey server: the blocking side, for loading the view,
    the commands that change a key by hand, export and import, and replaying the journal."""

    def __init__(self, settings: Settings) -> None:
        if settings.state_url is None:
            raise ValueError("no KTO_STATE_URL")
        self.settings = settings
        self.url = settings.state_url
        self.shown_url = mask_url(settings.state_url)
        self.timeout_s = settings.state_timeout_s
        self.journal = journal_path(settings)
        self._client: redis.Redis | None = None

    # --- connections ---------------------------------------------------------------------
    def _options(self) -> dict[str, Any]:
        return {
            "socket_timeout": self.timeout_s,
            "socket_connect_timeout": self.timeout_s,
            "decode_responses": True,
            # A lost server is reported at once: the run stops and keeps its work.
            "retry": Retry(NoBackoff(), 0),
            "retry_on_timeout": False,
        }

    def client(self) -> redis.Redis:
        """The blocking client (made once)."""
        if self._client is None:
            self._client = redis.Redis.from_url(client_url(self.url), **self._options())
        return self._client

    def lost(self, error: BaseException, during_run: bool = False) -> SharedStateLostError:
        """The error that stops a command: the masked URL and what the library said."""
        reason = str(error) or type(error).__name__
        return SharedStateLostError(self.shown_url, mask_url(reason), during_run)

    def close(self) -> None:
        """Close the blocking client's connections."""
        if self._client is not None:
            self._client.close()
            self._client = None

    # --- the view ------------------------------------------------------------------------
    def load_view(self, keys: Sequence[ServiceKey], now: datetime) -> dict[str, KeyState]:
        """Every configured key's shared state as this process's view (its usage of the
        server's day shown as today's); raises SharedStateLostError when the server is away."""
        try:
            client = self.client()
            seconds, micros = client.time()
            clocks = _Clocks(int(seconds) * 1000 + int(micros) // 1000, now)
            day = _server_day(clocks.server_ms)
            pipe = client.pipeline(transaction=False)
            for key in keys:
                fp = key.fingerprint
                pipe.hgetall(f"{PREFIX}k:{fp}")
                pipe.hgetall(f"{PREFIX}u:{day}:{fp}")
                pipe.hgetall(f"{PREFIX}cd:{day}:{fp}")
            replies = pipe.execute()
        except _LOST as error:
            raise self.lost(error) from None
        today = kst_day(now)
        states: dict[str, KeyState] = {}
        for position, key in enumerate(keys):
            fate, usage, cooldowns = replies[position * 3 : position * 3 + 3]
            states[key.fingerprint] = _state_of(key.fingerprint, fate, usage, cooldowns, clocks)
            states[key.fingerprint].usage_day = today
        return states

    def server_day(self) -> date:
        """The server's Korea day."""
        try:
            seconds, _ = self.client().time()
        except _LOST as error:
            raise self.lost(error) from None
        return _day_of(_server_day(int(seconds) * 1000))

    # --- by hand, export and import -----------------------------------------------------------
    def put_by_hand(self, state: KeyState, now: datetime) -> None:
        """Write what a person did to a key (disable, enable) at once, in one transaction."""
        fate = f"{PREFIX}k:{state.fingerprint}"
        try:
            client = self.client()
            seconds, micros = client.time()
            clocks = _Clocks(int(seconds) * 1000 + int(micros) // 1000, now)
            pipe = client.pipeline(transaction=True)
            if state.disabled_by_hand:
                pipe.hset(
                    fate, mapping={"disabled": "1", "reason": state.deactivation_reason or ""}
                )
                pipe.hsetnx(fate, "deactivated_at", clocks.server_ms)
            elif state.deactivated_at is None:
                pipe.hdel(fate, "disabled", "reason", "deactivated_at", "cause", "code")
                pipe.hdel(fate, "error_wait_until")
                pipe.hset(fate, "consecutive_errors", 0)
            pipe.execute()
        except _LOST as error:
            raise self.lost(error) from None

    def import_states(self, states: Mapping[str, KeyState], now: datetime) -> int:
        """Write states read from the JSON cache: the fate as it is, and today's usage and
        cool-downs where they are more than the server's (a call counted is never forgotten)."""
        try:
            client = self.client()
            seconds, micros = client.time()
            clocks = _Clocks(int(seconds) * 1000 + int(micros) // 1000, now)
            day = _server_day(clocks.server_ms)
            ends = ((day + 2) * 86_400_000 - 9 * 3600 * 1000) / 1000
            today = kst_day(now)
            for fp, state in states.items():
                usage_key = f"{PREFIX}u:{day}:{fp}"
                current = client.hgetall(usage_key)
                pipe = client.pipeline(transaction=True)
                pipe.delete(f"{PREFIX}k:{fp}")
                pipe.hset(f"{PREFIX}k:{fp}", mapping=_fate_fields(state, clocks))
                if state.usage_day == today:
                    for op, count in {**state.reserved, **state.usage}.items():
                        counted = max(count, state.reserved.get(op, 0), int(current.get(op, 0)))
                        pipe.hset(usage_key, op, counted)
                    if state.usage or state.reserved:
                        pipe.expireat(usage_key, int(ends))
                    cooling = f"{PREFIX}cd:{day}:{fp}"
                    for op, until in state.cooldowns.items():
                        pipe.hset(cooling, op, _server_ms(until, clocks))
                    if state.cooldowns:
                        pipe.expireat(cooling, int(ends))
                pipe.execute()
        except _LOST as error:
            raise self.lost(error) from None
        return len(states)

    # --- the journal ------------------------------------------------------------------------
    def replay_journal(self, now: datetime) -> JournalReplay:
        """Record the outcomes a run could not record before it lost the server; each once.

        A journal that cannot be read, or holds what the record script cannot apply, is set
        aside whole (as a broken key cache is, stamped with `now`) and nothing of it is replayed.
        """
        if not self.journal.exists():
            return JournalReplay(self.journal, 0)
        with FileLock(str(self.journal) + ".lock", timeout=JOURNAL_LOCK_S):
            read = read_journal(self.journal, now)
            if isinstance(read, JournalSetAside):
                return JournalReplay(self.journal, 0, read)
            try:
                script = self.client().register_script(RECORD_SCRIPT)
                for facts in read:  # each recorded once, however often it is replayed
                    script(keys=[], args=[PREFIX, json.dumps(facts)])
            except _LOST as error:
                raise self.lost(error) from None
            self.journal.unlink(missing_ok=True)
        return JournalReplay(self.journal, len(read))

    # --- the run --------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def gate(self, limit_of: LimitOf) -> AsyncIterator[SharedGate]:
        """The asyncio side for one run's calls: acquire and record, each one round trip."""
        client = redis.asyncio.Redis.from_url(client_url(self.url), **self._options())
        gate = SharedGate(self, client, limit_of)
        try:
            yield gate
        finally:
            with contextlib.suppress(*_LOST):
                await client.aclose()


class SharedGate:
    """Admits each lease the local pool hands out through the acquire script, and records each
    outcome through the record script; once the server is lost, admits nothing more and keeps
    the outcomes of the calls still in flight in the journal."""

    def __init__(self, state: SharedState, client: redis.asyncio.Redis, limit_of: LimitOf) -> None:
        self.state = state
        self._acquire = client.register_script(ACQUIRE_SCRIPT)
        self._record = client.register_script(RECORD_SCRIPT)
        self._limit_of = limit_of
        self.lost: SharedStateLostError | None = None
        # A journal found broken when an outcome was added to it (set aside, the outcome kept).
        self.set_aside: list[JournalSetAside] = []
        self._lease_ttl_ms = max(1, int(state.settings.request_deadline_s * LEASE_SPAN * 1000))

    async def admit(self, lease: Lease, pool: KeyPool, now: datetime) -> Grant | Refused:
        """Count the call on the server; or refuse it, give the pool its count back, and bring
        the pool's view of the key to what the server knows (the pool then picks another key)."""
        if self.lost is not None:
            raise self.lost
        key = lease.key
        limit = self._limit_of(key)
        lease_id = uuid.uuid4().hex
        args: list[str | int] = [
            PREFIX,
            key.fingerprint,
            lease.operation,
            limit,
            lease_id,
            self._lease_ttl_ms,
        ]
        try:
            reply = await self._acquire(keys=[], args=[*args, "1" if lease.probe else "0"])
        except _LOST as error:
            self.lost = self.state.lost(error, during_run=True)
            pool.record_outcome(lease, unsent("shared state lost"), now)
            raise self.lost from None
        verdict = str(reply[0])
        if verdict == "ok":
            clocks = _Clocks(int(reply[4]), now)
            used = int(reply[2])
            view = pool.peek(key)
            view.usage[lease.operation] = max(view.usage.get(lease.operation, 0), used)
            deadline = clocks.local_time(reply[1]) or now
            return Grant(
                lease_id,
                key.fingerprint,
                lease.operation,
                lease.probe,
                int(reply[3]),
                used,
                deadline,
            )
        clocks = _Clocks(int(reply[5]), now)
        refused = Refused(
            Refusal(verdict),
            clocks.local_time(reply[1]),
            int(reply[2]),
            str(reply[3]) or None,
            str(reply[4]) or None,
        )
        pool.record_outcome(lease, unsent("refused by the shared state"), now)  # no call made
        apply_refusal(pool.state(key), refused, lease.operation, limit, now)
        return refused

    async def settle(
        self,
        grant: Grant,
        lease: Lease,
        before: Fate,
        pool: KeyPool,
        outcome: Outcome,
        events: list[PoolEvent],
        now: datetime,
        extra_sends: int = 0,
    ) -> None:
        """Record the call's outcome on the server (idempotent by lease); when the server is
        lost, keep it in the journal instead, for the next run to replay."""
        state = pool.peek(lease.key)
        facts = record_facts(grant, before, state, outcome, events, now, extra_sends)
        await self._send(facts, state)

    async def _send(self, facts: dict[str, Any], state: KeyState | None) -> None:
        if self.lost is None:
            try:
                reply = await self._record(keys=[], args=[PREFIX, json.dumps(facts)])
            except _LOST as error:
                self.lost = self.state.lost(error, during_run=True)
            else:
                if state is not None:
                    state.consecutive_errors = int(reply[1])
                return
        broken = append_journal(self.state.journal, facts)
        if broken is not None:
            self.set_aside.append(broken)


# --- the journal file ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class JournalSetAside:
    """The journal could not be used: why, the bad field or the system's words, and where the
    file went (None: it could not be moved, and stays where it is). Nothing of it was replayed."""

    path: Path
    why: str  # "corrupt", "invalid" (an entry the record script cannot apply) or "unreadable"
    moved_to: Path | None = None
    detail: str | None = None  # the field, if invalid; the system's words, if unreadable
    code: str | None = None  # the errno name (`EACCES`, `EISDIR`, ...), if unreadable


@dataclass(frozen=True, slots=True)
class JournalReplay:
    """What opening the shared pool did with the journal: outcomes replayed, or the file set aside."""

    path: Path
    replayed: int
    set_aside: JournalSetAside | None = None


def read_journal(path: Path, now: datetime) -> list[dict[str, Any]] | JournalSetAside:
    """The outcomes waiting in the journal (none when there is no file); a file that cannot be
    read or used is set aside whole, stamped with `now`, and said so (never emptied unread)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except UnicodeDecodeError:
        return _set_aside(path, "corrupt", now)
    except OSError as error:
        number = error.errno
        code = errno.errorcode.get(number) if number is not None else None
        return _set_aside(path, "unreadable", now, error.strerror or type(error).__name__, code)
    try:
        return journal_entries(json.loads(text))
    except JournalInvalid as invalid:
        return _set_aside(path, "invalid", now, invalid.field)
    except (JournalCorrupt, ValueError, RecursionError):
        return _set_aside(path, "corrupt", now)


def _set_aside(
    path: Path, why: str, now: datetime, detail: str | None = None, code: str | None = None
) -> JournalSetAside:
    return JournalSetAside(path, why, set_aside(path, why, now), detail, code)


def append_journal(path: Path, facts: dict[str, Any]) -> JournalSetAside | None:
    """Add one outcome to the journal, replacing the file in one step (under its sidecar lock:
    the processes of one host share it). A journal found broken is set aside first (stamped with
    its own time), never written over, and returned, so that it can be said."""
    make_folder(path)
    broken: JournalSetAside | None = None
    with FileLock(str(path) + ".lock", timeout=JOURNAL_LOCK_S):
        read = read_journal(path, modified_at(path))
        if isinstance(read, JournalSetAside):
            broken, read = read, []
        read.append(facts)
        text = json.dumps({"schema": JOURNAL_SCHEMA, "records": read}, ensure_ascii=False) + "\n"
        atomic_write_text(path, text)
    return broken


# --- states in and out ------------------------------------------------------------------------
def _state_of(
    fp: str,
    fate: Mapping[str, str],
    usage: Mapping[str, str],
    cooldowns: Mapping[str, str],
    clocks: _Clocks,
) -> KeyState:
    """A key's shared state as a KeyState of this process (its times on this process's clock)."""
    error = _error_of(fate.get("last_error"), clocks)
    state = KeyState(
        fingerprint=fp,
        first_seen=clocks.local_time(fate.get("first_seen")) or clocks.local,
        usage={op: int(count) for op, count in usage.items() if int(count) > 0},
        total_calls=max(0, int(fate.get("total_calls", 0))),
        total_successes=int(fate.get("total_successes", 0)),
        total_errors=int(fate.get("total_errors", 0)),
        consecutive_errors=int(fate.get("consecutive_errors", 0)),
        last_error=error,
        last_success=clocks.local_time(fate.get("last_success")),
        latency_ms_avg=float(fate["latency_ms_avg"]) if fate.get("latency_ms_avg") else None,
        error_wait_until=_future(clocks.local_time(fate.get("error_wait_until")), clocks),
        pause_until=_future(clocks.local_time(fate.get("pause_until")), clocks),
        cooldowns={
            op: when
            for op, until in cooldowns.items()
            if (when := clocks.local_time(until)) is not None and when > clocks.local
        },
        deactivated_at=clocks.local_time(fate.get("deactivated_at")),
        deactivation_cause=_cause(fate.get("cause")),
        deactivation_code=fate.get("code") or None,
        deactivation_reason=fate.get("reason") or None,
        disabled_by_hand=fate.get("disabled") == "1",
    )
    return state


def _future(when: datetime | None, clocks: _Clocks) -> datetime | None:
    return when if when is not None and when > clocks.local else None


def _cause(text: str | None) -> DeactivationCause | None:
    if not text:
        return None
    try:
        return DeactivationCause(text)
    except ValueError:
        return DeactivationCause.TOO_MANY_ERRORS


def _error_of(text: str | None, clocks: _Clocks) -> ErrorRecord | None:
    if not text:
        return None
    try:
        data = json.loads(text)
        return ErrorRecord(
            data.get("code"),
            str(data.get("symbol", "")),
            str(data.get("message", "")),
            clocks.local_time(data.get("at")) or clocks.local,
            str(data.get("kind", "")),
        )
    except (ValueError, TypeError, AttributeError):
        return None


def _server_ms(when: datetime, clocks: _Clocks) -> int:
    return clocks.server_ms + int((when - clocks.local).total_seconds() * 1000)


def _fate_fields(state: KeyState, clocks: _Clocks) -> dict[Any, Any]:
    """A key state's fate as the hash k:{fp} holds it (times on the server's clock)."""
    fields: dict[str, str | int | float] = {
        "first_seen": _server_ms(state.first_seen, clocks),
        "total_calls": state.total_calls,
        "total_successes": state.total_successes,
        "total_errors": state.total_errors,
        "consecutive_errors": state.consecutive_errors,
    }
    optional: dict[str, datetime | None] = {
        "last_success": state.last_success,
        "deactivated_at": state.deactivated_at,
        "pause_until": state.pause_until,
        "error_wait_until": state.error_wait_until,
    }
    for name, when in optional.items():
        if when is not None:
            fields[name] = _server_ms(when, clocks)
    if state.deactivation_cause is not None:
        fields["cause"] = str(state.deactivation_cause)
    if state.deactivation_code:
        fields["code"] = state.deactivation_code
    if state.deactivation_reason:
        fields["reason"] = state.deactivation_reason
    if state.disabled_by_hand:
        fields["disabled"] = "1"
    if state.latency_ms_avg is not None:
        fields["latency_ms_avg"] = state.latency_ms_avg
    if state.last_error is not None:
        error = state.last_error
        fields["last_error"] = json.dumps(
            {
                "code": error.code,
                "symbol": error.symbol,
                "message": error.message,
                "kind": error.kind,
                "at": _server_ms(error.at, clocks),
            }
        )
    return fields
