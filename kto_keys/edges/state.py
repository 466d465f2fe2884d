"""The JSON state cache: key states by fingerprint, checked on load, merged with other processes'
saves and written atomically under a lock; a read-only folder is still read."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import functools
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from kto_keys.core import jsontext
from kto_keys.core.clock import kst_day, parse_time
from kto_keys.core.errors import CacheLockedError, FileAccessError
from kto_keys.core.pool import (
    MAX_PAUSE,
    DeactivationCause,
    ErrorRecord,
    KeyPool,
    KeyState,
    cause_of_code,
)
from kto_keys.edges.atomic import atomic_write_text, make_folder, modified_at, set_aside

SCHEMA_VERSION = 1
_ADDITIVE = ("total_calls", "total_successes", "total_errors")
StateDict = dict[str, Any]

# What no version of this tool writes; a file that holds it is set aside as "invalid".
MAX_USAGE = 10**7  # calls with one key for one operation on one day (the service allows ~1,000)
MAX_TOTAL = 10**12  # calls, successes or errors of one key, ever
MAX_LATENCY_MS = 10.0**9
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
# What another clock may have written: moments that passed (a last success, a deactivation) up
# to this far after load(now) are kept, later ones are read as now; a usage day after tomorrow
# (Korea time) makes the file invalid. Waits are cut to the longest the policy makes: a pause to
# MAX_PAUSE, an error wait or a cool-down to `max_wait`.
CLOCK_SKEW = timedelta(hours=1)
# The longest error wait or cool-down the default policy makes is an hour; a day leaves room
# for settings that ask for more. A session passes its own policy's longest wait.
DEFAULT_MAX_WAIT = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class CacheLost:
    """The cache could not be read: why, what the system said, and where it was moved (if)."""

    path: Path
    why: str  # "corrupt", "invalid" (a value out of range) or "unreadable"
    moved_to: Path | None = None
    detail: str | None = None  # the system's words for an unreadable file; the field, if invalid
    code: str | None = None  # the errno name (`EACCES`, `EISDIR`, ...) of an unreadable file


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What the cache held, and what was lost when it had to be set aside."""

    states: dict[str, KeyState]
    notice: CacheLost | None = None

    @property
    def was_lost(self) -> bool:
        """True when the file was set aside (corrupt, invalid, unreadable) and its state is gone."""
        return self.notice is not None


