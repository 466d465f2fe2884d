"""The shared key pool's rules as data (pure): what one call's outcome changes in the shared state,
what a refusal of the shared state means for this process's view, and URLs shown masked.

The local KeyPool still applies every policy and picks keys by its one rule (`_survey`) over a
view of the shared state. The server (kto_keys/edges/shared.py) is the authority: its acquire
re-checks the shared facts and counts the call atomically, and its record applies the facts this
module derives from the pool's verdict. Times travel as durations from "now", so that hosts whose
clocks disagree agree on the server's clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from kto_keys.core.answers import Outcome
from kto_keys.core.codes import OutcomeKind
from kto_keys.core.pool import DeactivationCause, EventKind, KeyState, PoolEvent

# How long a busy key (another process's first call on it is in flight) is set aside here.
BUSY_PAUSE = timedelta(milliseconds=200)


def mask_url(url: str) -> str:
    """The URL with its password (if any) shown as `***`, in the address or in the query
    (`?password=`): what messages and logs may show."""
    parts = urlsplit(url)
    query = _PASSWORD_PARAMETER.sub(r"\1***", parts.query)
    netloc = parts.netloc
    if "@" in netloc:
        user_info, _, host = netloc.rpartition("@")
        user, colon, _ = user_info.partition(":")
        netloc = f"{user}:***@{host}" if colon else netloc
    if (query, netloc) == (parts.query, parts.netloc):
        return url
    shown = f"{parts.scheme}://{netloc}{parts.path}"
    return shown + (f"?{query}" if query else "") + (f"#{parts.fragment}" if parts.fragment else "")


_PASSWORD_PARAMETER = re.compile(r"((?:^|&)password=)[^&]*", re.IGNORECASE)


class Refusal(StrEnum):
    """Why the shared state would not let a key take a call (the acquire script's verdicts)."""

    DISABLED = "disabled"
    DEACTIVATED = "deactivated"
    COOLING = "cooling"
    QUOTA_SPENT = "quota_spent"
    PAUSED = "paused"
    BUSY = "busy"


@dataclass(frozen=True, slots=True)
class Grant:
    """A call the shared state counted: the lease's id, its deadline, its day and the key's
    usage of the operation on that day, this call included."""

    lease_id: str
    fingerprint: str
    operation: str
    probe: bool
    day: int
    used: int
    deadline: datetime


@dataclass(frozen=True, slots=True)
class Refused:
    """The shared state refused the key: why, until when (None: unknown), its usage there,
    and for a deactivated key the cause and code another process recorded."""

    reason: Refusal
    until: datetime | None
    used: int
    cause: str | None = None
    code: str | None = None


def apply_refusal(
    state: KeyState, refused: Refused, operation: str, limit: int, now: datetime
) -> None:
    """Bring this process's view of a key to what the shared state said, so that the pool's one
    rule turns it away too and picks another key."""
    reason = refused.reason
    if reason is Refusal.DISABLED:
        state.disabled_by_hand = True
    elif reason is Refusal.DEACTIVATED:
        state.deactivated_at = state.deactivated_at or refused.until or now
        state.deactivation_cause = _cause(refused.cause)
        state.deactivation_code = refused.code
    elif reason is Refusal.COOLING:
        state.cooldowns[operation] = refused.until or now + BUSY_PAUSE
    elif reason is Refusal.QUOTA_SPENT:
        state.usage[operation] = max(state.usage.get(operation, 0), refused.used, limit)
    elif reason is Refusal.PAUSED:
        state.pause_until = refused.until or now + BUSY_PAUSE
    else:  # busy: another process's first call with this key is in flight
        state.pause_until = now + BUSY_PAUSE


def _cause(text: str | None) -> DeactivationCause | None:
    try:
        return DeactivationCause(text) if text else None
    except ValueError:
        return DeactivationCause.TOO_MANY_ERRORS


@dataclass(frozen=True, slots=True)
class Fate:
    """The fields of a key state that one call may change, taken before and after its record."""

    consecutive_errors: int
    deactivated: bool
    pause_until: datetime | None
    error_wait_until: datetime | None

    @classmethod
    def of(cls, state: KeyState) -> Fate:
        """The fields as they are now."""
        return cls(
            state.consecutive_errors,
            state.deactivated_at is not None,
            state.pause_until,
            state.error_wait_until,
        )


_FAILED = frozenset(
    {
        OutcomeKind.TRANSIENT,
        OutcomeKind.KEY_UNUSABLE,
        OutcomeKind.RATE_LIMIT,
        OutcomeKind.DAILY_LIMIT,
    }
)


def record_facts(
    grant: Grant,
    before: Fate,
    state: KeyState,
    outcome: Outcome,
    events: list[PoolEvent],
    now: datetime,
    extra_sends: int = 0,
) -> dict[str, Any]:
    """What the record script applies for one call, as JSON-ready data: the pool's verdict on
    the call's key (deactivated, recovered, cooling, paused, errors in a row) and its counts.

    Only what this call changed is sent, so another process's news is never overwritten by this
    process's older view; times are durations from now (milliseconds).
    """
    fingerprint = grant.fingerprint
    facts: dict[str, Any] = {
        "lease": grant.lease_id,
        "fp": fingerprint,
        "op": grant.operation,
        "day": grant.day,
        "probe": grant.probe,
    }
    if outcome.kind is OutcomeKind.UNSENT:
        facts["unsent"] = True
        return facts
    if extra_sends:
        facts["extra"] = extra_sends
    success = outcome.kind is OutcomeKind.SUCCESS
    facts["success"] = success
    facts["failed"] = outcome.kind in _FAILED
    if success:
        facts["proven"] = "add"
    elif outcome.kind in _FAILED:
        facts["proven"] = "remove"
    after = Fate.of(state)
    if (after.consecutive_errors == 0 and before.consecutive_errors != 0) or success:
        facts["errors"] = 0
    elif after.consecutive_errors > before.consecutive_errors:
        facts["errors_add"] = after.consecutive_errors - before.consecutive_errors
    own = [event for event in events if event.key.fingerprint == fingerprint]
    kinds = {event.kind for event in own}
    if kinds & {EventKind.DEACTIVATED, EventKind.PROBE_FAILED} and after.deactivated:
        facts["deactivate"] = {
            "cause": str(state.deactivation_cause) if state.deactivation_cause else "",
            "code": state.deactivation_code or "",
        }
    elif EventKind.RECOVERED in kinds:
        facts["reactivate"] = True
    if EventKind.DAILY_LIMIT in kinds:
        until = state.cooldowns.get(grant.operation)
        if until is not None:
            facts["cooldown_ms"] = _ms_from(now, until)
    if after.pause_until != before.pause_until and after.pause_until is not None:
        facts["pause_ms"] = _ms_from(now, after.pause_until)
    if after.error_wait_until != before.error_wait_until:
        wait = after.error_wait_until
        facts["error_wait_ms"] = 0 if wait is None else max(1, _ms_from(now, wait))
    if state.last_error is not None and not success:
        error = state.last_error
        facts["last_error"] = {
            "code": error.code,
            "symbol": error.symbol,
            "message": error.message,
            "kind": error.kind,
        }
    if state.latency_ms_avg is not None:
        facts["latency"] = round(state.latency_ms_avg, 3)
    # Blame may take out a key other than the lease's (its run of failures is its own).
    others = [
        event.key.fingerprint
        for event in events
        if event.kind is EventKind.DEACTIVATED and event.key.fingerprint != fingerprint
    ]
    if others:
        facts["blamed"] = others
    return facts


def _ms_from(now: datetime, until: datetime) -> int:
    return max(0, int((until - now).total_seconds() * 1000))


# --- the journal ------------------------------------------------------------------------------
JOURNAL_SCHEMA = 1


class JournalCorrupt(ValueError):
    """The journal is not one this tool wrote: no JSON, or not its shape."""


class JournalInvalid(ValueError):
    """A journal entry the record script cannot apply: `field` is missing or of the wrong type."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


# What the record script reads of an entry (record_facts writes them), and the JSON types each
# may have: a wrong one would stop the script half-way on the server, or count a call wrongly.
_REQUIRED: dict[str, tuple[type, ...]] = {
    "lease": (str,),
    "fp": (str,),
    "op": (str,),
    "day": (int,),
}
_OPTIONAL: dict[str, tuple[type, ...]] = {
    "probe": (bool,),
    "unsent": (bool,),
    "extra": (int,),
    "success": (bool,),
    "failed": (bool,),
    "proven": (str,),
    "errors": (int,),
    "errors_add": (int,),
    "deactivate": (dict,),
    "reactivate": (bool,),
    "cooldown_ms": (int,),
    "pause_ms": (int,),
    "error_wait_ms": (int,),
    "last_error": (dict,),
    "latency": (int, float),
    "blamed": (list,),
}


def journal_entries(document: Any) -> list[dict[str, Any]]:
    """The outcomes a journal file holds, each checked against what the record script reads;
    raises JournalCorrupt for a file of another shape, JournalInvalid naming a bad field."""
    if not isinstance(document, dict) or document.get("schema") != JOURNAL_SCHEMA:
        raise JournalCorrupt("unknown schema")
    entries = document.get("records")
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise JournalCorrupt("no list of records")
    for entry in entries:
        _check_facts(entry)
    return entries


def _check_facts(facts: dict[str, Any]) -> None:
    for name, kinds in _REQUIRED.items():
        if not _is_a(facts.get(name), kinds):
            raise JournalInvalid(name)
    for name, kinds in _OPTIONAL.items():
        if name in facts and not _is_a(facts[name], kinds):
            raise JournalInvalid(name)
    if facts.get("proven", "add") not in ("add", "remove"):
        raise JournalInvalid("proven")
    deactivate = facts.get("deactivate", {"cause": "", "code": ""})
    if not all(isinstance(deactivate.get(name), str) for name in ("cause", "code")):
        raise JournalInvalid("deactivate")
    if not all(isinstance(other, str) for other in facts.get("blamed", [])):
        raise JournalInvalid("blamed")


def _is_a(value: Any, kinds: tuple[type, ...]) -> bool:
    """JSON's types as Python reads them: true and false are no numbers here."""
    if isinstance(value, bool):
        return bool in kinds
    return isinstance(value, kinds)
