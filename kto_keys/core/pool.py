"""The key pool: per-key state, the policies, and key selection (pure: no I/O, time passed in)."""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Iterable, KeysView, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from kto_keys.core.answers import Outcome
from kto_keys.core.clock import kst_day, next_kst_midnight
from kto_keys.core.codes import OutcomeKind
from kto_keys.core.keys import ServiceKey

# After a per-second refusal (23, or a 429 without a recognised code) the gateway locks the key
# for about 60 s: a growing pause (5, 15, 45, 90, then 120 s; a longer Retry-After wins).
RATE_PAUSES = (timedelta(seconds=5), timedelta(seconds=15), timedelta(seconds=45))
RATE_PAUSE_MAX = timedelta(seconds=120)
# The longest pause the pool makes (what a saved pause is cut to).
MAX_PAUSE = RATE_PAUSE_MAX
# How long the gateway's per-second lock lasts (doc: "about 60 seconds").
PER_SECOND_LOCK = timedelta(seconds=60)
# A 429 without a recognised code is ambiguous (per second, or the day's quota). Once such 429s
# keep coming after the pauses have covered the per-second lock - this many in a row on one key
# and operation, the last at least PER_SECOND_LOCK after the first, with no success between - it
# is that key's daily limit for that operation.
AMBIGUOUS_429_LIMIT = 4
# The one code that says "per second" for sure.
PER_SECOND_CODE = "23"
# Usage is made durable ahead of the calls, this many at a time per key and operation: a kill at
# any moment leaves the cache counting at least what left the machine, and at most this many more.
USAGE_BLOCK = 5
# A lease that reserves a block reserves one for the keys next in line too (each of them at most
# USAGE_BLOCK ahead, as any reservation): a pool of thousands of keys, each used a few times, is
# saved once for this many keys instead of before every call.
RESERVE_AHEAD = 32
# In a larger pool a save covers this share of its keys instead (one save per 3 % of 10,000 keys,
# not per 32): a save writes every key's state, so saves per key must not grow with the pool. A
# kill then leaves at most USAGE_BLOCK calls too many on each of those keys, never too few.
RESERVE_SHARE = 32
# The evidence window: the latest outcomes of every key, to judge a key against the others.
EVIDENCE_WINDOW = 200
# A key is blamed for gateway-type faults only when its run of failures would be this unlikely
# under the error rate the other keys see at the same time.
BLAME_IMPROBABILITY = 1e-9
# How long after issue the portal may still refuse a new key with code 30: not a setting.
ACTIVATION_WINDOW = timedelta(hours=2)


@dataclass(frozen=True, slots=True)
class Policy:
    """The thresholds of the pool; their defaults live once, in the settings (edges/settings.py)."""

    daily_limit: int
    reserve: int
    max_consecutive_errors: int
    rate_limit_cooldown: timedelta
    error_wait: timedelta
    recovery_after: timedelta
    activation_window: timedelta = ACTIVATION_WINDOW

    @property
    def usable_limit(self) -> int:
        """Calls per key and operation this tool may make today, for a key with no limit of its
        own."""
        return max(0, self.daily_limit - self.reserve)

    def limit_of(self, key: ServiceKey) -> int:
        """Calls this key may make per operation today: its own limit (a keys file's or the key
        store's `limit`) or KTO_API_DAILY_LIMIT, less the reserve."""
        own = key.attributes.limit
        return self.usable_limit if own is None else max(0, own - self.reserve)


class DeactivationCause(StrEnum):
    """Why the pool took a key out; what a person should do about it follows from this."""

    EXPIRED = "expired"
    NOT_APPROVED = "not_approved"
    NOT_ACTIVATED_YET = "not_activated_yet"
    NOT_REGISTERED = "not_registered"
    TEMPORARILY_DISABLED = "temporarily_disabled"
    IP_RESTRICTED = "ip_restricted"
    TOO_MANY_ERRORS = "too_many_errors"


_CAUSE_BY_CODE = {
    "20": DeactivationCause.NOT_APPROVED,
    "21": DeactivationCause.TEMPORARILY_DISABLED,
    "30": DeactivationCause.NOT_REGISTERED,
    "31": DeactivationCause.EXPIRED,
    "32": DeactivationCause.IP_RESTRICTED,
}


# A key taken out for one of these (codes 20, 30, 31, 32, or its expiry date passed) is dead for
# good: a standby key takes its place at once.
REPLACED_FOR = frozenset(
    {
        DeactivationCause.EXPIRED,
        DeactivationCause.NOT_APPROVED,
        DeactivationCause.NOT_ACTIVATED_YET,
        DeactivationCause.NOT_REGISTERED,
        DeactivationCause.IP_RESTRICTED,
    }
)


def cause_of_code(code: str | None) -> DeactivationCause:
    """The cause a gateway code stands for; any other code, or none, means errors in a row."""
    return _CAUSE_BY_CODE.get(code or "", DeactivationCause.TOO_MANY_ERRORS)


@dataclass(frozen=True, slots=True)
class ErrorRecord:
    """The last error a key met."""

    code: str | None
    symbol: str
    message: str
    at: datetime
    kind: str


@dataclass(slots=True)
class KeyState:
    """Everything remembered about one key, known by its fingerprint."""

    fingerprint: str
    first_seen: datetime
    usage_day: date | None = None
    usage: dict[str, int] = field(default_factory=dict)
    # Calls made durable ahead of use (see USAGE_BLOCK): the cache counts max(usage, reserved).
    reserved: dict[str, int] = field(default_factory=dict)
    total_calls: int = 0
    total_successes: int = 0
    total_errors: int = 0
    consecutive_errors: int = 0
    last_error: ErrorRecord | None = None
    last_success: datetime | None = None
    latency_ms_avg: float | None = None
    error_wait_until: datetime | None = None
    pause_until: datetime | None = None
    cooldowns: dict[str, datetime] = field(default_factory=dict)
    deactivated_at: datetime | None = None
    # Why, and on which gateway code, the pool took the key out (None: in the pool, or out by hand).
    deactivation_cause: DeactivationCause | None = None
    deactivation_code: str | None = None
    # The words a person gave with `disable --reason`; the pool writes no words of its own.
    deactivation_reason: str | None = None
    disabled_by_hand: bool = False
    # A standby key in use: the fingerprint of the key it replaced, since when, and why.
    standing_in_for: str | None = None
    standing_in_since: datetime | None = None
    standing_in_cause: DeactivationCause | None = None
    # The expiry date the key had when it was taken out as expired: it is probed again only once
    # that date changes (in the keys file or the key store), or by `recover --force`.
    expiry_seen: date | None = None

    @property
    def is_deactivated(self) -> bool:
        """True when the key is out of the pool, by a policy or by hand."""
        return self.deactivated_at is not None or self.disabled_by_hand

    def is_working(self, now: datetime) -> bool:
        """The one definition of a working key: in the pool, by the gateway's word and a person's.

        A spent quota, a cool-down after code 22, a pause of seconds or the short wait after an
        error still count as working: one gateway fault says nothing about a key, and health must
        not turn yellow for it.
        """
        return not self.is_deactivated


