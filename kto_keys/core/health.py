"""The pool's health: working keys over all keys, the level, and which keys need attention."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from kto_keys.core.expiry import KeyExpiry, expiring
from kto_keys.core.keys import ServiceKey
from kto_keys.core.pool import DeactivationCause, ErrorRecord, KeyPool, KeyState, Reason


class HealthLevel(StrEnum):
    """The four levels of the doc, plus unknown when there is nothing to judge."""

    HEALTHY = "healthy"
    WARNING = "warning"
    DANGER = "danger"
    CRITICAL = "critical"
    UNKNOWN = "unknown"

    @property
    def icon(self) -> str:
        """The emoji people know the level by."""
        return _ICONS[self]


_ICONS = {
    HealthLevel.HEALTHY: "🟢",
    HealthLevel.WARNING: "🟡",
    HealthLevel.DANGER: "🔴",
    HealthLevel.CRITICAL: "❌",
    HealthLevel.UNKNOWN: "❔",
}


class Attention(StrEnum):
    """Why a key needs a person to look at it."""

    EXPIRED = "expired"
    NOT_APPROVED = "not_approved"
    NOT_ACTIVATED_YET = "not_activated_yet"
    NOT_REGISTERED = "not_registered"
    TEMPORARILY_DISABLED = "temporarily_disabled"
    IP_RESTRICTED = "ip_restricted"
    TOO_MANY_ERRORS = "too_many_errors"
    DISABLED_BY_HAND = "disabled_by_hand"
    ERROR_WAIT = "error_wait"


# Every cause of a deactivation is a reason for attention of the same name.
_ATTENTION_BY_CAUSE = {cause: Attention(cause.value) for cause in DeactivationCause}


@dataclass(frozen=True, slots=True)
class KeyNote:
    """A key that does not work now: why, until when, and the facts behind it (no sentences)."""

    key: ServiceKey
    attention: Attention
    # When the recovery probe is due, or the error wait ends (None: until a person enables it).
    until: datetime | None = None
    error: ErrorRecord | None = None
    consecutive_errors: int = 0
    # The words given with `disable --reason`.
    reason: str | None = None

    @property
    def detail(self) -> str:
        """The facts behind the note, the same in every language: the words given by hand, or
        the last error's code and symbol (with the count when errors in a row took the key out)."""
        if self.reason:
            return self.reason
        error = self.error
        if error is None:
            return ""
        what = f"{error.code or ''} {error.symbol}".strip() or error.message
        if self.attention is Attention.TOO_MANY_ERRORS:
            return f"{self.consecutive_errors}× {what}"
        return what


@dataclass(frozen=True, slots=True)
class KeyLimit:
    """A working key that cannot make one operation's calls until `until`."""

    key: ServiceKey
    operation: str
    reason: Reason  # Reason.QUOTA_SPENT or Reason.COOLING
    until: datetime | None


@dataclass(frozen=True, slots=True)
class Health:
    """The health report of a pool."""

    level: HealthLevel
    score: float
    working: int
    total: int
    attention: tuple[KeyNote, ...]
    limits: tuple[KeyLimit, ...]
    # Keys that expire within 30 days; a given date within 7 makes the level a warning at least.
    expiring: tuple[KeyExpiry, ...] = ()


def level_for(working: int, total: int) -> HealthLevel:
    """Map a count of working keys to a level."""
    if total == 0:
        return HealthLevel.UNKNOWN
    if working == 0:
        return HealthLevel.CRITICAL
    share = working / total
    if share >= 0.8:
        return HealthLevel.HEALTHY
    if share >= 0.5:
        return HealthLevel.WARNING
    return HealthLevel.DANGER


def is_working(state: KeyState, now: datetime) -> bool:
    """KeyState.is_working, for callers that hold a state rather than the pool (cli/progress.py)."""
    return state.is_working(now)


def assess(pool: KeyPool, now: datetime, cache_lost: bool = False) -> Health:
    """Score the pool and list the keys that need attention or are limited today."""
    total = len(pool.keys)
    working = len(pool.working_keys(now))
    score = 100.0 * working / total if total else 0.0
    level = HealthLevel.UNKNOWN if cache_lost else level_for(working, total)
    soon = expiring(pool, now)
    if level is HealthLevel.HEALTHY and any(expiry.is_urgent for expiry in soon):
        level = HealthLevel.WARNING
    attention = tuple(note for key in pool.keys if (note := attention_for(pool, key, now)))
    return Health(level, score, working, total, attention, _limits(pool, now), soon)


def attention_for(pool: KeyPool, key: ServiceKey, now: datetime) -> KeyNote | None:
    """What a person should know about a key that does not work now (None: it works)."""
    if pool.is_working(key, now):
        return None
    state = pool.peek(key)
    if state.disabled_by_hand:
        return KeyNote(key, Attention.DISABLED_BY_HAND, reason=state.deactivation_reason)
    error, errors = state.last_error, state.consecutive_errors
    if state.deactivated_at is not None:
        cause = state.deactivation_cause or DeactivationCause.TOO_MANY_ERRORS
        recovery = pool.probe_due(key)
        return KeyNote(key, _ATTENTION_BY_CAUSE[cause], recovery, error, errors)
    return None


def _limits(pool: KeyPool, now: datetime) -> tuple[KeyLimit, ...]:
    limits = []
    for key in pool.keys:
        operations = set(pool.usage_today(key, now)) | set(pool.peek(key).cooldowns)
        for operation in sorted(operations):
            availability = pool.availability(key, operation, now)
            if availability.reason in (Reason.COOLING, Reason.QUOTA_SPENT):
                limits.append(KeyLimit(key, operation, availability.reason, availability.until))
    return tuple(limits)
