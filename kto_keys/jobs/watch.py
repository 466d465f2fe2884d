"""The watch over a session's keys: every change of a key's fate written to the rotation log as
it happens, the events a person must act on handed to KTO_ON_EVENT, and, at the end of a
collection, the call history rolled up by day and pruned. Then the reading side: the rotation
log (`log`) and each key's usage over weeks (`history`).

Nothing here may fail a run: a log that cannot be written or a command that fails becomes a
notice (data), which the command line words in one line.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from kto_keys.core.clock import KST, Clock, kst_day
from kto_keys.core.errors import SettingsError, SettingsProblem
from kto_keys.core.health import HealthLevel, level_for
from kto_keys.core.keys import Redactor, ServiceKey
from kto_keys.core.pool import KeyPool, PoolEvent
from kto_keys.core.rotation import (
    TAKES_OUT,
    FateTracker,
    KeyEvent,
    KeyEventKind,
    PoolCritical,
    by_hand,
    event_of,
)
from kto_keys.core.usage import KeyHistory, KnownKey, key_histories, window
from kto_keys.edges.clock import SystemClock
from kto_keys.edges.history import History, host_name
from kto_keys.edges.hooks import EventHook, HookFailed
from kto_keys.edges.settings import DEFAULT_HISTORY_WINDOW, Settings
from kto_keys.edges.shared import JournalSetAside


@dataclass(frozen=True, slots=True)
class HistoryUnwritable:
    """The rotation log or the usage history could not be written; the run goes on."""

    path: Path
    reason: str


# What a run could not do and went on without; the command line words each in one line.
Notice = HistoryUnwritable | HookFailed | JournalSetAside
NoticeSink = Callable[[Notice], None]


def ignore_notice(notice: Notice) -> None:
    """The default notice sink of the programmatic API: say nothing."""


class KeyWatch:
    """Writes a session's changes of key fate once each, and raises the alerts among them."""

    def __init__(
        self, settings: Settings, clock: Clock, notices: NoticeSink = ignore_notice
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.notices = notices
        self.run_id: int | None = None
        self.host = host_name()
        self._tracker = FateTracker()
        self._history: History | None = None
        self._pending: list[KeyEvent] = []
        self._without_run: list[int] = []
        self._reported = False
        self._critical = False
        self._redact: Redactor | None = None
        self._hook = EventHook(settings.on_event, notices) if settings.on_event else None

    # --- what the session hears -------------------------------------------------------------
    def start(self, pool: KeyPool) -> None:
        """Remember whether the pool is critical already: only a change is an alert."""
        self._critical = _is_critical(pool, self.clock.now())

    def saw(self, events: Sequence[PoolEvent], pool: KeyPool, now: datetime) -> None:
        """The pool events of one call: keep those that change a key's fate."""
        for event in events:
            kind = self._tracker.fate(event, now)
            if kind is not None:
                row = event_of(event, kind, now)
                if row.reason:
                    row = replace(row, reason=self._redacted(row.reason))
                self._keep(row, pool, now)

    def by_hand(
        self, key: ServiceKey, kind: KeyEventKind, pool: KeyPool, reason: str | None
    ) -> None:
        """A person disabled or enabled a key."""
        now = self.clock.now()
        self._tracker.by_hand(key, kind)
        words = self._redacted(reason) if reason else None
        self._keep(by_hand(key, kind, now, words), pool, now)

    def run_started(self, run_id: int) -> None:
        """The collection has a run id: later rows carry it, and earlier ones are given it."""
        self.run_id = run_id
        self.flush(wait=True)
        if self._without_run:
            self._attempt(lambda history: history.set_run(self._without_run, run_id))
            self._without_run = []

    # --- writing ------------------------------------------------------------------------------
    def flush(self, wait: bool = True) -> None:
        """Write the rows held back (another writer held the file a moment ago)."""
        while self._pending:
            row = self._pending[0]
            try:
                history = self._open()
                row_id = history.add_event(row, wait=wait)
            except sqlite3.OperationalError as error:
                if not wait and _is_busy(error):
                    return  # the next event or the next save writes it
                self._unwritable(error)
                self._pending.clear()
                return
            except (sqlite3.Error, OSError) as error:
                self._unwritable(error)
                self._pending.clear()
                return
            self._pending.pop(0)
            if row_id is not None and row.run_id is None:
                self._without_run.append(row_id)

    def tidy(self) -> None:
        """Roll the call history up by day and prune raw calls older than KTO_HISTORY_DAYS."""
        today = kst_day(self.clock.now())
        previews = {key.fingerprint: key.preview for key in self.settings.keys}
        self._attempt(lambda history: history.prune(today, self.settings.history_days, previews))

    def close(self) -> None:
        """Write what is held back, wait for the event commands, and close the database."""
        self.flush(wait=True)
        if self._hook is not None:
            self._hook.wait()
        if self._history is not None:
            self._history.close()
            self._history = None

    # --- internals ----------------------------------------------------------------------------
    def _keep(self, row: KeyEvent, pool: KeyPool, now: datetime) -> None:
        row = replace(row, run_id=self.run_id, host=self.host)
        self._pending.append(row)
        self.flush(wait=False)
        if row.is_alert:
            self._alert(row.to_json())
        if row.kind in TAKES_OUT:
            critical = _is_critical(pool, now)
            if critical and not self._critical:
                total = len(pool.keys)
                self._alert(PoolCritical(now, 0, total, self.run_id, self.host).to_json())
            self._critical = critical
        elif row.kind in (KeyEventKind.RECOVERED, KeyEventKind.ENABLED):
            self._critical = _is_critical(pool, now)

    def _alert(self, payload: dict[str, object]) -> None:
        if self._hook is not None:
            self._hook.send(payload)

    def _open(self) -> History:
        if self._history is None:
            self._history = History(self.settings.db_path)
        return self._history

    def _attempt(self, write: Callable[[History], object]) -> None:
        try:
            write(self._open())
        except (sqlite3.Error, OSError) as error:
            self._unwritable(error)

    def _unwritable(self, error: Exception) -> None:
        """Say once per session that the history cannot be written."""
        if not self._reported:
            self._reported = True
            reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
            self.notices(HistoryUnwritable(self.settings.db_path, reason))

    def _redacted(self, text: str) -> str:
        if self._redact is None:
            self._redact = Redactor(self.settings.keys)
        return self._redact(text)


def _is_critical(pool: KeyPool, now: datetime) -> bool:
    return level_for(len(pool.working_keys(now)), len(pool.keys)) is HealthLevel.CRITICAL


def _is_busy(error: sqlite3.OperationalError) -> bool:
    return getattr(error, "sqlite_errorname", "") in ("SQLITE_BUSY", "SQLITE_LOCKED") or (
        "locked" in str(error)
    )


# --- reading: `log` and `history` --------------------------------------------------------------
def parse_kind(text: str) -> KeyEventKind:
    """`--kind`: one of the rotation log's kinds."""
    try:
        return KeyEventKind(text.strip().lower())
    except ValueError:
        raise SettingsError(
            SettingsProblem.NOT_ONE_OF,
            setting="--kind",
            value=text,
            valid=tuple(kind.value for kind in KeyEventKind),
        ) from None


def parse_since(text: str) -> datetime:
    """`--since`: a day (its midnight in Korea) or an ISO time (Korea time unless it says)."""
    value = text.strip()
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(0, 0), KST)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise SettingsError(SettingsProblem.NOT_A_DATE, setting="--since", value=text) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=KST)