class StateCache:
    """One cache file, shared safely between processes; the caller decides when to sync.

    `max_wait` is the longest error wait or cool-down the pool's policy makes: a stored wait
    that lasts longer (another machine's clock, a hand-edited file) is cut to it on load.
    """

    def __init__(
        self,
        path: Path,
        lock_timeout_s: float = 30.0,
        max_wait: timedelta = DEFAULT_MAX_WAIT,
    ) -> None:
        self.path = path
        self.max_wait = max_wait
        self._lock = FileLock(str(path) + ".lock", timeout=lock_timeout_s)
        self._baseline: dict[str, StateDict] = {}
        # Each key's line of the file (`"fingerprint": {...}`) as last read or written: a save
        # encodes only the keys that changed.
        self._fragments: dict[str, str] = {}
        # Keys whose state load cut (times too far ahead): the next save writes them.
        self._rewrite: set[str] = set()
        # The file as this process last read or wrote it (inode, size, mtime): while it is still
        # that file, no other process wrote in between, and a save need not read it back.
        self._known_file: tuple[int, int, int] | None = None
        # When the run loaded the cache: the stamp of a file set aside (this module reads no clock).
        self._loaded_at: datetime | None = None
        self.notice: CacheLost | None = None

    def load(self, now: datetime) -> LoadResult:
        """Read the cache; a corrupt or invalid file is moved aside and reported, never fatal.

        A folder that cannot take the lock's sidecar (read-only) is read without the lock:
        writers replace the file in one step, so a reader still sees one whole version.
        """
        self._loaded_at = now
        disk, parsed, notice = self._read_for_load(now)
        self.notice = notice
        self._baseline = disk
        states: dict[str, KeyState] = {}
        for fingerprint, state in parsed.items():
            clamped = clamp_state(state, now, self.max_wait)
            if clamped is not state:
                self._rewrite.add(fingerprint)  # the next save writes the cut times
            states[fingerprint] = clamped
        return LoadResult(states, notice)

    def _read_for_load(
        self, now: datetime
    ) -> tuple[dict[str, StateDict], dict[str, KeyState], CacheLost | None]:
        if not self.path.parent.is_dir():
            return {}, {}, None  # no folder, no file: nothing to lock, and reading creates nothing
        try:
            with self._locked(reading=True):
                return self._read(now, keep_lines=True)
        except _NoLock:
            return self._read(now, may_move=False, keep_lines=True)

    def sync(self, pool: KeyPool, now: datetime | None = None, durable: bool = True) -> None:
        """Merge this process's changes with the file's and write the result.

        With `now`, times another process wrote too far ahead are cut as on load. While the file
        is the one this process last read or wrote, only the states the pool changed since are
        encoded and nothing is read back; otherwise every state is merged with the file's.
        """
        make_folder(self.path)
        with self._locked():
            if self._known_file is not None and _identity(self.path) == self._known_file:
                self._sync_ours(pool, durable)
                return
            changed = pool.changed_states()
            ours = {fp: state_to_dict(state) for fp, state in pool.states().items()}
            disk, _, notice = self._read(now)
            self.notice = self.notice or notice
            merged = dict(disk)
            for fingerprint, current in ours.items():
                merged[fingerprint] = merge_state(
                    disk.get(fingerprint), self._baseline.get(fingerprint), current
                )
            self._fragments.clear()
            self._rewrite.clear()
            self._write(merged, durable)
        self._baseline = merged
        pool.mark_saved(changed)
        states = pool.states()
        loaded = self._states({fp: merged[fp] for fp in ours}, now)
        pool.replace_states({fp: _keep_reservation(loaded[fp], states[fp]) for fp in loaded})

    def _sync_ours(self, pool: KeyPool, durable: bool) -> None:
        """Write the states the pool changed over the file this process knows (lock held).

        Merged with a file that is our own last write, a state is just ours (see merge_state),
        and adopting it back would change nothing: neither is done.
        """
        changed = pool.changed_states()
        known = pool.fingerprints()
        redo = changed.keys() | (self._rewrite & known) | (known - self._baseline.keys())
        ours = {fp: state_to_dict(state) for fp, state in pool.states_of(redo).items()}
        for fingerprint in ours:
            self._fragments.pop(fingerprint, None)
        merged = {**self._baseline, **ours}
        self._write(merged, durable)
        self._baseline = merged
        self._rewrite.clear()
        pool.mark_saved(changed)

    def _states(self, disk: Mapping[str, StateDict], now: datetime | None) -> dict[str, KeyState]:
        states = {fp: state_from_dict(data) for fp, data in disk.items()}
        if now is None:
            return states
        return {fp: clamp_state(state, now, self.max_wait) for fp, state in states.items()}

    @contextlib.contextmanager
    def _locked(self, reading: bool = False) -> Iterator[None]:
        try:
            self._lock.acquire()
        except Timeout as error:
            raise CacheLockedError(self.path) from error
        except OSError as error:  # the sidecar cannot be made: a read-only or odd folder
            if reading:
                raise _NoLock from error
            raise FileAccessError.of(Path(self._lock.lock_file), error) from error
        try:
            yield
        finally:
            self._lock.release()

    def _read(
        self, now: datetime | None, may_move: bool = True, keep_lines: bool = False
    ) -> tuple[dict[str, StateDict], dict[str, KeyState], CacheLost | None]:
        """The file's key table, checked, and its states; with `now`, a usage day after tomorrow
        is invalid too. With `keep_lines`, each key's line is kept for the next save.

        (The usage of the later day wins a merge, so such a day cannot be cut in memory: the
        next save would write it back, and the key would stay spent until that day.)
        """
        self._known_file = None
        try:
            identity = _identity(self.path)
            text = self.path.read_text(encoding="utf-8")
        except (FileNotFoundError, NotADirectoryError):
            return {}, {}, None
        except UnicodeDecodeError:
            return {}, {}, self._set_aside("corrupt", may_move=may_move)
        except OSError as error:
            code = errno.errorcode.get(error.errno) if error.errno is not None else None
            return {}, {}, self._set_aside("unreadable", error.strerror, may_move, code)
        try:
            document = jsontext.loads(text)  # orjson: 2 MB for 10,000 keys at every start-up
            if not isinstance(document, dict) or document.get("schema") != SCHEMA_VERSION:
                raise ValueError("unknown schema")
            keys = document["keys"]
            if not isinstance(keys, dict):
                raise ValueError("no key table")
            last_day = None if now is None else kst_day(now) + timedelta(days=1)
            states: dict[str, KeyState] = {}
            for fingerprint, data in keys.items():
                state = states[fingerprint] = state_from_dict(data)
                if state.fingerprint != fingerprint:
                    raise InvalidValue("fingerprint")
                if last_day is not None and state.usage_day and state.usage_day > last_day:
                    raise InvalidValue("usage")
        except InvalidValue as error:
            return {}, {}, self._set_aside("invalid", error.field, may_move)
        except (ValueError, KeyError, TypeError, AttributeError, OverflowError):
            return {}, {}, self._set_aside("corrupt", may_move=may_move)
        self._fragments = _fragments_of(text, keys) if keep_lines else {}
        self._known_file = identity
        return dict(keys), states, None

    def _set_aside(
        self, why: str, detail: str | None = None, may_move: bool = True, code: str | None = None
    ) -> CacheLost:
        if not may_move:
            return CacheLost(self.path, why, None, detail, code)
        # A file broken mid-run takes the load's time and a suffix rather than replacing the one
        # set aside at load; without a load, its own mtime.
        when = self._loaded_at or modified_at(self.path)
        return CacheLost(self.path, why, set_aside(self.path, why, when), detail, code)

    def _write(self, keys: Mapping[str, StateDict], durable: bool = True) -> None:
        """One key a line, each line encoded once and kept until its state changes."""
        lines = self._fragments
        for fingerprint in keys.keys() - lines.keys():
            lines[fingerprint] = f"{_encode(fingerprint)}: {_encode(keys[fingerprint])}"
        text = _HEAD + ",\n".join([lines[fp] for fp in keys]) + _TAIL
        atomic_write_text(self.path, text, durable)
        self._known_file = _identity(self.path)