class Reason(StrEnum):
    """Why a key can or cannot take a call for an operation now."""

    OK = "ok"
    DISABLED = "disabled"
    DEACTIVATED = "deactivated"
    COOLING = "cooling"
    QUOTA_SPENT = "quota_spent"
    ERROR_WAIT = "error_wait"
    PAUSED = "paused"
    BUSY = "busy"
    STANDBY = "standby"  # a standby key in reserve: used once an active key dies
    # This run, the key got a wrong-URL answer for the operation since the operation's last
    # success: it waits for the others to be tried (all of them too: a configuration error).
    WRONG_URL = "wrong_url"


@dataclass(frozen=True, slots=True)
class Availability:
    """Whether a key may take a call for an operation now, and if not, why and until when."""

    reason: Reason
    until: datetime | None = None

    @property
    def is_ready(self) -> bool:
        """True when the key can take the call this instant."""
        return self.reason is Reason.OK

    @property
    def is_in_play(self) -> bool:
        """True when the key takes calls for the operation today without a cool-down, a new day,
        a recovery or a person: at once, or after a pause, an error wait or a call in flight."""
        return self.reason in _IN_PLAY


_IN_PLAY = frozenset({Reason.OK, Reason.BUSY, Reason.PAUSED, Reason.ERROR_WAIT})


@dataclass(frozen=True, slots=True)
class Lease:
    """A key handed out for one call; `reserved` says its usage block must be saved first."""

    key: ServiceKey
    operation: str
    probe: bool = False
    reserved: bool = False


@dataclass(frozen=True, slots=True)
class Wait:
    """Keys exist but are busy for a moment: try again after a release or `until`."""

    until: datetime | None


@dataclass(frozen=True, slots=True)
class Exhausted:
    """No key can make this call; `key` is usable soonest, at `until` (None: not by waiting)."""

    operation: str
    key: ServiceKey | None
    until: datetime | None
    reason: Reason | None


class EventKind(StrEnum):
    """Things worth a log line."""

    SUCCESS = "success"
    FAILURE = "failure"
    DAILY_LIMIT = "daily_limit"
    QUOTA_SPENT = "quota_spent"
    RATE_LIMITED = "rate_limited"
    DEACTIVATED = "deactivated"
    RECOVERED = "recovered"
    PROBE_FAILED = "probe_failed"
    OUTAGE = "outage"
    OUTAGE_OVER = "outage_over"
    REQUEST_ERROR = "request_error"
    STANDBY_IN = "standby_in"  # a standby key took the place of a dead one
    STANDBY_BACK = "standby_back"  # the replaced key works again: the standby back in reserve


# The outcomes that say whether the gateway works: what keys are judged against one another by.
_EVIDENCE_KINDS = frozenset({OutcomeKind.SUCCESS, OutcomeKind.TRANSIENT})
# Answers about our request, the URL or this machine: no key did anything wrong.
_NOT_THE_KEYS = frozenset(
    {
        OutcomeKind.REQUEST_ERROR,
        OutcomeKind.CONFIG_ERROR,
        OutcomeKind.HOST_BLOCKED,
        OutcomeKind.WRONG_URL,
    }
)


# A change of a key's fate, which another process must see at once: save it now.
_DURABLE = frozenset(
    {
        EventKind.DAILY_LIMIT,
        EventKind.DEACTIVATED,
        EventKind.RECOVERED,
        EventKind.PROBE_FAILED,
        EventKind.OUTAGE,
        EventKind.OUTAGE_OVER,
        EventKind.STANDBY_IN,
        EventKind.STANDBY_BACK,
    }
)


@dataclass(frozen=True, slots=True)
class PoolEvent:
    """One change in the pool, for logs, progress and saving; data only, no sentences."""

    kind: EventKind
    key: ServiceKey
    operation: str
    outcome: Outcome | None = None
    until: datetime | None = None
    cause: DeactivationCause | None = None
    # For STANDBY_IN and STANDBY_BACK: the key the standby stands in for.
    replaced: ServiceKey | None = None

    @property
    def is_durable(self) -> bool:
        """True for a change of a key's fate (out, back, cooling after 22, an outage begun or
        over) that must be saved at once; usage alone can wait for the next periodic save."""
        return self.kind in _DURABLE


class _Slot:
    """One key with its state and what this run knows of it: calls in flight, operations proven."""

    __slots__ = (
        "ambiguous_429",
        "in_flight",
        "key",
        "limit",
        "per_second",
        "position",
        "proven",
        "standby",
        "state",
        "wrong_url",
    )

    def __init__(self, key: ServiceKey, state: KeyState, position: int, limit: int) -> None:
        self.key = key
        self.state = state
        self.position = position  # in the pool's order: ties go to the lowest
        self.limit = limit  # calls per operation today (the key's own limit, or the pool's)
        self.standby = key.attributes.standby
        self.in_flight = 0
        self.proven: set[str] = set()
        # Per-second refusals (23 or an ambiguous 429) in a row, and per operation the 429s
        # without a recognised code in a row with the moment of the first, this run.
        self.per_second = 0
        self.ambiguous_429: dict[str, tuple[int, datetime]] = {}
        # Operations this key got a wrong-URL answer for since their last success, this run.
        self.wrong_url: set[str] = set()


# The members as plain names: reading `Reason.OK` is an enum lookup, too slow for 1,000 keys.
_OK, _DISABLED, _DEACTIVATED, _COOLING = (
    Reason.OK,
    Reason.DISABLED,
    Reason.DEACTIVATED,
    Reason.COOLING,
)
_QUOTA_SPENT, _PAUSED, _BUSY, _ERROR_WAIT, _STANDBY, _WRONG_URL = (
    Reason.QUOTA_SPENT,
    Reason.PAUSED,
    Reason.BUSY,
    Reason.ERROR_WAIT,
    Reason.STANDBY,
    Reason.WRONG_URL,
)


def _rank(slot: _Slot, operation: str) -> int:
    """A key's place in line for an operation: the most quota left comes first."""
    return slot.state.usage.get(operation, 0) - slot.limit


@dataclass(frozen=True, slots=True)
class _Survey:
    """The one rule applied to some keys: the best ready key, the best key in an error wait,
    when busy keys free up (None: at a release), the verdict on the last key surveyed, and the
    calls the keys still in play for the operation today may make (see `pool_quota_left`)."""

    last: Reason
    ready: _Slot | None
    waiting: _Slot | None
    busy_until: list[datetime | None]
    quota_left: int


