"""The JSON state cache: key states by fingerprint, merged and saved atomically under a lock."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from kto_keys.core.clock import KST, parse_time
from kto_keys.core.errors import CacheLockedError
from kto_keys.core.pool import DeactivationCause, ErrorRecord, KeyPool, KeyState, cause_of_code
from kto_keys.edges.atomic import atomic_write_text

SCHEMA_VERSION = 1
_ADDITIVE = ("total_calls", "total_successes", "total_errors")
StateDict = dict[str, Any]


@dataclass(frozen=True, slots=True)
class CacheLost:
    """The cache could not be read: why, what the system said, and where it was moved (if)."""

    path: Path
    why: str  # "corrupt" or "unreadable"
    moved_to: Path | None = None
    detail: str | None = None  # the system's words for an unreadable file


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What the cache held, and what was lost when it had to be set aside."""

    states: dict[str, KeyState]
    notice: CacheLost | None = None

    @property
    def was_lost(self) -> bool:
        """True when the file was corrupt and its state is gone."""
        return self.notice is not None


class StateCache:
    """One cache file, shared safely between processes; the caller decides when to sync."""

    def __init__(self, path: Path, lock_timeout_s: float = 30.0) -> None:
        self.path = path
        self._lock = FileLock(str(path) + ".lock", timeout=lock_timeout_s)
        self._baseline: dict[str, StateDict] = {}
        # When the run loaded the cache: the stamp of a file set aside (this module reads no clock).
        self._loaded_at: datetime | None = None
        self.notice: CacheLost | None = None

    def load(self, now: datetime) -> LoadResult:
        """Read the cache; a corrupt file is moved aside and reported, never fatal."""
        self._loaded_at = now
        with self._locked():
            disk, notice = self._read()
        self.notice = notice
        self._baseline = disk
        return LoadResult({fp: state_from_dict(data) for fp, data in disk.items()}, notice)

    def sync(self, pool: KeyPool) -> None:
        """Merge this process's changes with the file's and write the result."""
        ours = {fp: state_to_dict(state) for fp, state in pool.states().items()}
        with self._locked():
            disk, notice = self._read()
            self.notice = self.notice or notice
            merged = dict(disk)
            for fingerprint, current in ours.items():
                merged[fingerprint] = merge_state(
                    disk.get(fingerprint), self._baseline.get(fingerprint), current
                )
            self._write(merged)
        self._baseline = merged
        states = pool.states()
        pool.replace_states(
            {fp: _keep_reservation(state_from_dict(merged[fp]), states[fp]) for fp in ours}
        )

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire()
        except Timeout as error:
            raise CacheLockedError(self.path) from error
        try:
            yield
        finally:
            self._lock.release()

    def _read(self) -> tuple[dict[str, StateDict], CacheLost | None]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}, None
        except UnicodeDecodeError:
            return {}, self._set_aside("corrupt")
        except OSError as error:
            return {}, self._set_aside("unreadable", error.strerror)
        try:
            document = json.loads(text)
            if not isinstance(document, dict) or document.get("schema") != SCHEMA_VERSION:
                raise ValueError("unknown schema")
            keys = document["keys"]
            if not isinstance(keys, dict):
                raise ValueError("no key table")
            for data in keys.values():
                state_from_dict(data)
        except (ValueError, KeyError, TypeError, AttributeError):
            return {}, self._set_aside("corrupt")
        return dict(keys), None

    def _set_aside(self, why: str, detail: str | None = None) -> CacheLost:
        # Korea time, as the log files' names. A file broken mid-run takes the load's time and a
        # suffix rather than replacing the one set aside at load; without a load, its own mtime.
        when = self._loaded_at or _modified_at(self.path)
        stamp = when.astimezone(KST).strftime("%Y%m%dT%H%M%S")
        target = self.path.with_name(f"{self.path.name}.{why}-{stamp}")
        number = 1
        while target.exists():
            number += 1
            target = self.path.with_name(f"{self.path.name}.{why}-{stamp}-{number}")
        try:
            os.replace(self.path, target)
        except OSError:
            return CacheLost(self.path, why, None, detail)
        return CacheLost(self.path, why, target, detail)

    def _write(self, keys: Mapping[str, StateDict]) -> None:
        document = {"schema": SCHEMA_VERSION, "keys": keys}
        atomic_write_text(self.path, json.dumps(document, ensure_ascii=False, indent=1))


def _modified_at(path: Path) -> datetime:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except OSError:
        return datetime.fromtimestamp(0, UTC)


def _keep_reservation(merged: KeyState, ours: KeyState) -> KeyState:
    """The file counts our reserved calls as made; in memory they stay reserved, not used."""
    if merged.usage_day != ours.usage_day:
        return merged
    for operation, reserved in ours.reserved.items():
        surplus = reserved - ours.usage.get(operation, 0)
        if surplus > 0 and operation in merged.usage:
            counted = merged.usage[operation]
            merged.usage[operation] = max(0, counted - surplus)
            merged.reserved[operation] = counted
    return merged


def merge_state(disk: StateDict | None, baseline: StateDict | None, ours: StateDict) -> StateDict:
    """Add our counts since the last sync to the file's; our other changes win, theirs stay."""
    if disk is None:
        return ours
    if baseline is None:
        # Another process wrote this key after we loaded: only what differs from a fresh key is ours.
        baseline = {**_fresh_state(), "first_seen": disk.get("first_seen")}
    merged: StateDict = {}
    for name, value in ours.items():
        if name in _ADDITIVE:
            merged[name] = disk.get(name, 0) + value - baseline.get(name, 0)
        elif name == "usage":
            merged[name] = _merge_usage(disk.get("usage"), baseline.get("usage"), value)
        else:
            merged[name] = value if value != baseline.get(name) else disk.get(name, value)
    return merged