_HEAD = f'{{"schema": {SCHEMA_VERSION}, "keys": {{\n'
_TAIL = "\n}}\n"


def _encode(value: Any) -> str:
    return jsontext.dumps(value)


def _fragments_of(text: str, keys: Mapping[str, Any]) -> dict[str, str]:
    """Each key's whole line of a file this tool wrote, or nothing when it is laid out otherwise
    (an older version's, or edited by hand): then the next save encodes every key once."""
    if not (text.startswith(_HEAD) and text.endswith(_TAIL)):
        return {}
    fragments: dict[str, str] = {}
    for line in text[len(_HEAD) : len(text) - len(_TAIL)].split(",\n"):
        fingerprint, colon, _ = line.partition('": ')
        if not colon or not fingerprint.startswith('"'):
            return {}
        fragments[fingerprint[1:]] = line
    # The file parsed whole, so a line that names each key once, and only those, is its value.
    if len(fragments) != len(keys) or fragments.keys() != keys.keys():
        return {}
    return fragments


def _identity(path: Path) -> tuple[int, int, int]:
    """What tells one version of the file from another: each save replaces it with a new file."""
    info = path.stat()
    return info.st_ino, info.st_size, info.st_mtime_ns


class _NoLock(Exception):
    """The lock's sidecar cannot be made here."""


class InvalidValue(ValueError):
    """A value in the cache that no version of this tool writes; `field` names it."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


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
    """Add our counts since the last sync to the file's; our other changes win, theirs stay.

    Each side may leave out fields at their defaults (see state_to_dict): they are merged whole.
    """
    if disk is None:
        return ours
    if baseline is None:
        # Another process wrote this key after we loaded: only what differs from a fresh key is ours.
        baseline = {"first_seen": disk.get("first_seen")}
    disk, baseline, ours = ({**_FRESH, **side} for side in (disk, baseline, ours))
    merged: StateDict = {}
    for name, value in ours.items():
        if name in _ADDITIVE:
            merged[name] = disk.get(name, 0) + value - baseline.get(name, 0)
        elif name == "usage":
            merged[name] = _merge_usage(disk.get("usage"), baseline.get("usage"), value)
        else:
            merged[name] = value if value != baseline.get(name) else disk.get(name, value)
    return _compact(merged)


def _compact(data: StateDict) -> StateDict:
    """The fields that differ from a fresh key's, and the ones every state has."""
    return {
        name: value
        for name, value in data.items()
        if name in _ALWAYS or value != _FRESH.get(name, _MISSING)
    }


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
    """A key state as JSON-ready data: no key, only its fingerprint. Fields at a fresh key's
    value are left out (10,000 keys make a file a third of the size, written in a third of the
    time); state_from_dict reads a missing field as that value."""
    return _compact(_full_dict(state))