def key_log(
    settings: Settings,
    index: int | None = None,
    since: datetime | None = None,
    kind: KeyEventKind | None = None,
) -> list[KeyEvent]:
    """The rotation log, oldest first: one key's (`#index`), from a time on, of one kind."""
    fingerprint, key_index = _key_filter(settings, index)
    kinds = [kind.value] if kind is not None else None
    with _reader(settings) as history:
        return history.events(fingerprint, key_index, since, kinds)


@dataclass(frozen=True, slots=True)
class UsageReport:
    """`history`: each key over a window of Korea days."""

    days: tuple[date, ...]
    keys: tuple[KeyHistory, ...]
    # Days the raw calls are kept: the window's p50/p95 come from them.
    raw_days: int

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "from": self.days[0].isoformat(),
            "to": self.days[-1].isoformat(),
            "days": len(self.days),
            "raw_days": self.raw_days,
            "keys": [key.to_json() for key in self.keys],
        }


def usage_history(
    settings: Settings,
    days: int = DEFAULT_HISTORY_WINDOW,
    index: int | None = None,
    clock: Clock | None = None,
) -> UsageReport:
    """Each key over the last `days` Korea days: calls per day, success rate, p50/p95, spent days."""
    fingerprint, key_index = _key_filter(settings, index)
    span = window(kst_day((clock or SystemClock()).now()), days)
    previews = {key.fingerprint: key.preview for key in settings.keys}
    with _reader(settings) as history:
        usage = history.usage(span[0], previews)
        latencies = history.latencies(span[0])
        spent = history.spent_days(span[0])
        known = history.known_keys()
    keys = [KnownKey(key.fingerprint, key.index, key.preview, True) for key in settings.keys]
    # Keys no longer configured (or none configured): as the history last saw them.
    others: dict[str, KnownKey] = {}
    for row in usage:
        if row.fingerprint not in previews and row.fingerprint not in others:
            seen_index, seen_preview = known.get(row.fingerprint, (row.key_index, row.preview))
            others[row.fingerprint] = KnownKey(
                row.fingerprint, seen_index, seen_preview or row.preview, False
            )
    keys += sorted(others.values(), key=lambda key: (key.key_index is None, key.key_index or 0))
    if fingerprint is not None:
        keys = [key for key in keys if key.fingerprint == fingerprint]
    elif key_index is not None:
        keys = [key for key in keys if key.key_index == key_index]
    histories = key_histories(keys, span, usage, latencies, spent)
    return UsageReport(span, tuple(histories), settings.history_days)


def _key_filter(settings: Settings, index: int | None) -> tuple[str | None, int | None]:
    """`--key N`: the configured key #N by its fingerprint (an index may name another key in
    older rows), or, with no key configured, the index as it was written."""
    if index is None:
        return None, None
    if not settings.keys:
        return None, index
    if not 0 <= index < len(settings.keys):
        raise SettingsError(SettingsProblem.NO_SUCH_KEY, value=index, last=len(settings.keys) - 1)
    return settings.keys[index].fingerprint, None


def _reader(settings: Settings) -> History:
    """The history, read-only; a settings error when there is no database yet."""
    try:
        return History.open_readonly(settings.db_path)
    except FileNotFoundError:
        raise SettingsError(SettingsProblem.NO_DATABASE, path=settings.db_path) from None
