"""The watch's tables in the database: the rotation log (key_events), the calls rolled up by Korea
day (call_days), and the commands that touched keys (command_runs).

A connection of its own to the file that edges/store.py keeps the records and the raw calls in:
WAL, one short statement or transaction at a time, and `History.open_readonly` for the commands
that only read (`log`, `history`), which never write a page of the file. Every time is written in
Korea time, so that ISO strings sort as the moments do.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sqlite3
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from kto_keys.core.clock import KST
from kto_keys.core.rotation import KeyEvent, KeyEventKind
from kto_keys.core.usage import DayUsage, ErrorClass, RawCall, roll_up
from kto_keys.edges.schema import SCHEMA_VERSION, migrate, schema_version
from kto_keys.edges.store import connect_reader, connect_writer, transaction

# The migration that made these tables: an older file, opened read-only, has none of them.
WATCH_SCHEMA = 3
_EVENT_COLUMNS = (
    "at, day, run_id, host, key_index, preview, fingerprint, kind, operation, code, cause, "
    "reason, until"
)
_ERROR_COLUMNS = {kind.value: f"{kind.value}_errors" for kind in ErrorClass}
_DAY_COLUMNS = (
    "day, fingerprint, operation, key_index, preview, calls, successes, "
    + ", ".join(_ERROR_COLUMNS.values())
    + ", p50_ms, p95_ms"
)


def host_name() -> str:
    """This machine's name, kept with each row: several machines may share the keys."""
    return socket.gethostname()


@dataclass(frozen=True, slots=True)
class CommandRun:
    """One command that touched keys: when, how long, its exit code, and its calls."""

    command: str
    started_at: datetime
    ended_at: datetime
    duration_s: float
    exit_code: int
    # Whether monitoring counts it a success (exit 0, and 4 unless told otherwise).
    success: bool
    run_id: int | None = None
    host: str = ""
    # Calls by operation and outcome kind.
    calls: Mapping[str, Mapping[str, int]] = field(default_factory=dict)