def _full_dict(state: KeyState) -> StateDict:
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
        "standing_in_for": state.standing_in_for,
        "standing_in_since": _iso(state.standing_in_since),
        "standing_in_cause": None
        if state.standing_in_cause is None
        else str(state.standing_in_cause),
        "expiry_seen": state.expiry_seen.isoformat() if state.expiry_seen else None,
    }


def state_from_dict(data: Mapping[str, Any]) -> KeyState:
    """Read a key state written by `state_to_dict`.

    ValueError (or KeyError, TypeError) when it is no key state; InvalidValue when a value is of a
    kind or size no version of this tool writes: a count that is negative, fractional or beyond
    MAX_USAGE or MAX_TOTAL, a latency that is not a finite number, a time before 2000 or after 2099.
    """
    usage = data.get("usage") or {}
    first_seen = _moment(data["first_seen"], "first_seen")
    if first_seen is None:
        raise ValueError("first_seen missing")
    # Positional, in KeyState's order: 10,000 of them are read at every start-up.
    state = KeyState(
        str(data["fingerprint"]),
        first_seen,
        _day(usage.get("day"), "usage"),
        {
            str(op): _count(count, "usage", MAX_USAGE)
            for op, count in (usage.get("ops") or {}).items()
        },
        {},
        _count(data.get("total_calls", 0), "total_calls", MAX_TOTAL),
        _count(data.get("total_successes", 0), "total_successes", MAX_TOTAL),
        last_success=_moment(data.get("last_success"), "last_success"),
        latency_ms_avg=_latency(data.get("latency_ms_avg")),
    )
    if data.keys() <= _PLAIN and "deactivation_cause" in data and not data["deactivation_cause"]:
        return state  # the common state of a pool of thousands: in use, never refused
    error = data.get("last_error")
    state.total_errors = _count(data.get("total_errors", 0), "total_errors", MAX_TOTAL)
    state.consecutive_errors = _count(
        data.get("consecutive_errors", 0), "consecutive_errors", MAX_USAGE
    )
    state.last_error = (
        None
        if not error
        else ErrorRecord(
            _code(error.get("code"), "last_error"),
            str(error.get("symbol", "")),
            str(error.get("message", "")),
            _time(error.get("at"), "last_error"),
            str(error.get("kind", "")),
        )
    )
    state.error_wait_until = _moment(data.get("error_wait_until"), "error_wait_until")
    state.pause_until = _moment(data.get("pause_until"), "pause_until")
    state.cooldowns = {
        str(op): _time(until, "cooldowns") for op, until in (data.get("cooldowns") or {}).items()
    }
    state.deactivated_at = _moment(data.get("deactivated_at"), "deactivated_at")
    state.deactivation_cause = _cause(data)
    state.deactivation_code = _code(data.get("deactivation_code"), "deactivation_code")
    state.deactivation_reason = _hand_reason(data)
    state.disabled_by_hand = bool(data.get("disabled_by_hand", False))
    state.standing_in_for = _fingerprint(data.get("standing_in_for"))
    state.standing_in_since = _moment(data.get("standing_in_since"), "standing_in_since")
    state.standing_in_cause = _CAUSES.get(str(data.get("standing_in_cause")))
    state.expiry_seen = _expiry(data.get("expiry_seen"))
    return state


def _fingerprint(value: Any) -> str | None:
    """A fingerprint (16 hex characters), or None for anything else."""
    if isinstance(value, str) and len(value) == 16 and all(c in "0123456789abcdef" for c in value):
        return value
    return None


