"""The per-key status report behind `kto-keys status` and its JSON (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from kto_keys.core.calls import CallStats
from kto_keys.core.codes import describe
from kto_keys.core.operations import Operation
from kto_keys.core.pool import KeyPool, Reason


@dataclass(frozen=True, slots=True)
class KeyStatusRow:
    """One key, as `status` shows it."""

    index: int
    preview: str
    fingerprint: str
    source: str
    state: str
    usage: dict[str, int]
    limit: int
    consecutive_errors: int
    total_errors: int
    total_calls: int
    last_error: str | None
    last_error_at: datetime | None
    deactivation_reason: str | None
    next_usable_at: datetime | None
    stats: CallStats = field(default_factory=CallStats)

    def to_json(self) -> dict[str, Any]:
        """The row as JSON-ready data."""
        data = asdict(self)
        data["last_error_at"] = _iso(self.last_error_at)
        data["next_usable_at"] = _iso(self.next_usable_at)
        data["stats"]["success_rate"] = self.stats.success_rate
        return data


def key_status(
    pool: KeyPool, now: datetime, lang: str, stats: Mapping[str, CallStats] | None = None
) -> list[KeyStatusRow]:
    """Describe every key of the pool."""
    rows = []
    for key in pool.keys:
        usage = pool.usage_today(key, now)
        state = pool.state(key)
        operations = sorted(set(usage) | set(state.cooldowns)) or [Operation.LIST]
        verdicts = [(operation, pool.availability(key, operation, now)) for operation in operations]
        blocked = [(op, av) for op, av in verdicts if not av.is_ready]
        if state.disabled_by_hand:
            label, until = "disabled", None
        elif state.deactivated_at is not None:
            label, until = "deactivated", verdicts[0][1].until
        elif len(blocked) == len(verdicts):
            reasons = {av.reason for _, av in blocked}
            label = _label(reasons, [op for op, _ in blocked])
            until = min(av.until for _, av in blocked if av.until) if blocked else None
        elif blocked:
            label = "active (" + ", ".join(f"{op}: {av.reason}" for op, av in blocked) + ")"
            until = None
        else:
            label, until = "active", None
        error = state.last_error
        rows.append(
            KeyStatusRow(
                index=key.index,
                preview=key.preview,
                fingerprint=key.fingerprint,
                source=key.source,
                state=label,
                usage=usage,
                limit=pool.policy.usable_limit,
                consecutive_errors=state.consecutive_errors,
                total_errors=state.total_errors,
                total_calls=state.total_calls,
                last_error=describe(error.code, lang, error.symbol)
                if error and error.code
                else (error.message if error else None),
                last_error_at=error.at if error else None,
                deactivation_reason=state.deactivation_reason,
                next_usable_at=until,
                stats=(stats or {}).get(key.fingerprint, CallStats()),
            )
        )
    return rows


def _label(reasons: set[Reason], operations: list[str]) -> str:
    if reasons == {Reason.ERROR_WAIT}:
        return "error wait"
    if reasons == {Reason.PAUSED}:
        return "paused (per-second limit)"
    return ", ".join(sorted(str(reason) for reason in reasons)) + " (" + ", ".join(operations) + ")"


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None
