"""The per-key status report behind `kto-keys status` and its JSON (pure, data only: the CLI
renders the words)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from kto_keys.core.calls import CallStats
from kto_keys.core.clock import kst_day
from kto_keys.core.expiry import expiry_of
from kto_keys.core.keys import ServiceKey
from kto_keys.core.operations import Operation
from kto_keys.core.pool import (
    Availability,
    DeactivationCause,
    ErrorRecord,
    KeyPool,
    Policy,
    Reason,
)


class KeyCondition(StrEnum):
    """A key's condition, read from the pool's one availability rule over its operations today."""

    ACTIVE = "active"
    # Takes calls, but not for every operation it used today: see KeyStatusRow.blocked.
    ACTIVE_WITH_LIMITS = "active_with_limits"
    ERROR_WAIT = "error_wait"
    PAUSED = "paused"
    COOLING = "cooling"
    QUOTA_SPENT = "quota_spent"
    DEACTIVATED = "deactivated"
    DISABLED = "disabled"
    STANDBY = "standby"  # a standby key in reserve
    # Not known: the shared pool (KTO_STATE_URL) could not be reached (`keys list` goes on).
    UNKNOWN = "unknown"


# When every operation is blocked, the condition is the block that ends first in the usual case.
_CONDITION_BY_REASON = {
    Reason.ERROR_WAIT: KeyCondition.ERROR_WAIT,
    Reason.PAUSED: KeyCondition.PAUSED,
    Reason.COOLING: KeyCondition.COOLING,
    Reason.QUOTA_SPENT: KeyCondition.QUOTA_SPENT,
}
# A call in flight is a moment, not a condition; so is a wrong-URL answer (the run stops on it).
_NOT_BLOCKING = frozenset({Reason.OK, Reason.BUSY, Reason.WRONG_URL})


@dataclass(frozen=True, slots=True)
class KeyStatusRow:
    """One key, as `status` shows it."""

    index: int
    preview: str
    fingerprint: str
    source: str
    state: KeyCondition
    # The operations used today that the key cannot take now, and why (empty when out).
    blocked: dict[str, Reason]
    working: bool
    usage: dict[str, int]
    limit: int
    consecutive_errors: int
    total_errors: int
    total_calls: int
    last_error: ErrorRecord | None
    last_error_at: datetime | None
    deactivation_cause: DeactivationCause | None
    deactivation_code: str | None
    # The words given with `disable --reason`.
    deactivation_reason: str | None
    next_usable_at: datetime | None
    stats: CallStats = field(default_factory=CallStats)
    label: str | None = None
    # The expiry date given, or first seen + 24 months when `expires_estimated`.
    expires: date | None = None
    expires_estimated: bool = False
    standby: bool = False
    # A standby key in use: the index of the key it replaced, and why that key went out.
    stands_in_for: int | None = None
    stands_in_cause: DeactivationCause | None = None
    # A key a standby replaced: that standby's index.
    replaced_by: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The row as JSON-ready data."""
        data = asdict(self)
        data["state"] = str(self.state)
        data["blocked"] = {operation: str(reason) for operation, reason in self.blocked.items()}
        data["last_error"] = _error_json(self.last_error)
        data["last_error_at"] = _iso(self.last_error_at)
        data["deactivation_cause"] = _str(self.deactivation_cause)
        data["next_usable_at"] = _iso(self.next_usable_at)
        data["expires"] = self.expires.isoformat() if self.expires else None
        data["stands_in_cause"] = _str(self.stands_in_cause)
        data["stats"]["success_rate"] = self.stats.success_rate
        return data