def _expiry(value: Any) -> date | None:
    """An expiry date as written (YYYY-MM-DD), or None."""
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def clamp_state(state: KeyState, now: datetime, max_wait: timedelta = DEFAULT_MAX_WAIT) -> KeyState:
    """The state with its times brought within what `now` and the policy allow.

    A moment that passed (first seen, last success or error, deactivation) later than
    now + CLOCK_SKEW is read as now; a pause ends within MAX_PAUSE, an error wait or a
    cool-down within `max_wait`. (A usage day after tomorrow is refused on load instead.)
    """
    latest = now + CLOCK_SKEW
    error = state.last_error
    if _within(state, latest, now, max_wait):
        return state  # the common case: nothing to cut, and no copy
    return dataclasses.replace(
        state,
        first_seen=_passed(state.first_seen, latest, now),
        last_error=None
        if error is None
        else dataclasses.replace(error, at=_passed(error.at, latest, now)),
        last_success=_passed_or_none(state.last_success, latest, now),
        error_wait_until=_wait(state.error_wait_until, now, max_wait),
        pause_until=_wait(state.pause_until, now, MAX_PAUSE),
        cooldowns={op: min(until, now + max_wait) for op, until in state.cooldowns.items()},
        deactivated_at=_passed_or_none(state.deactivated_at, latest, now),
    )


def _within(state: KeyState, latest: datetime, now: datetime, max_wait: timedelta) -> bool:
    """True when clamp_state would change nothing."""
    # Plain tests, no generators: 10,000 states are checked at every start-up.
    if state.first_seen > latest:
        return False
    for when in (state.last_success, state.deactivated_at):
        if when is not None and when > latest:
            return False
    if state.last_error is not None and state.last_error.at > latest:
        return False
    if state.error_wait_until is not None and state.error_wait_until > now + max_wait:
        return False
    if state.pause_until is not None and state.pause_until > now + MAX_PAUSE:
        return False
    if state.cooldowns:
        longest = now + max_wait
        for until in state.cooldowns.values():
            if until > longest:
                return False
    return True


def _passed(when: datetime, latest: datetime, now: datetime) -> datetime:
    """A moment that passed, or now when it lies later than another clock could have put it."""
    return now if when > latest else when


def _passed_or_none(when: datetime | None, latest: datetime, now: datetime) -> datetime | None:
    return None if when is None else _passed(when, latest, now)


def _wait(until: datetime | None, now: datetime, longest: timedelta) -> datetime | None:
    """A wait that ends no later than the longest the policy makes."""
    return None if until is None else min(until, now + longest)


def _count(value: Any, field: str, limit: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
        raise InvalidValue(field)
    return value


def _latency(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidValue("latency_ms_avg")
    if not (math.isfinite(value) and 0 <= value <= MAX_LATENCY_MS):
        raise InvalidValue("latency_ms_avg")
    return float(value)


def _code(value: Any, field: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise InvalidValue(field)
    return value


def _moment(value: Any, field: str) -> datetime | None:
    """A stored time: None for none, ValueError for no time at all, InvalidValue out of range."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidValue(field)
    when = _parsed_time(value)
    try:
        in_range = when is not None and EARLIEST <= when < LATEST
    except OverflowError:  # a far offset on year 1 or 9999
        in_range = False
    if not in_range:
        raise InvalidValue(field)
    return when


@functools.lru_cache(maxsize=4096)
def _parsed_time(text: str) -> datetime | None:
    """parse_time, remembered: the keys of a pool mostly share a few moments (first seen in
    the same run), and 10,000 of them are read at start-up. Datetimes are immutable."""
    return parse_time(text)


def _time(value: Any, field: str) -> datetime:
    when = _moment(value, field)
    if when is None:
        raise ValueError("time missing")
    return when


def _day(value: Any, field: str) -> date | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidValue(field)
    day = _parsed_day(value)
    if not EARLIEST.year <= day.year < LATEST.year:
        raise InvalidValue(field)
    return day


# Remembered like _parsed_time: the usage days of a pool are mostly one or two.
_parsed_day = functools.lru_cache(maxsize=64)(date.fromisoformat)


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


_MISSING = object()
# The fields of a key in use that was never refused: state_from_dict reads such a state quickly.
_PLAIN = frozenset(
    {
        "fingerprint",
        "first_seen",
        "usage",
        "deactivation_cause",
        "total_calls",
        "total_successes",
        "last_success",
        "latency_ms_avg",
    }
)
# The fields every state has; any other is left out at its fresh value. (A file without
# "deactivation_cause" was written before the typed cause: see `_cause`.)
_ALWAYS = frozenset({"fingerprint", "first_seen", "usage", "deactivation_cause"})
# A never-used key's data: what a missing field means, and the baseline of a key this process
# did not load.
_FRESH: StateDict = {
    name: value
    for name, value in _full_dict(KeyState("", datetime.fromtimestamp(0, UTC))).items()
    if name not in _ALWAYS
} | {"usage": {"day": None, "ops": {}}}