class History:
    """The rotation log, the daily roll-ups and the command runs, on their own connection.

    `History(path)` writes: it creates the folder and the file and migrates it, as the store
    does. `History.open_readonly(path)` reads an existing file and never writes.
    """

    def __init__(self, path: Path, readonly: bool = False) -> None:
        self.path = path
        self.readonly = readonly
        self.db = _connect(path, readonly)
        if not readonly and schema_version(self.db) < SCHEMA_VERSION:
            with transaction(self.db):
                migrate(self.db)
        # A file older than the watch has none of its tables: reading it finds nothing.
        self.ready = schema_version(self.db) >= WATCH_SCHEMA

    @classmethod
    def open_readonly(cls, path: Path) -> History:
        """A reader of an existing database (FileNotFoundError when there is none)."""
        return cls(path, readonly=True)

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the rotation log --------------------------------------------------------------------
    def add_event(self, event: KeyEvent, wait: bool = True) -> int | None:
        """Append one row at once; None when it was kept already (a quota spent, seen twice).

        Without `wait`, another writer holding the file makes this fail after a moment with
        sqlite3.OperationalError instead of stalling the run: the caller keeps the row and
        writes it later.
        """
        # Waiting, the write takes the lock through `transaction`, whose wait Ctrl-C can end.
        waiting = transaction(self.db) if wait else contextlib.nullcontext()
        with waiting:
            cursor = self.db.execute(
                f"INSERT OR IGNORE INTO key_events ({_EVENT_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    _stamp(event.at),
                    event.day.isoformat(),
                    event.run_id,
                    event.host,
                    event.key_index,
                    event.preview,
                    event.fingerprint,
                    str(event.kind),
                    event.operation,
                    event.code,
                    event.cause,
                    event.reason,
                    _stamp(event.until),
                ),
            )
        return cursor.lastrowid if cursor.rowcount else None

    def set_run(self, ids: Sequence[int], run_id: int) -> None:
        """Give rows written before the run had an id (its recovery probes) the run's id."""
        if ids:
            with transaction(self.db):
                self.db.executemany(
                    "UPDATE key_events SET run_id = ? WHERE id = ?", [(run_id, n) for n in ids]
                )

    def events(
        self,
        fingerprint: str | None = None,
        key_index: int | None = None,
        since: datetime | None = None,
        kinds: Collection[str] | None = None,
    ) -> list[KeyEvent]:
        """The rows that match, oldest first."""
        if not self.ready:
            return []
        clauses: list[str] = []
        params: list[Any] = []
        if fingerprint is not None:
            clauses.append("fingerprint = ?")
            params.append(fingerprint)
        if key_index is not None:
            clauses.append("key_index = ?")
            params.append(key_index)
        if since is not None:
            clauses.append("at >= ?")
            params.append(_stamp(since))
        if kinds:
            clauses.append(f"kind IN ({', '.join('?' * len(kinds))})")
            params.extend(kinds)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self.db.execute(
            f"SELECT {_EVENT_COLUMNS}, id FROM key_events {where} ORDER BY at, id", params
        )
        return [_event(row) for row in rows]

    def spent_days(self, first: date) -> dict[str, set[date]]:
        """Per key, the Korea days from `first` on when a quota ran out (spent, or code 22)."""
        if not self.ready:
            return {}
        rows = self.db.execute(
            "SELECT DISTINCT fingerprint, day FROM key_events WHERE kind IN (?, ?) AND day >= ?",
            (str(KeyEventKind.QUOTA_SPENT), str(KeyEventKind.COOLING), first.isoformat()),
        )
        spent: dict[str, set[date]] = {}
        for row in rows:
            spent.setdefault(row["fingerprint"], set()).add(date.fromisoformat(row["day"]))
        return spent

    def known_keys(self) -> dict[str, tuple[int | None, str | None]]:
        """The keys the rotation log and the roll-ups have seen: fingerprint -> latest index and
        preview (the raw calls know no preview)."""
        if not self.ready:
            return {}
        known: dict[str, tuple[int | None, str | None]] = {}
        for row in self.db.execute(
            "SELECT fingerprint, key_index, preview FROM call_days ORDER BY day"
        ):
            known[row["fingerprint"]] = (row["key_index"], row["preview"])
        for row in self.db.execute(
            "SELECT fingerprint, key_index, preview FROM key_events ORDER BY at, id"
        ):
            known[row["fingerprint"]] = (row["key_index"], row["preview"])
        return known

    # --- usage by day ------------------------------------------------------------------------
    def roll_up(self, previews: Mapping[str, str]) -> int:
        """Roll the raw calls up by day, key and operation, from the latest day rolled up (which
        may have grown since) on; return the rows written."""
        with transaction(self.db):
            start = self._raw_from()
            if start is None:
                return 0
            known = {fp: preview for fp, (_, preview) in self.known_keys().items() if preview}
            usage = roll_up(self._raw_calls(start), {**known, **previews})
            self.db.execute("DELETE FROM call_days WHERE day >= ?", (start.isoformat(),))
            self.db.executemany(
                f"INSERT INTO call_days ({_DAY_COLUMNS}) VALUES "
                f"({', '.join('?' * (9 + len(_ERROR_COLUMNS)))})",
                [_day_row(row) for row in usage],
            )
        return len(usage)

    def prune(self, today: date, keep_days: int, previews: Mapping[str, str]) -> int:
        """Roll up, then delete the raw calls older than `keep_days` days; return how many went.

        The roll-ups stay for good, and a day's raw calls go whole, so every day is rolled up
        from all its calls or kept as it was rolled up.
        """
        cutoff = today - timedelta(days=keep_days)
        with transaction(self.db):
            self.roll_up(previews)
            cursor = self.db.execute("DELETE FROM calls WHERE day < ?", (cutoff.isoformat(),))
        return cursor.rowcount

    def usage(self, first: date, previews: Mapping[str, str]) -> list[DayUsage]:
        """Every key's days from `first` on: rolled up, and the newest from the raw calls."""
        if not self.ready:
            return []
        raw_from = self._raw_from()
        rows = self.db.execute(
            f"SELECT {_DAY_COLUMNS} FROM call_days WHERE day >= ? AND (? IS NULL OR day < ?)",
            (first.isoformat(), _day(raw_from), _day(raw_from)),
        )
        usage = [_usage(row) for row in rows]
        if raw_from is not None:
            known = {fp: preview for fp, (_, preview) in self.known_keys().items() if preview}
            usage += roll_up(self._raw_calls(max(first, raw_from)), {**known, **previews})
        return usage

    def latencies(self, first: date) -> dict[str, list[float]]:
        """Per key, the latency of every raw call kept from `first` on."""
        if not self.ready:
            return {}
        latencies: dict[str, list[float]] = {}
        rows = self.db.execute(
            "SELECT fingerprint, latency_ms FROM calls WHERE day >= ? AND latency_ms IS NOT NULL",
            (first.isoformat(),),
        )
        for fingerprint, latency in rows:
            latencies.setdefault(fingerprint, []).append(latency)
        return latencies

    def _raw_from(self) -> date | None:
        """The first day to take from the raw calls: the latest day rolled up (it may have
        grown), or the oldest raw call when that is younger (days before it were pruned)."""
        rolled = self.db.execute("SELECT MAX(day) FROM call_days").fetchone()[0]
        oldest = self.db.execute("SELECT MIN(day) FROM calls").fetchone()[0]
        if oldest is None:
            return None
        return date.fromisoformat(max(rolled, oldest) if rolled else oldest)

    def _raw_calls(self, start: date) -> Iterator[RawCall]:
        rows = self.db.execute(
            "SELECT day, fingerprint, key_index, operation, outcome, latency_ms FROM calls "
            "WHERE day >= ?",
            (start.isoformat(),),
        )
        for row in rows:
            yield (row[0], row[1], row[2], row[3], row[4], row[5])

    # --- commands ----------------------------------------------------------------------------
    def add_command(self, run: CommandRun) -> None:
        """Keep one command run."""
        self.db.execute(
            "INSERT INTO command_runs (command, started_at, ended_at, duration_s, exit_code, "
            "success, run_id, host, calls) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                run.command,
                _stamp(run.started_at),
                _stamp(run.ended_at),
                round(run.duration_s, 3),
                run.exit_code,
                int(run.success),
                run.run_id,
                run.host,
                json.dumps({op: dict(outcomes) for op, outcomes in run.calls.items()}),
            ),
        )

    def latest_commands(self) -> list[CommandRun]:
        """The latest run of each command, by command name."""
        if not self.ready:
            return []
        rows = self.db.execute(
            "SELECT * FROM command_runs WHERE id IN "
            "(SELECT MAX(id) FROM command_runs GROUP BY command) ORDER BY command"
        )
        return [_command(row) for row in rows]

    def last_successes(self) -> dict[str, datetime]:
        """When each command last ended in success."""
        if not self.ready:
            return {}
        rows = self.db.execute(
            "SELECT command, MAX(ended_at) FROM command_runs WHERE success = 1 GROUP BY command"
        )
        return {row[0]: datetime.fromisoformat(row[1]) for row in rows}