def _survey(slots: Sequence[_Slot], operation: str, now: datetime) -> _Survey:
    """The one rule: can each key take a call for `operation` now, and if not, why.

    `availability` asks it about one key, `acquire` about all of them in a single pass, so the
    rule is written here only. The order matters: a key taken out says so before any limit, a
    limit of the operation before a pause of seconds, and an error wait comes last because acquire
    still hands out such a key when no other can take the call. A standby key in reserve takes no
    call. Among ready keys (and then among waiting ones) the one with the most quota left (of its
    own limit) wins; ties go to the lowest index.
    """
    ready: _Slot | None = None
    waiting: _Slot | None = None
    ready_rank = waiting_rank = quota_left = 0
    busy_until: list[datetime | None] = []
    verdict = ok = _OK  # a local name: this loop runs before every call, over every key
    for slot in slots:
        state = slot.state
        if state.disabled_by_hand:
            verdict = _DISABLED
            continue
        if state.deactivated_at is not None:
            verdict = _DEACTIVATED
            continue
        if slot.standby and state.standing_in_for is None:
            verdict = _STANDBY
            continue
        if state.cooldowns:
            cooling = state.cooldowns.get(operation)
            if cooling is not None and cooling > now:
                verdict = _COOLING
                continue
        used = state.usage.get(operation, 0)
        rank = used - slot.limit
        if rank >= 0:
            verdict = _QUOTA_SPENT
            continue
        quota_left -= rank  # a pause, a call in flight or an error wait takes none of it away
        if slot.wrong_url and operation in slot.wrong_url:
            verdict = _WRONG_URL
            continue
        pause = state.pause_until
        if pause is not None and pause > now:
            verdict = _PAUSED
            busy_until.append(pause)
            continue
        # Until it answers this operation once, a key carries one call at a time: a dead key
        # costs one call, not one per concurrent caller.
        if slot.in_flight and operation not in slot.proven:
            verdict = _BUSY
            busy_until.append(None)
            continue
        wait = state.error_wait_until
        if wait is not None and wait > now:
            verdict = _ERROR_WAIT
            if rank < waiting_rank:
                waiting, waiting_rank = slot, rank
        else:
            verdict = ok
            if rank < ready_rank:
                ready, ready_rank = slot, rank
    return _Survey(verdict, ready, waiting, busy_until, quota_left)


class _Line:
    """One operation's keys in the order acquire tries them, so that a call costs O(log keys).

    `heap` holds (rank, position) and may hold stale or repeated entries: an entry is checked
    against the key's rank (usage less limit) when it reaches the top, and the key against the one rule (`_survey`)
    only then. A key the rule turns away is set `aside`: until a moment (`timed`, for a pause, a
    cool-down or an error wait) or until the pool wakes it (a call of it ends, a person or a new
    day changes it).
    """

    __slots__ = ("aside", "heap", "timed")

    def __init__(self, slots: Sequence[_Slot], operation: str) -> None:
        # _rank written out: a line of 10,000 keys is built at start-up for every operation.
        self.heap = [
            (slot.state.usage.get(operation, 0) - slot.limit, slot.position) for slot in slots
        ]
        heapq.heapify(self.heap)
        self.aside: set[int] = set()
        self.timed: list[tuple[datetime, int]] = []

    def set_aside(self, slot: _Slot, verdict: Reason, operation: str) -> None:
        """Keep a key out of the heap until it may take a call again."""
        self.aside.add(slot.position)
        state = slot.state
        until: datetime | None = None
        if verdict is _PAUSED:
            until = state.pause_until
        elif verdict is _COOLING:
            until = state.cooldowns.get(operation)
        elif verdict is _ERROR_WAIT:
            until = state.error_wait_until
        if until is not None:
            heapq.heappush(self.timed, (until, slot.position))

    def wake(self, slot: _Slot, operation: str, usage_dropped: bool = False) -> None:
        """Put a key back in line (with its usage, when that may have gone down)."""
        if slot.position in self.aside:
            self.aside.discard(slot.position)
        elif not usage_dropped:
            return  # in line already, with an entry no higher than its usage
        heapq.heappush(self.heap, (_rank(slot, operation), slot.position))

    def wake_due(self, slots: Sequence[_Slot], operation: str, now: datetime) -> None:
        """Keys whose wait ended by `now` go back in line."""
        timed = self.timed
        while timed and timed[0][0] <= now:
            _, position = heapq.heappop(timed)
            self.wake(slots[position], operation)