def key_status(
    pool: KeyPool, now: datetime, stats: Mapping[str, CallStats] | None = None
) -> list[KeyStatusRow]:
    """Describe every key of the pool."""
    rows = []
    today = kst_day(now)
    stands_in = {key.index: pool.stands_in_for(key) for key in pool.keys}
    replaced_by = {
        replaced.index: index for index, replaced in stands_in.items() if replaced is not None
    }
    for key in pool.keys:
        usage = pool.usage_today(key, now)
        state = pool.peek(key)
        operations = sorted(set(usage) | set(state.cooldowns)) or [Operation.LIST]
        verdicts = {operation: pool.availability(key, operation, now) for operation in operations}
        condition, until = condition_of(verdicts)
        expiry = expiry_of(key, state, today)
        replaced = stands_in[key.index]
        out = condition in (KeyCondition.DISABLED, KeyCondition.DEACTIVATED, KeyCondition.STANDBY)
        error = state.last_error
        rows.append(
            KeyStatusRow(
                index=key.index,
                preview=key.preview,
                fingerprint=key.fingerprint,
                source=key.source,
                state=condition,
                blocked={}
                if out
                else {
                    operation: verdict.reason
                    for operation, verdict in verdicts.items()
                    if verdict.reason not in _NOT_BLOCKING
                },
                working=pool.is_working(key, now),
                usage=usage,
                limit=pool.limit_of(key),
                consecutive_errors=state.consecutive_errors,
                total_errors=state.total_errors,
                total_calls=state.total_calls,
                last_error=error,
                last_error_at=error.at if error else None,
                deactivation_cause=state.deactivation_cause,
                deactivation_code=state.deactivation_code,
                deactivation_reason=state.deactivation_reason,
                next_usable_at=until,
                stats=(stats or {}).get(key.fingerprint, CallStats()),
                label=key.attributes.label,
                expires=expiry.expires,
                expires_estimated=expiry.estimated,
                standby=key.attributes.standby,
                stands_in_for=replaced.index if replaced is not None else None,
                stands_in_cause=state.standing_in_cause if replaced is not None else None,
                replaced_by=replaced_by.get(key.index),
            )
        )
    return rows


def unknown_status(keys: Iterable[ServiceKey], policy: Policy) -> list[KeyStatusRow]:
    """Every key as its sources describe it (label, limit, given expiry, role), its state
    unknown: what `keys list` shows when the shared pool cannot be reached."""
    return [
        KeyStatusRow(
            index=key.index,
            preview=key.preview,
            fingerprint=key.fingerprint,
            source=key.source,
            state=KeyCondition.UNKNOWN,
            blocked={},
            working=False,
            usage={},
            limit=policy.limit_of(key),
            consecutive_errors=0,
            total_errors=0,
            total_calls=0,
            last_error=None,
            last_error_at=None,
            deactivation_cause=None,
            deactivation_code=None,
            deactivation_reason=None,
            next_usable_at=None,
            label=key.attributes.label,
            # An estimate counts from the day the state first saw the key: unknown too.
            expires=key.attributes.expires,
            standby=key.attributes.standby,
        )
        for key in keys
    ]


def condition_of(verdicts: Mapping[str, Availability]) -> tuple[KeyCondition, datetime | None]:
    """A key's condition from its verdicts per operation, and when it is next usable."""
    reasons = {verdict.reason for verdict in verdicts.values()}
    if Reason.DISABLED in reasons:
        return KeyCondition.DISABLED, None
    if Reason.DEACTIVATED in reasons:
        return KeyCondition.DEACTIVATED, min(_untils(verdicts.values()), default=None)
    if Reason.STANDBY in reasons:
        return KeyCondition.STANDBY, None
    blocked = [verdict for verdict in verdicts.values() if verdict.reason not in _NOT_BLOCKING]
    if not blocked:
        return KeyCondition.ACTIVE, None
    if len(blocked) < len(verdicts):
        return KeyCondition.ACTIVE_WITH_LIMITS, None
    condition = next(
        condition for reason, condition in _CONDITION_BY_REASON.items() if reason in reasons
    )
    return condition, min(_untils(blocked), default=None)


def _untils(verdicts: Iterable[Availability]) -> list[datetime]:
    return [verdict.until for verdict in verdicts if verdict.until is not None]


def _error_json(error: ErrorRecord | None) -> dict[str, Any] | None:
    if error is None:
        return None
    return {
        "code": error.code,
        "symbol": error.symbol,
        "message": error.message,
        "at": _iso(error.at),
        "kind": error.kind,
    }


def _str(value: StrEnum | None) -> str | None:
    return None if value is None else str(value)


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None