def _fresh_state() -> StateDict:
    """A never-used key's data: the baseline of a key this process did not load."""
    fresh = state_to_dict(KeyState("", datetime.fromtimestamp(0, UTC)))
    fresh["usage"] = {"day": None, "ops": {}}
    return fresh


def _merge_usage(disk: Any, baseline: Any, ours: StateDict) -> StateDict:
    day = ours.get("day")
    ours_counts: dict[str, int] = ours.get("ops", {})
    if not isinstance(disk, dict) or disk.get("day") != day:
        if isinstance(disk, dict) and disk.get("day") and day and disk["day"] > day:
            return disk
        return ours
    since = (
        baseline.get("ops", {}) if isinstance(baseline, dict) and baseline.get("day") == day else {}
    )
    counts = dict(disk.get("ops", {}))
    for operation, count in ours_counts.items():
        counts[operation] = counts.get(operation, 0) + count - since.get(operation, 0)
    return {"day": day, "ops": counts}


def state_to_dict(state: KeyState) -> StateDict:
    """A key state as JSON-ready data: no key, only its fingerprint."""
    error = state.last_error
    return {
        "fingerprint": state.fingerprint,
        "first_seen": _iso(state.first_seen),
        "usage": {
            "day": state.usage_day.isoformat() if state.usage_day else None,
            # What is reserved ahead counts too: the file never says less than left the machine.
            "ops": {
                operation: max(count, state.reserved.get(operation, 0))
                for operation, count in {**state.reserved, **state.usage}.items()
            },
        },
        "total_calls": state.total_calls,
        "total_successes": state.total_successes,
        "total_errors": state.total_errors,
        "consecutive_errors": state.consecutive_errors,
        "last_error": None
        if error is None
        else {
            "code": error.code,
            "symbol": error.symbol,
            "message": error.message,
            "at": _iso(error.at),
            "kind": error.kind,
        },
        "last_success": _iso(state.last_success),
        "latency_ms_avg": state.latency_ms_avg,
        "error_wait_until": _iso(state.error_wait_until),
        "pause_until": _iso(state.pause_until),
        "cooldowns": {operation: _iso(until) for operation, until in state.cooldowns.items()},
        "deactivated_at": _iso(state.deactivated_at),
        "deactivation_cause": None
        if state.deactivation_cause is None
        else str(state.deactivation_cause),
        "deactivation_reason": state.deactivation_reason,
        "deactivation_code": state.deactivation_code,
        "disabled_by_hand": state.disabled_by_hand,
    }


def state_from_dict(data: Mapping[str, Any]) -> KeyState:
    """Read a key state written by `state_to_dict`."""
    usage = data.get("usage") or {}
    error = data.get("last_error")
    first_seen = parse_time(data["first_seen"])
    if first_seen is None:
        raise ValueError("first_seen missing")
    return KeyState(
        fingerprint=str(data["fingerprint"]),
        first_seen=first_seen,
        usage_day=date.fromisoformat(usage["day"]) if usage.get("day") else None,
        usage={str(op): int(count) for op, count in (usage.get("ops") or {}).items()},
        total_calls=int(data.get("total_calls", 0)),
        total_successes=int(data.get("total_successes", 0)),
        total_errors=int(data.get("total_errors", 0)),
        consecutive_errors=int(data.get("consecutive_errors", 0)),
        last_error=None
        if not error
        else ErrorRecord(
            error.get("code"),
            str(error.get("symbol", "")),
            str(error.get("message", "")),
            _time(error.get("at")),
            str(error.get("kind", "")),
        ),
        last_success=parse_time(data.get("last_success")),
        latency_ms_avg=data.get("latency_ms_avg"),
        error_wait_until=parse_time(data.get("error_wait_until")),
        pause_until=parse_time(data.get("pause_until")),
        cooldowns={str(op): _time(until) for op, until in (data.get("cooldowns") or {}).items()},
        deactivated_at=parse_time(data.get("deactivated_at")),
        deactivation_cause=_cause(data),
        deactivation_code=data.get("deactivation_code"),
        deactivation_reason=_hand_reason(data),
        disabled_by_hand=bool(data.get("disabled_by_hand", False)),
    )


_CAUSES = {str(cause): cause for cause in DeactivationCause}


def _cause(data: Mapping[str, Any]) -> DeactivationCause | None:
    """The typed cause; files written before it existed (or by a newer version that knows more
    causes) get it from the stored gateway code."""
    if "deactivation_cause" in data and data["deactivation_cause"] is None:
        return None
    known = _CAUSES.get(str(data.get("deactivation_cause")))
    if known is not None:
        return known
    if data.get("deactivated_at") is None:
        return None
    code = data.get("deactivation_code")
    if code is None and data.get("disabled_by_hand"):
        return None  # out by hand only: no cause of the pool's
    cause = cause_of_code(code)
    # The old files said so in words: "30 SERVICE_KEY_IS_NOT_REGISTERED_ERROR (may not be activated yet)".
    if cause is DeactivationCause.NOT_REGISTERED and "activated" in str(
        data.get("deactivation_reason") or ""
    ):
        return DeactivationCause.NOT_ACTIVATED_YET
    return cause


def _hand_reason(data: Mapping[str, Any]) -> str | None:
    """The words given with `disable --reason`; an old file's sentence of the pool is dropped."""
    reason = data.get("deactivation_reason")
    if "deactivation_cause" not in data and not data.get("disabled_by_hand"):
        return None
    return None if reason is None else str(reason)


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when is not None else None


def _time(text: Any) -> datetime:
    value = parse_time(str(text)) if text else None
    if value is None:
        raise ValueError("time missing")
    return value