class KeyPool:
    """Picks keys per operation, records outcomes, and applies every policy.

    Every method that takes `now` first brings the pool to now's Korea day, so whatever it reads
    is today's; the day never moves back.
    """

    def __init__(
        self,
        keys: Sequence[ServiceKey],
        policy: Policy,
        now: datetime,
        states: Mapping[str, KeyState] | None = None,
    ) -> None:
        self.keys = tuple(keys)
        self.policy = policy
        known = states or {}
        self._slots = tuple(
            _Slot(
                key,
                known.get(key.fingerprint) or KeyState(key.fingerprint, now),
                position,
                policy.limit_of(key),
            )
            for position, key in enumerate(self.keys)
        )
        # Per operation, the keys in the order acquire tries them (built at its first call).
        self._lines: dict[str, _Line] = {}
        # Keys whose state someone outside may have changed: back in line at the next acquire.
        self._touched: set[int] = set()
        # Fingerprints whose state changed since the cache last wrote them (or was read).
        self._changed: set[str] = {
            key.fingerprint for key in self.keys if key.fingerprint not in known
        }
        self._slot_of = {slot.key.fingerprint: slot for slot in self._slots}
        if all(slot.standby for slot in self._slots):
            for slot in self._slots:
                slot.standby = False  # standby keys alone: nothing to keep them in reserve for
        self._ahead = max(RESERVE_AHEAD, len(self._slots) // RESERVE_SHARE)
        self._expected: tuple[str, ...] = ()
        self._failed_since_success: set[str] = set()
        self._uncoded_auth: set[str] = set()
        # Per operation, the positions of the keys that got a wrong-URL answer for it since its
        # last success in this run.
        self._wrong_url: dict[str, set[int]] = {}
        self.outage_since: datetime | None = None
        # The latest outcomes of all keys (fingerprint, failed) and their counts per key.
        self._evidence: deque[tuple[str, bool]] = deque()
        self._evidence_calls: dict[str, int] = {}
        self._evidence_failures: dict[str, int] = {}
        self._evidence_failed_total = 0
        # Keys with a run of failures long enough to be blamed once another key shows that the
        # gateway works (a run may span nights: each night's first call can be the failing key's).
        self._suspects: set[str] = {
            slot.key.fingerprint
            for slot in self._slots
            if slot.state.consecutive_errors >= policy.max_consecutive_errors
            and slot.state.deactivated_at is None
        }
        # The Korea day usage counts for. It only moves forward: a clock stepped back across
        # midnight must not reset the day's usage a second time.
        self._day = kst_day(now)
        # What changed without a call (an expiry date passed, a standby back in reserve), for
        # the next caller of `take_news` or `record_outcome`.
        self._news: list[PoolEvent] = []
        self._start_day(self._slots)
        self._new_day(now)

    # --- reading -------------------------------------------------------------------------
    def state(self, key: ServiceKey) -> KeyState:
        """The state of one key, which the caller may change: selection and the next save look
        at it again. Code that only reads uses `peek`, which costs nothing later."""
        slot = self._slot_of[key.fingerprint]
        self._touched.add(slot.position)
        self._changed.add(slot.key.fingerprint)
        return slot.state

    def peek(self, key: ServiceKey) -> KeyState:
        """The state of one key, to read only (a change made through it goes unseen)."""
        return self._slot_of[key.fingerprint].state

    def states(self) -> dict[str, KeyState]:
        """Every state, by fingerprint, to read (what the cache saves)."""
        return {slot.key.fingerprint: slot.state for slot in self._slots}

    def fingerprints(self) -> KeysView[str]:
        """Every key's fingerprint, as a view: nothing is copied (a save of 10,000 keys asks)."""
        return self._slot_of.keys()

    def states_of(self, fingerprints: Iterable[str]) -> dict[str, KeyState]:
        """The states of those of these keys that are in the pool, by fingerprint, to read."""
        slot_of = self._slot_of
        return {fp: slot_of[fp].state for fp in fingerprints if fp in slot_of}

    def changed_states(self) -> dict[str, KeyState]:
        """The states changed since the cache last wrote them (see `mark_saved`)."""
        return self.states_of(self._changed)

    def mark_saved(self, fingerprints: Iterable[str]) -> None:
        """These states are in the cache file as they are now."""
        self._changed.difference_update(fingerprints)

    def replace_states(self, states: Mapping[str, KeyState]) -> None:
        """Adopt states merged with another process's saves."""
        for fingerprint, state in states.items():
            slot = self._slot_of.get(fingerprint)
            if slot is not None:
                slot.state = state
                self._touched.add(slot.position)
        if len(self._touched) > RESERVE_AHEAD:
            self._touched.clear()
            self._lines.clear()  # most keys changed: cheaper to build the lines anew
        self._start_day(self._slots)

    def used(self, key: ServiceKey, operation: str) -> int:
        """Calls made with this key for this operation on the latest day the pool was given."""
        return self.peek(key).usage.get(operation, 0)

    def quota_left(self, key: ServiceKey, operation: str) -> int:
        """Calls this key may still make for this operation on the latest day the pool was given."""
        return max(0, self.limit_of(key) - self.used(key, operation))

    def limit_of(self, key: ServiceKey) -> int:
        """Calls this key may make per operation a day (its own limit, or the pool's)."""
        return self._slot_of[key.fingerprint].limit

    def daily_capacity(self, now: datetime) -> int:
        """Calls per operation a day of the working keys in use (standby keys in reserve aside)."""
        self._roll_day(now)
        return sum(
            slot.limit
            for slot in self._slots
            if slot.state.is_working(now) and not self._in_reserve(slot)
        )

    def probe_due(self, key: ServiceKey) -> datetime | None:
        """When a key taken out may be probed (None: not out, or expired: it waits for a new
        expiry date, or `recover --force`)."""
        return _probe_due(self.peek(key), self.policy)

    def stands_in_for(self, key: ServiceKey) -> ServiceKey | None:
        """The key this standby key replaced (None: it replaced none, or that key is gone)."""
        replaced = self.peek(key).standing_in_for
        slot = self._slot_of.get(replaced) if replaced else None
        return slot.key if slot is not None else None

    def expect(self, operations: Iterable[str]) -> None:
        """The operations this run will call. A usage block reserved on a key for one of them is
        reserved for all: one save covers the key's calls of every operation (a kill leaves at
        most USAGE_BLOCK calls too many per operation on it, never too few)."""
        self._expected = tuple(dict.fromkeys(operations))

    def take_news(self) -> list[PoolEvent]:
        """What changed in the pool without a call (expiry dates, standby keys), once."""
        news, self._news = self._news, []
        return news

    def usage_today(self, key: ServiceKey, now: datetime) -> dict[str, int]:
        """Calls made with this key today, per operation."""
        self._roll_day(now)
        return dict(self.peek(key).usage)

    def is_working(self, key: ServiceKey, now: datetime) -> bool:
        """True when the key works (see KeyState.is_working): health, status and the plan ask this."""
        self._roll_day(now)
        return self.peek(key).is_working(now)

    def working_keys(self, now: datetime) -> list[ServiceKey]:
        """The keys that work now, in index order."""
        self._roll_day(now)
        return [slot.key for slot in self._slots if slot.state.is_working(now)]

    def deactivated_keys(self) -> list[ServiceKey]:
        """The keys out of the pool (by a policy or by hand), in index order."""
        return [slot.key for slot in self._slots if slot.state.is_deactivated]

    def pool_quota_left(self, operation: str, now: datetime) -> int:
        """Calls the working keys may still make today for this operation.

        A key cooling after code 22 for the operation adds nothing: the gateway said it is spent;
        nor does a standby key in reserve. The one rule sums it in a single pass over the keys.
        """
        self._roll_day(now)
        return _survey(self._slots, operation, now).quota_left

    def availability(self, key: ServiceKey, operation: str, now: datetime) -> Availability:
        """Whether `key` may take a call for `operation` now, and if not, why and until when."""
        self._roll_day(now)
        return self._availability(self._slot_of[key.fingerprint], operation, now)

    def is_usable(self, key: ServiceKey, operation: str, now: datetime) -> bool:
        """True when the key is in play for the operation today (see Availability.is_in_play)."""
        return self.availability(key, operation, now).is_in_play

    def is_proven(self, key: ServiceKey, operation: str) -> bool:
        """True once the key answered this operation successfully in this run."""
        return operation in self._slot_of[key.fingerprint].proven

    def in_flight(self, key: ServiceKey) -> int:
        """Calls under way with this key."""
        return self._slot_of[key.fingerprint].in_flight

    def recovery_candidates(self, now: datetime, force: bool = False) -> list[ServiceKey]:
        """Deactivated keys whose recovery time has come (all of them with `force`)."""
        self._roll_day(now)
        due = []
        for key in self.keys:
            state = self.peek(key)
            if state.deactivated_at is None or state.disabled_by_hand:
                continue
            probe_at = _probe_due(state, self.policy)
            if force or (probe_at is not None and probe_at <= now):
                due.append(key)
            elif probe_at is None and self._expiry_renewed(key, now):
                due.append(key)  # an expired key given a new date: worth a probe at once
        return due

    def awaiting_expiry_date(self, now: datetime) -> list[ServiceKey]:
        """Expired keys no probe tries by time: each waits until its expiry date changes (in
        the keys file or the store), or `recover --force`."""
        self._roll_day(now)
        return [
            key
            for key in self.keys
            if (state := self.peek(key)).deactivated_at is not None
            and not state.disabled_by_hand
            and _probe_due(state, self.policy) is None
            and not self._expiry_renewed(key, now)
        ]

    def _expiry_renewed(self, key: ServiceKey, now: datetime) -> bool:
        """True when an expired key was given an expiry date other than the one it died with,
        and that date has not passed."""
        expires = key.attributes.expires
        return (
            expires is not None
            and expires != self.peek(key).expiry_seen
            and expires >= kst_day(now)
        )

    def next_usable(self, operation: str, now: datetime) -> Exhausted:
        """Which key is usable soonest for the operation, and when."""
        self._roll_day(now)
        best: tuple[datetime, ServiceKey, Reason] | None = None
        for slot in self._slots:
            availability = self._availability(slot, operation, now)
            if availability.until is None:
                continue
            if best is None or availability.until < best[0]:
                best = (availability.until, slot.key, availability.reason)
        if best is None:
            return Exhausted(operation, None, None, None)
        return Exhausted(operation, best[1], best[0], best[2])

    # --- choosing ------------------------------------------------------------------------
    def acquire(self, operation: str, now: datetime) -> Lease | Wait | Exhausted:
        """Hand out the best key for the operation (see `_survey`) and count the call against it.

        The best ready key comes from the operation's line in O(log keys); only when no key is
        ready does the one rule go over every key (for a key in an error wait, a wait or the
        soonest key), as it always did.
        """
        self._roll_day(now)
        line = self._line(operation, now)
        ready = self._pop_ready(line, operation, now)
        if ready is not None:
            reserved = self._count_call(ready, operation)
            heapq.heappush(line.heap, (_rank(ready, operation), ready.position))
            if reserved:
                self._reserve_ahead(line, operation, now)
            return Lease(ready.key, operation, reserved=reserved)
        survey = _survey(self._slots, operation, now)
        chosen = survey.ready or survey.waiting
        if chosen is not None:
            reserved = self._count_call(chosen, operation)
            return Lease(chosen.key, operation, reserved=reserved)
        if survey.busy_until:
            known = [moment for moment in survey.busy_until if moment is not None]
            return Wait(None if len(known) < len(survey.busy_until) else min(known))
        return self.next_usable(operation, now)

    def begin_probe(self, key: ServiceKey, operation: str, now: datetime) -> Lease:
        """Hand out a deactivated key for one recovery probe."""
        self._roll_day(now)
        reserved = self._count_call(self._slot_of[key.fingerprint], operation)
        return Lease(key, operation, probe=True, reserved=reserved)

    def lease_key(self, key: ServiceKey, operation: str, now: datetime) -> Lease:
        """Hand out one given key for a test call; a deactivated key's call is a probe."""
        state = self.peek(key)
        if state.deactivated_at is not None and not state.disabled_by_hand:
            return self.begin_probe(key, operation, now)
        self._roll_day(now)
        reserved = self._count_call(self._slot_of[key.fingerprint], operation)
        return Lease(key, operation, reserved=reserved)

    def release_reservations(self) -> None:
        """Give back the usage reserved ahead and not used: a clean end counts exactly."""
        for slot in self._slots:
            if slot.state.reserved:
                slot.state.reserved.clear()
                self._changed.add(slot.key.fingerprint)

    def count_resent(self, lease: Lease, times: int) -> bool:
        """The HTTP library sent the request again on its own: the gateway counts each send.

        True when that needs another block reserved (save before the next request leaves).
        """
        slot = self._slot_of[lease.key.fingerprint]
        state = slot.state
        state.usage[lease.operation] = state.usage.get(lease.operation, 0) + times
        state.total_calls += times
        self._changed.add(lease.key.fingerprint)
        return self._reserve(state, lease.operation)

    # --- recording -----------------------------------------------------------------------
    def record_outcome(
        self, lease: Lease, outcome: Outcome, now: datetime, latency_s: float | None = None
    ) -> list[PoolEvent]:
        """Apply the policy for one answer and say what changed (a standby key stepping in for
        a key it took out, too)."""
        events = self._record_outcome(lease, outcome, now, latency_s)
        if self._news:
            events += self.take_news()
        return events

    def _record_outcome(
        self, lease: Lease, outcome: Outcome, now: datetime, latency_s: float | None
    ) -> list[PoolEvent]:
        self._roll_day(now)
        key, operation = lease.key, lease.operation
        slot = self._slot_of[key.fingerprint]
        slot.in_flight = max(0, slot.in_flight - 1)
        state = slot.state
        self._changed.add(key.fingerprint)
        if outcome.kind is OutcomeKind.UNSENT:
            # Nothing left the machine: no usage, no verdict on the key.
            state.usage[operation] = max(0, state.usage.get(operation, 0) - 1)
            state.total_calls = max(0, state.total_calls - 1)
            self._wake(slot, usage_dropped=True)
            return []
        # The call ended: a key that carried one call at a time (or waited) may take the next.
        self._wake(slot)
        if latency_s is not None:
            sample = latency_s * 1000
            previous = state.latency_ms_avg
            state.latency_ms_avg = sample if previous is None else previous * 0.8 + sample * 0.2
        if lease.probe:
            return self._record_probe(key, operation, outcome, now)
        kind = outcome.kind
        self._note_evidence(key.fingerprint, kind)
        if kind is OutcomeKind.SUCCESS:
            return self._record_success(key, operation, outcome, now)
        if kind is OutcomeKind.WRONG_URL:
            # Not the key's fault, but no reason to send it the same call again before every
            # other key has had it: one wrong-URL answer per key, then a configuration error.
            slot.wrong_url.add(operation)
            slot.proven.discard(operation)
            self._wrong_url.setdefault(operation, set()).add(slot.position)
        if kind in _NOT_THE_KEYS:
            return [PoolEvent(EventKind.REQUEST_ERROR, key, operation, outcome)]
        if kind is OutcomeKind.RATE_LIMIT:
            return [self._rate_limited(slot, operation, outcome, now)]
        if kind is OutcomeKind.DAILY_LIMIT:
            return [self._cool_down(key, operation, outcome, now)]
        if kind is OutcomeKind.KEY_UNUSABLE:
            self._note_error(state, outcome, now)
            if state.deactivated_at is not None:
                return []  # a call in flight when the key went out: the same news, told once
            cause = self._cause_of(state, outcome, now)
            return [self._deactivate(key, operation, outcome, now, cause)]
        return self._record_transient(key, operation, outcome, now)

    def deactivate_by_hand(self, key: ServiceKey, reason: str | None, now: datetime) -> None:
        """Take a key out of the pool until it is enabled again; `reason` is the person's words."""
        self._roll_day(now)
        state = self.state(key)  # marks it changed
        state.disabled_by_hand = True
        state.deactivation_reason = reason
        state.deactivated_at = state.deactivated_at or now

    def enable_by_hand(self, key: ServiceKey) -> None:
        """Put a key back, whatever took it out."""
        self._reactivate(self.state(key))  # state() puts it back in line at the next acquire

    def wrong_url_everywhere(self, operation: str, now: datetime) -> bool:
        """True when every key that may take the operation today got a wrong-URL answer for it
        since its last success in this run: the URL is wrong, not a passing fault."""
        if not self._wrong_url.get(operation):
            return False
        self._roll_day(now)
        return not any(self._availability(slot, operation, now).is_in_play for slot in self._slots)

    def uncoded_auth_everywhere(self) -> bool:
        """True when every key in the pool was refused with a bare 401/403 this run."""
        candidates = {key.fingerprint for key in self.keys if not self.peek(key).is_deactivated}
        return len(candidates) >= 2 and candidates <= self._uncoded_auth

    def usable_count(self, operation: str, now: datetime) -> int:
        """How many keys are in play for the operation today (see Availability.is_in_play)."""
        self._roll_day(now)
        return sum(1 for slot in self._slots if self._availability(slot, operation, now).is_in_play)

    # --- internals -----------------------------------------------------------------------
    def _line(self, operation: str, now: datetime) -> _Line:
        """The operation's line, with keys changed from outside or done waiting back in it."""
        line = self._lines.get(operation)
        if line is None:
            line = self._lines[operation] = _Line(self._slots, operation)
        if self._touched:
            for position in self._touched:
                for operation_of, other in self._lines.items():
                    other.wake(self._slots[position], operation_of, usage_dropped=True)
            self._touched.clear()
        line.wake_due(self._slots, operation, now)
        return line

    def _pop_ready(self, line: _Line, operation: str, now: datetime) -> _Slot | None:
        """Take the best key that the one rule lets take a call now out of the line: the least
        used, then the lowest position, as `_survey` picks; keys it turns away are set aside."""
        heap, slots = line.heap, self._slots
        while heap:
            rank, position = heap[0]
            slot = slots[position]
            current = slot.state.usage.get(operation, 0) - slot.limit
            if current != rank:  # a stale entry: the key's usage moved since it was queued
                heapq.heapreplace(heap, (current, position))
                continue
            heapq.heappop(heap)
            verdict = _survey((slot,), operation, now).last
            if verdict is _OK:
                line.aside.discard(position)
                return slot
            line.set_aside(slot, verdict, operation)
        return None

    def _reserve_ahead(self, line: _Line, operation: str, now: datetime) -> None:
        """Reserve a block for the keys next in line too, so that one save covers them."""
        taken: list[_Slot] = []
        while len(taken) < self._ahead:
            slot = self._pop_ready(line, operation, now)
            if slot is None:
                break
            taken.append(slot)
        for slot in taken:
            state = slot.state
            used = state.usage.get(operation, 0)
            if used >= state.reserved.get(operation, 0):
                state.reserved[operation] = used + USAGE_BLOCK
                self._reserve_expected(state, operation)
                self._changed.add(slot.key.fingerprint)
            heapq.heappush(line.heap, (used - slot.limit, slot.position))

    def _wake(self, slot: _Slot, usage_dropped: bool = False) -> None:
        """A pool event may have made the key usable again: back in every line."""
        for operation, line in self._lines.items():
            line.wake(slot, operation, usage_dropped)

    def _availability(self, slot: _Slot, operation: str, now: datetime) -> Availability:
        """The one rule's verdict on one key, with the moment it ends."""
        state = slot.state
        reason = _survey((slot,), operation, now).last
        until: datetime | None = None
        if reason is Reason.DEACTIVATED:
            until = _probe_due(state, self.policy)
        elif reason is Reason.COOLING:
            until = state.cooldowns[operation]
        elif reason is Reason.QUOTA_SPENT:
            until = next_kst_midnight(now)
        elif reason is Reason.PAUSED:
            until = state.pause_until
        elif reason is Reason.ERROR_WAIT:
            until = state.error_wait_until
        return Availability(reason, until)

    def _roll_day(self, now: datetime) -> None:
        """Every entry that takes `now` calls this first, so no reading sees yesterday's usage."""
        today = kst_day(now)
        if today > self._day:
            self._day = today
            self._start_day(self._slots)
            self._new_day(now)

    def _new_day(self, now: datetime) -> None:
        """Keys whose expiry date passed go out (a standby takes their place); a standby whose
        replaced key works again goes back in reserve, the day after it stepped in."""
        today = self._day
        for slot in self._slots:
            state, expires = slot.state, slot.key.attributes.expires
            if (
                expires is not None
                and expires < today
                and state.deactivated_at is None
                and state.expiry_seen != expires
            ):
                passed = Outcome(OutcomeKind.KEY_UNUSABLE, None, "", "")  # no answer: no words
                at = len(self._news)  # the key's going out comes before its standby stepping in
                out = self._deactivate(slot.key, "", passed, now, DeactivationCause.EXPIRED)
                self._news.insert(at, out)
        self._replace_the_dead(now)
        for slot in self._slots:
            state = slot.state
            since, replaced = state.standing_in_since, state.standing_in_for
            if since is None or replaced is None or kst_day(since) >= today:
                continue
            other = self._slot_of.get(replaced)
            if other is not None and other.state.is_deactivated:
                continue
            state.standing_in_for = state.standing_in_since = state.standing_in_cause = None
            self._changed.add(slot.key.fingerprint)
            if slot.standby and other is not None:
                self._news.append(
                    PoolEvent(EventKind.STANDBY_BACK, slot.key, "", replaced=other.key)
                )

    def _start_day(self, slots: Sequence[_Slot]) -> None:
        """Usage from before the pool's day is gone; a spent quota's cool-downs end with it."""
        day = self._day
        started = False
        for slot in slots:
            state = slot.state
            # A later day (another process whose clock is ahead) keeps its usage.
            if state.usage_day is None or state.usage_day < day:
                if state.usage_day is not None and state.usage:
                    state.cooldowns.clear()
                if state.usage or state.reserved:  # (a key unused so far changes in nothing)
                    self._changed.add(slot.key.fingerprint)
                    started = True
                state.usage_day = day
                state.usage = {}
                state.reserved = {}
        if started:
            self._lines.clear()  # usage went back to nothing: every line is built anew

    def _count_call(self, slot: _Slot, operation: str) -> bool:
        """Count a call; True when a new usage block was reserved (save before it leaves)."""
        state = slot.state
        state.usage[operation] = state.usage.get(operation, 0) + 1
        state.total_calls += 1
        slot.in_flight += 1
        self._changed.add(slot.key.fingerprint)
        return self._reserve(state, operation)

    def _reserve(self, state: KeyState, operation: str) -> bool:
        used = state.usage[operation]
        if used <= state.reserved.get(operation, 0):
            return False
        state.reserved[operation] = used + USAGE_BLOCK - 1
        self._reserve_expected(state, operation)
        return True

    def _reserve_expected(self, state: KeyState, operation: str) -> None:
        """A block reserved on a key for one operation is reserved for the run's others too."""
        for other in self._expected:
            if other != operation:
                used = state.usage.get(other, 0)
                if used >= state.reserved.get(other, 0):
                    state.reserved[other] = used + USAGE_BLOCK

    def _rate_limited(
        self, slot: _Slot, operation: str, outcome: Outcome, now: datetime
    ) -> PoolEvent:
        """A per-second refusal pauses the key longer each time while other keys work. A 429
        without a recognised code pauses it the same way, and becomes the day's limit for the
        operation only once it outlasts the per-second lock: a spent quota may answer nothing
        but the status, and a lock of 60 s must not cost a key its day."""
        state, key = slot.state, slot.key
        if outcome.code != PER_SECOND_CODE:
            count, since = slot.ambiguous_429.get(operation, (0, now))
            count += 1
            if count >= AMBIGUOUS_429_LIMIT and now - since >= PER_SECOND_LOCK:
                slot.ambiguous_429.pop(operation, None)
                slot.per_second = 0  # the lock is over: a later refusal starts a pause anew
                return self._cool_down(key, operation, outcome, now)
            slot.ambiguous_429[operation] = (count, since)
        pause = RATE_PAUSES[min(slot.per_second, len(RATE_PAUSES) - 1)]
        if slot.per_second >= len(RATE_PAUSES):
            pause = min(RATE_PAUSE_MAX, pause * 2 ** (slot.per_second - len(RATE_PAUSES) + 1))
        slot.per_second += 1
        # After the pause the key carries one call at a time until one succeeds: a burst would
        # start another lock, and only a refusal of a call sent after the pause says the 429s
        # keep coming.
        slot.proven.discard(operation)
        if outcome.retry_after:
            pause = max(pause, min(timedelta(seconds=outcome.retry_after), RATE_PAUSE_MAX))
        state.pause_until = now + pause
        return PoolEvent(EventKind.RATE_LIMITED, key, operation, outcome, state.pause_until)

    def _note_evidence(self, fingerprint: str, kind: OutcomeKind) -> None:
        """Keep the latest outcomes of all keys: a key's failures are judged against the others'."""
        if kind not in _EVIDENCE_KINDS:
            return
        failed = kind is not OutcomeKind.SUCCESS
        self._evidence.append((fingerprint, failed))
        self._evidence_calls[fingerprint] = self._evidence_calls.get(fingerprint, 0) + 1
        if failed:
            self._evidence_failures[fingerprint] = self._evidence_failures.get(fingerprint, 0) + 1
            self._evidence_failed_total += 1
        if len(self._evidence) > EVIDENCE_WINDOW:
            old, old_failed = self._evidence.popleft()
            self._evidence_calls[old] -= 1
            if old_failed:
                self._evidence_failures[old] -= 1
                self._evidence_failed_total -= 1

    def _blame_suspects(self, operation: str, outcome: Outcome, now: datetime) -> list[PoolEvent]:
        """Another key just succeeded: keys whose run of failures is now their own go out."""
        events = []
        for fingerprint in list(self._suspects):
            slot = self._slot_of[fingerprint]
            state = slot.state
            if state.deactivated_at is not None or state.consecutive_errors == 0:
                self._suspects.discard(fingerprint)
            elif state.consecutive_errors >= self._errors_to_blame(fingerprint):
                self._suspects.discard(fingerprint)
                error = state.last_error
                failure = Outcome(
                    OutcomeKind.TRANSIENT,
                    error.code if error else None,
                    error.symbol if error else "",
                    error.message if error else "",
                )
                cause = DeactivationCause.TOO_MANY_ERRORS
                events.append(self._deactivate(slot.key, operation, failure, now, cause))
        return events

    def _errors_to_blame(self, fingerprint: str) -> float:
        """How many failures in a row take this key out, given what the other keys see.

        A transport fault, a 5xx or a gateway code says something about the gateway, not the key,
        unless the other keys succeed meanwhile. With an error rate p among the other keys' recent
        calls, a run of n failures is the key's own when p**n is negligible; with no other key at
        work (a one-key pool, or all failing) nothing can be told apart, and no key is blamed.
        """
        others = len(self._evidence) - self._evidence_calls.get(fingerprint, 0)
        if others <= 0:
            return math.inf
        failed = self._evidence_failed_total - self._evidence_failures.get(fingerprint, 0)
        rate = failed / others
        if rate >= 1.0:
            return math.inf
        floor = self.policy.max_consecutive_errors
        if rate <= 0.0:
            return floor
        return max(floor, math.ceil(math.log(BLAME_IMPROBABILITY) / math.log(rate)))

    def _record_success(
        self, key: ServiceKey, operation: str, outcome: Outcome, now: datetime
    ) -> list[PoolEvent]:
        state = self.peek(key)
        state.total_successes += 1
        state.consecutive_errors = 0
        state.last_success = now
        state.error_wait_until = None
        state.cooldowns.pop(operation, None)
        slot = self._slot_of[key.fingerprint]
        slot.proven.add(operation)
        slot.per_second = 0
        slot.ambiguous_429.pop(operation, None)
        if self._wrong_url:
            self._forget_wrong_url(operation)
        self._failed_since_success.clear()
        self._uncoded_auth.clear()
        if self.quota_left(key, operation) <= 0:
            midnight = next_kst_midnight(now)
            events = [PoolEvent(EventKind.QUOTA_SPENT, key, operation, outcome, midnight)]
        else:
            events = [PoolEvent(EventKind.SUCCESS, key, operation, outcome)]
        self._suspects.discard(key.fingerprint)
        if self._suspects:
            events += self._blame_suspects(operation, outcome, now)
        if self.outage_since is not None:
            self.outage_since = None
            events.append(PoolEvent(EventKind.OUTAGE_OVER, key, operation, outcome))
        return events

    def _record_transient(
        self, key: ServiceKey, operation: str, outcome: Outcome, now: datetime
    ) -> list[PoolEvent]:
        state = self.peek(key)
        self._slot_of[key.fingerprint].proven.discard(operation)
        if outcome.uncoded_auth:
            self._uncoded_auth.add(key.fingerprint)
        self._failed_since_success.add(key.fingerprint)
        if self.outage_since is not None:
            state.total_errors += 1
            state.last_error = _error_record(outcome, now)
            return [PoolEvent(EventKind.FAILURE, key, operation, outcome)]
        events = [PoolEvent(EventKind.FAILURE, key, operation, outcome)]
        if outcome.uncoded_auth:
            # A 401/403 without a code is a passing error of the key, never a deactivation (the
            # doc); on every key it is the host's or the User-Agent's (the client stops then).
            state.total_errors += 1
            state.last_error = _error_record(outcome, now)
        else:
            self._note_error(state, outcome, now)
            if state.consecutive_errors >= self._errors_to_blame(key.fingerprint):
                cause = DeactivationCause.TOO_MANY_ERRORS
                events.append(self._deactivate(key, operation, outcome, now, cause))
                return events
            if state.consecutive_errors >= self.policy.max_consecutive_errors:
                self._suspects.add(key.fingerprint)
        state.error_wait_until = now + self.policy.error_wait
        if self._is_outage(operation, now):
            self.outage_since = now
            for other in self._slots:
                if other.state.error_wait_until is not None:
                    other.state.error_wait_until = None
                    self._changed.add(other.key.fingerprint)
            self._lines.clear()  # every key in an error wait may take calls again: lines anew
            events.append(PoolEvent(EventKind.OUTAGE, key, operation, outcome))
        return events

    def _forget_wrong_url(self, operation: str) -> None:
        """The operation answered: keys set aside for a wrong-URL answer to it take calls again."""
        positions = self._wrong_url.pop(operation, None)
        if not positions:
            return
        line = self._lines.get(operation)
        for position in positions:
            slot = self._slots[position]
            slot.wrong_url.discard(operation)
            if line is not None:
                line.wake(slot, operation)

    def _is_outage(self, operation: str, now: datetime) -> bool:
        # Keys that cannot take this operation (spent, cooling) will not be called to fail.
        in_play = {
            slot.key.fingerprint
            for slot in self._slots
            if self._availability(slot, operation, now).is_in_play
        }
        return len(in_play) >= 2 and in_play <= self._failed_since_success

    def _cool_down(
        self, key: ServiceKey, operation: str, outcome: Outcome, now: datetime
    ) -> PoolEvent:
        state = self.peek(key)
        until = now + self.policy.rate_limit_cooldown
        state.cooldowns[operation] = until
        state.last_error = _error_record(outcome, now)
        self._slot_of[key.fingerprint].proven.discard(operation)
        return PoolEvent(EventKind.DAILY_LIMIT, key, operation, outcome, until)

    def _deactivate(
        self,
        key: ServiceKey,
        operation: str,
        outcome: Outcome,
        now: datetime,
        cause: DeactivationCause,
    ) -> PoolEvent:
        state = self.peek(key)
        self._changed.add(key.fingerprint)  # blame may take out a key other than the lease's
        self._suspects.discard(key.fingerprint)
        state.deactivated_at = now
        state.deactivation_cause = cause
        state.deactivation_code = outcome.code
        state.error_wait_until = None
        slot = self._slot_of[key.fingerprint]
        slot.proven.clear()
        until = self._went_out(key, state)
        if cause in REPLACED_FOR:
            self._call_standby(slot, operation, outcome, now, cause)
        return PoolEvent(EventKind.DEACTIVATED, key, operation, outcome, until, cause)

    def _went_out(self, key: ServiceKey, state: KeyState) -> datetime | None:
        """A key just taken out (or kept out by its probe): an expired one keeps the date it died
        with; when its probe is due."""
        if state.deactivation_cause is DeactivationCause.EXPIRED:
            state.expiry_seen = key.attributes.expires
        return _probe_due(state, self.policy)

    def _replace_the_dead(self, now: datetime) -> None:
        """Keys in use found dead for good as the pool opens (another process, or another host
        through the shared state, took them out) get their standby too."""
        if not any(
            self._in_reserve(slot) and not slot.state.is_deactivated for slot in self._slots
        ):
            return
        for slot in self._slots:
            cause = slot.state.deactivation_cause
            if slot.state.deactivated_at is not None and cause in REPLACED_FOR:
                # Told once, by the run that met the dead key; found again here, in silence
                # (the shared state keeps no standby of its own: each process finds it so).
                self._call_standby(slot, "", None, now, cause, announce=False)

    def _in_reserve(self, slot: _Slot) -> bool:
        return slot.standby and slot.state.standing_in_for is None

    def _call_standby(
        self,
        dead: _Slot,
        operation: str,
        outcome: Outcome | None,
        now: datetime,
        cause: DeactivationCause,
        announce: bool = True,
    ) -> None:
        """A key in use died for good: the first standby key in reserve takes its place now."""
        fingerprint = dead.key.fingerprint
        if self._in_reserve(dead) or any(
            slot.state.standing_in_for == fingerprint for slot in self._slots
        ):
            return  # it was not in use, or a standby stands in for it already
        for slot in self._slots:
            if self._in_reserve(slot) and not slot.state.is_deactivated:
                state = slot.state
                state.standing_in_for = fingerprint
                state.standing_in_since = now
                state.standing_in_cause = cause
                self._changed.add(slot.key.fingerprint)
                self._wake(slot, usage_dropped=True)
                self._touched.add(slot.position)
                if not announce:
                    return
                self._news.append(
                    PoolEvent(
                        EventKind.STANDBY_IN, slot.key, operation, outcome, None, cause, dead.key
                    )
                )
                return

    def _cause_of(self, state: KeyState, outcome: Outcome, now: datetime) -> DeactivationCause:
        """A refusal's cause; a 30 on a key that never worked and is new may be one not active yet."""
        cause = cause_of_code(outcome.code)
        recent = now - state.first_seen < self.policy.activation_window
        if cause is DeactivationCause.NOT_REGISTERED and state.last_success is None and recent:
            return DeactivationCause.NOT_ACTIVATED_YET
        return cause

    def _record_probe(
        self, key: ServiceKey, operation: str, outcome: Outcome, now: datetime
    ) -> list[PoolEvent]:
        state = self.peek(key)
        accepted = outcome.kind in (
            OutcomeKind.SUCCESS,
            OutcomeKind.DAILY_LIMIT,
            OutcomeKind.RATE_LIMIT,
            OutcomeKind.REQUEST_ERROR,
        )
        if not accepted:
            self._note_error(state, outcome, now)
            state.consecutive_errors = min(
                state.consecutive_errors, self.policy.max_consecutive_errors
            )
            state.deactivated_at = now
            if outcome.kind is OutcomeKind.KEY_UNUSABLE:
                state.deactivation_cause = self._cause_of(state, outcome, now)
                state.deactivation_code = outcome.code
            cause = state.deactivation_cause
            until = self._went_out(key, state)
            return [PoolEvent(EventKind.PROBE_FAILED, key, operation, outcome, until, cause)]
        self._reactivate(state)
        events = [PoolEvent(EventKind.RECOVERED, key, operation, outcome)]
        if outcome.kind is OutcomeKind.SUCCESS:
            # The success itself is the recovery; only an outage it ends is news besides.
            success = self._record_success(key, operation, outcome, now)
            events += [event for event in success if event.kind is EventKind.OUTAGE_OVER]
        elif outcome.kind is OutcomeKind.DAILY_LIMIT:
            events.append(self._cool_down(key, operation, outcome, now))
        return events

    def _reactivate(self, state: KeyState) -> None:
        # (expiry_seen stays: a key that works past the date its file gives is not taken out
        # again for that date, only for a new one that passes)
        state.deactivated_at = None
        state.deactivation_reason = None
        state.deactivation_cause = None
        state.deactivation_code = None
        state.disabled_by_hand = False
        state.consecutive_errors = 0
        state.error_wait_until = None

    def _note_error(self, state: KeyState, outcome: Outcome, now: datetime) -> None:
        state.consecutive_errors += 1
        state.total_errors += 1
        state.last_error = _error_record(outcome, now)


def _probe_due(state: KeyState, policy: Policy) -> datetime | None:
    """The one rule for a probe: recovery_after past the moment the key went out; never by time
    for an expired key (nor for one not out). A key out by hand waits for `enable` besides."""
    out_at = state.deactivated_at
    if out_at is None:
        return None
    if state.deactivation_cause is DeactivationCause.EXPIRED:
        return None
    return out_at + policy.recovery_after


def _error_record(outcome: Outcome, now: datetime) -> ErrorRecord:
    message = outcome.message[:200]
    return ErrorRecord(outcome.code, outcome.symbol, message, now, str(outcome.kind))
