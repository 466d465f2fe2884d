"""The rotation log's values: which pool events change a key's fate, each kept once, and the
alerts a person must act on (pure: no I/O, time passed in)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from kto_keys.core.clock import KST, kst_day
from kto_keys.core.keys import ServiceKey
from kto_keys.core.pool import EventKind, PoolEvent

# An outcome's words kept with a row: enough to tell why, never a whole error page.
REASON_LIMIT = 120


class KeyEventKind(StrEnum):
    """A change in a key's fate, as the rotation log keeps it."""

    DEACTIVATED = "deactivated"
    RECOVERED = "recovered"
    PROBE_FAILED = "probe_failed"
    # Code 22 (or bare 429s in a row): no calls for the operation until `until`.
    COOLING = "cooling"
    QUOTA_SPENT = "quota_spent"
    # The first per-second refusal (23) of a run: later ones are the same news.
    RATE_LIMITED = "rate_limited"
    OUTAGE = "outage"
    OUTAGE_OVER = "outage_over"
    DISABLED = "disabled"
    ENABLED = "enabled"
    # A standby key took a dead key's place (`reason` names that key), or went back in reserve.
    STANDBY_IN = "standby_in"
    STANDBY_BACK = "standby_back"


_KIND_OF_POOL_EVENT = {
    EventKind.DEACTIVATED: KeyEventKind.DEACTIVATED,
    EventKind.RECOVERED: KeyEventKind.RECOVERED,
    EventKind.PROBE_FAILED: KeyEventKind.PROBE_FAILED,
    EventKind.DAILY_LIMIT: KeyEventKind.COOLING,
    EventKind.QUOTA_SPENT: KeyEventKind.QUOTA_SPENT,
    EventKind.RATE_LIMITED: KeyEventKind.RATE_LIMITED,
    EventKind.OUTAGE: KeyEventKind.OUTAGE,
    EventKind.OUTAGE_OVER: KeyEventKind.OUTAGE_OVER,
    EventKind.STANDBY_IN: KeyEventKind.STANDBY_IN,
    EventKind.STANDBY_BACK: KeyEventKind.STANDBY_BACK,
}

# The events a person must act on: KTO_ON_EVENT runs for these, and for a pool turned critical.
ALERT_KINDS = frozenset({KeyEventKind.DEACTIVATED})
# The events after which the pool may have no working key left.
TAKES_OUT = frozenset({KeyEventKind.DEACTIVATED, KeyEventKind.DISABLED})


@dataclass(frozen=True, slots=True)
class KeyEvent:
    """One row of the rotation log: when, which key, what happened to it, why, and until when."""

    at: datetime
    kind: KeyEventKind
    key_index: int
    preview: str
    fingerprint: str
    operation: str | None = None
    code: str | None = None
    # A typed cause (DeactivationCause) or the outcome kind; `reason` holds words.
    cause: str | None = None
    # A person's words (`disable --reason`), or the gateway's symbol or message.
    reason: str | None = None
    until: datetime | None = None
    run_id: int | None = None
    host: str = ""

    @property
    def day(self) -> date:
        """The Korea day the event happened on."""
        return kst_day(self.at)

    @property
    def is_alert(self) -> bool:
        """True when a person must act on it (KTO_ON_EVENT)."""
        return self.kind in ALERT_KINDS

    def to_json(self) -> dict[str, Any]:
        """The row as JSON-ready data, the same in every language; times in KST."""
        return {
            "event": str(self.kind),
            "at": _iso(self.at),
            "run_id": self.run_id,
            "host": self.host,
            "key": f"#{self.key_index}",
            "index": self.key_index,
            "preview": self.preview,
            "fingerprint": self.fingerprint,
            "operation": self.operation,
            "code": self.code,
            "cause": self.cause,
            "reason": self.reason,
            "until": _iso(self.until),
        }


@dataclass(frozen=True, slots=True)
class PoolCritical:
    """No key of the pool works any more: an alert, not a row of any key's log."""

    at: datetime
    working: int
    total: int
    run_id: int | None = None
    host: str = ""

    def to_json(self) -> dict[str, Any]:
        """The alert as JSON-ready data."""
        return {
            "event": "pool_critical",
            "at": _iso(self.at),
            "run_id": self.run_id,
            "host": self.host,
            "working": self.working,
            "total": self.total,
        }


def event_of(event: PoolEvent, kind: KeyEventKind, now: datetime) -> KeyEvent:
    """The row for a pool event that changed a key's fate."""
    outcome = event.outcome
    cause = str(event.cause) if event.cause is not None else None
    if cause is None and outcome is not None and kind is not KeyEventKind.RECOVERED:
        cause = str(outcome.kind)
    reason = None
    if outcome is not None and kind is not KeyEventKind.RECOVERED:
        reason = (outcome.symbol or outcome.message)[:REASON_LIMIT] or None
    if event.replaced is not None:
        reason = f"#{event.replaced.index} {event.replaced.preview}"
    return KeyEvent(
        now,
        kind,
        event.key.index,
        event.key.preview,
        event.key.fingerprint,
        event.operation,
        outcome.code if outcome is not None else None,
        cause,
        reason,
        event.until,
    )


def by_hand(key: ServiceKey, kind: KeyEventKind, now: datetime, reason: str | None) -> KeyEvent:
    """The row for a key a person disabled or enabled."""
    return KeyEvent(now, kind, key.index, key.preview, key.fingerprint, reason=reason)


@dataclass(slots=True)
class FateTracker:
    """Decides which pool events are changes of a key's fate, so that each is written once.

    The pool reports some changes more than once: calls in flight when a key goes out or cools
    down come back with the same verdict, a spent quota is seen by every call that ends after
    it, and a per-second refusal is news only the first time in a run.
    """

    _out: set[str] = field(default_factory=set)
    _cooling: dict[tuple[str, str], datetime] = field(default_factory=dict)
    _spent: set[tuple[str, str, date]] = field(default_factory=set)
    _rate_limited: bool = False

    def fate(self, event: PoolEvent, now: datetime) -> KeyEventKind | None:
        """The kind of row this event makes, or None when it changes nothing new."""
        kind = _KIND_OF_POOL_EVENT.get(event.kind)
        if kind is None:
            return None
        fingerprint, operation = event.key.fingerprint, event.operation
        if kind is KeyEventKind.DEACTIVATED:
            if fingerprint in self._out:
                return None
            self._out.add(fingerprint)
        elif kind is KeyEventKind.RECOVERED:
            self._out.discard(fingerprint)
        elif kind is KeyEventKind.COOLING:
            until = self._cooling.get((fingerprint, operation))
            if until is not None and until > now:
                return None
            self._cooling[(fingerprint, operation)] = event.until or now
        elif kind is KeyEventKind.QUOTA_SPENT:
            mark = (fingerprint, operation, kst_day(now))
            if mark in self._spent:
                return None
            self._spent.add(mark)
        elif kind is KeyEventKind.RATE_LIMITED:
            if self._rate_limited:
                return None
            self._rate_limited = True
        return kind

    def by_hand(self, key: ServiceKey, kind: KeyEventKind) -> None:
        """A person took the key out or put it back."""
        if kind is KeyEventKind.ENABLED:
            self._out.discard(key.fingerprint)
        else:
            self._out.add(key.fingerprint)


def _iso(when: datetime | None) -> str | None:
    return when.astimezone(KST).isoformat() if when is not None else None