def _connect(path: Path, readonly: bool) -> sqlite3.Connection:
    """A writer (folder and file made, WAL), or a reader that never writes a page of the file:
    opened as the store opens its own, with the same short waits for a lock."""
    return connect_reader(path) if readonly else connect_writer(path)


def _stamp(when: datetime | None) -> str | None:
    return when.astimezone(KST).isoformat() if when is not None else None


def _day(when: date | None) -> str | None:
    return when.isoformat() if when is not None else None


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _event(row: sqlite3.Row) -> KeyEvent:
    at = datetime.fromisoformat(row["at"])
    return KeyEvent(
        at,
        KeyEventKind(row["kind"]),
        row["key_index"],
        row["preview"],
        row["fingerprint"],
        row["operation"],
        row["code"],
        row["cause"],
        row["reason"],
        _time(row["until"]),
        row["run_id"],
        row["host"],
    )


def _day_row(usage: DayUsage) -> tuple[Any, ...]:
    return (
        usage.day.isoformat(),
        usage.fingerprint,
        usage.operation,
        usage.key_index,
        usage.preview,
        usage.calls,
        usage.successes,
        *(usage.errors.get(kind, 0) for kind in _ERROR_COLUMNS),
        usage.p50_ms,
        usage.p95_ms,
    )


def _usage(row: sqlite3.Row) -> DayUsage:
    return DayUsage(
        date.fromisoformat(row["day"]),
        row["fingerprint"],
        row["operation"],
        row["key_index"],
        row["preview"],
        row["calls"],
        row["successes"],
        {kind: row[column] for kind, column in _ERROR_COLUMNS.items()},
        row["p50_ms"],
        row["p95_ms"],
    )


def _command(row: sqlite3.Row) -> CommandRun:
    return CommandRun(
        row["command"],
        datetime.fromisoformat(row["started_at"]),
        datetime.fromisoformat(row["ended_at"]),
        row["duration_s"],
        row["exit_code"],
        bool(row["success"]),
        row["run_id"],
        row["host"],
        json.loads(row["calls"] or "{}"),
    )
