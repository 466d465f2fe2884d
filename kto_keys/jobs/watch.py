"""The watch over a session's keys: every change of a key's fate written to the rotation log as
it happens, the events a person must act on handed to KTO_ON_EVENT, and, at the end of a
collection, the call history rolled up by day and pruned.

Nothing here may fail a run: a log that cannot be written or a command that fails becomes a
notice (data), which the command line words in one line.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from kto_keys.core.clock import Clock, kst_day
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
from kto_keys.edges.history import History, host_name
from kto_keys.edges.hooks import EventHook, HookFailed
from kto_keys.edges.settings import Settings


@dataclass(frozen=True, slots=True)
class HistoryUnwritable:
    """The rotation log or the usage history could not be written; the run goes on."""

    path: Path
    reason: str


Notice = HistoryUnwritable | HookFailed
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
