"""The watch's tables on real files: the rotation log, daily roll-ups and pruning, command runs,
their own connection, and read-only use."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kto_keys.core.calls import CallRecord
from kto_keys.core.clock import KST
from kto_keys.core.rotation import KeyEvent, KeyEventKind
from kto_keys.edges.history import CommandRun, History
from kto_keys.edges.schema import MIGRATIONS
from kto_keys.edges.store import Store

NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # 10:00 KST


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where the database lives: a folder that does not exist yet."""
    return tmp_path / "data" / "kto.db"


@pytest.fixture
def history(db_path: Path) -> Iterator[History]:
    """A writer on a new database."""
    with History(db_path) as opened:
        yield opened


def event(kind: KeyEventKind, index: int = 0, at: datetime = NOW, **fields: Any) -> KeyEvent:
    """A row of the rotation log for key #index (fingerprint fp-index)."""
    return KeyEvent(at, kind, index, f"key{index}.....", f"fp-{index}", **fields)


def record_calls(path: Path, calls: list[tuple[datetime, int, str, str, float]]) -> None:
    """Write raw calls through the store, as a run does."""
    with Store(path) as store:
        for at, index, operation, outcome, latency in calls:
            store.record_call(
                CallRecord(at, f"fp-{index}", index, operation, outcome, None, 200, latency)
            )


def test_a_new_file_gets_the_watch_tables_and_an_old_one_is_migrated(db_path: Path) -> None:
    """A file at version 2 (before the watch) gains the three tables and keeps its rows."""
    db_path.parent.mkdir(parents=True)
    with closing(sqlite3.connect(db_path)) as old:
        for script in MIGRATIONS[:2]:
            old.executescript(script)
        old.execute("PRAGMA user_version = 2")
        old.execute("INSERT INTO provinces VALUES ('11', '서울', '2026-11-01')")
        old.commit()
    with History(db_path) as history:
        assert history.ready
        assert history.events() == []
    with closing(sqlite3.connect(db_path)) as check:
        tables = {
            row[0] for row in check.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        assert {"key_events", "call_days", "command_runs", "provinces"} <= tables
        assert check.execute("SELECT COUNT(*) FROM provinces").fetchone()[0] == 1


def test_a_reader_of_an_older_file_finds_nothing_and_writes_nothing(db_path: Path) -> None:
    """`log` on a file no version of the watch has opened: empty, and the file untouched."""
    db_path.parent.mkdir(parents=True)
    with closing(sqlite3.connect(db_path)) as old:
        old.executescript(MIGRATIONS[0])
        old.execute("PRAGMA user_version = 1")
        old.commit()
    before = db_path.read_bytes()
    with History.open_readonly(db_path) as reader:
        assert not reader.ready
        assert reader.events() == [] and reader.usage(date(2026, 11, 1), {}) == []
        assert reader.latest_commands() == [] and reader.spent_days(date(2026, 11, 1)) == {}
    assert db_path.read_bytes() == before


def test_a_reader_needs_an_existing_file(tmp_path: Path) -> None:
    """No file: FileNotFoundError, and nothing created."""
    with pytest.raises(FileNotFoundError):
        History.open_readonly(tmp_path / "none" / "kto.db")
    assert not (tmp_path / "none").exists()


def test_events_are_kept_in_korea_time_and_filtered_by_key_kind_and_time(history: History) -> None:
    """Rows come back oldest first, with every field, and each filter narrows them."""
    until = NOW + timedelta(minutes=30)
    history.add_event(event(KeyEventKind.DEACTIVATED, 1, code="31", cause="expired", until=until))
    history.add_event(
        event(KeyEventKind.DISABLED, 0, at=NOW + timedelta(hours=1), reason="by hand")
    )
    history.add_event(event(KeyEventKind.RECOVERED, 1, at=NOW + timedelta(days=1)))
    rows = history.events()
    assert [row.kind for row in rows] == ["deactivated", "disabled", "recovered"]
    first = rows[0]
    assert first.at == NOW and first.at.utcoffset() == timedelta(hours=9)
    assert (first.code, first.cause, first.until) == ("31", "expired", until)
    assert [row.kind for row in history.events(fingerprint="fp-1")] == ["deactivated", "recovered"]
    assert [row.kind for row in history.events(kinds=["disabled"])] == ["disabled"]
    since = datetime(2026, 11, 25, tzinfo=KST)
    assert [row.kind for row in history.events(since=since)] == ["recovered"]
    stored = history.db.execute("SELECT at, day FROM key_events ORDER BY id").fetchone()
    assert tuple(stored) == ("2026-11-24T10:00:00+09:00", "2026-11-24")


def test_a_spent_quota_is_one_row_a_day_whichever_process_saw_it(db_path: Path) -> None:
    """Two connections (two runs) writing the same spent quota: the file keeps one row."""
    spent = event(KeyEventKind.QUOTA_SPENT, 0, operation="detailIntro2")
    with History(db_path) as one, History(db_path) as other:
        assert one.add_event(spent) is not None
        assert other.add_event(spent) is None
        assert other.add_event(event(KeyEventKind.QUOTA_SPENT, 0, operation="detailCommon2"))
        next_day = event(
            KeyEventKind.QUOTA_SPENT, 0, at=NOW + timedelta(days=1), operation="detailIntro2"
        )
        assert other.add_event(next_day) is not None
        assert len(one.events(kinds=["quota_spent"])) == 3


def test_a_row_written_without_waiting_fails_fast_while_another_writer_holds_the_file(
    history: History, db_path: Path
) -> None:
    """A run never stalls 30 s on its own log: the write fails at once and can be made later."""
    other = sqlite3.connect(db_path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.OperationalError):
            history.add_event(event(KeyEventKind.OUTAGE), wait=False)
        other.execute("ROLLBACK")
    finally:
        other.close()
    assert history.add_event(event(KeyEventKind.OUTAGE), wait=False) is not None


def test_rows_written_before_the_run_had_an_id_get_it(history: History) -> None:
    """The recovery probes at the start of a collection belong to its run."""
    ids = [history.add_event(event(KeyEventKind.RECOVERED, n)) for n in (0, 1)]
    history.set_run([n for n in ids if n is not None], 7)
    assert [row.run_id for row in history.events()] == [7, 7]


def test_the_roll_up_matches_the_raw_calls_and_pruning_keeps_it(db_path: Path) -> None:
    """Calls over 40 days: each day's roll-up equals its raw calls; pruning to 30 days deletes
    the older raw calls and leaves every roll-up; rolling up again changes nothing."""
    calls = []
    for age in range(40):
        at = NOW - timedelta(days=age)
        calls += [
            (at, 0, "detailIntro2", "success", 10.0 + age),
            (at, 0, "detailIntro2", "transient", 99.0),
        ]
        calls += [(at, 1, "areaBasedList2", "success", 20.0)]
    record_calls(db_path, calls)
    with History(db_path) as history:
        assert history.roll_up({"fp-0": "key0.....", "fp-1": "key1....."}) == 80
        raw = history.db.execute(
            "SELECT day, fingerprint, operation, COUNT(*), SUM(outcome = 'success') "
            "FROM calls GROUP BY day, fingerprint, operation ORDER BY 1, 2, 3"
        ).fetchall()
        rolled = history.db.execute(
            "SELECT day, fingerprint, operation, calls, successes FROM call_days ORDER BY 1, 2, 3"
        ).fetchall()
        assert [tuple(row) for row in raw] == [tuple(row) for row in rolled]
        before = [
            tuple(row) for row in history.db.execute("SELECT * FROM call_days ORDER BY 1, 2, 3")
        ]
        today = date(2026, 11, 24)
        assert history.prune(today, 30, {}) == 3 * 9  # days 31..39 ago
        assert history.db.execute("SELECT MIN(day) FROM calls").fetchone()[0] == "2026-10-25"
        after = [
            tuple(row) for row in history.db.execute("SELECT * FROM call_days ORDER BY 1, 2, 3")
        ]
        assert after == before
        history.roll_up({})
        assert [
            tuple(row) for row in history.db.execute("SELECT * FROM call_days ORDER BY 1, 2, 3")
        ] == before
        usage = history.usage(date(2026, 10, 1), {})
        assert sum(row.calls for row in usage) == 3 * 40
        day = next(
            row for row in usage if row.day == date(2026, 11, 1) and row.fingerprint == "fp-0"
        )
        assert (day.calls, day.successes, dict(day.errors)["gateway"], day.preview) == (
            2,
            1,
            1,
            "key0.....",
        )


def test_usage_adds_the_calls_made_since_the_last_roll_up(db_path: Path) -> None:
    """A roll-up at 10:00, more calls at 11:00: `history` counts them without writing."""
    record_calls(db_path, [(NOW, 0, "detailIntro2", "success", 10.0)])
    with History(db_path) as history:
        history.roll_up({})
    record_calls(db_path, [(NOW + timedelta(hours=1), 0, "detailIntro2", "success", 30.0)])
    with History.open_readonly(db_path) as reader:
        [today] = reader.usage(date(2026, 11, 24), {})
        assert (today.calls, today.p95_ms) == (2, 30.0)
        assert reader.latencies(date(2026, 11, 24)) == {"fp-0": [10.0, 30.0]}


def test_command_runs_give_the_latest_of_each_command_and_its_last_success(
    history: History,
) -> None:
    """What the metrics file shows for `collect`: the latest run, and when one last succeeded."""
    for minutes, code in ((0, 0), (60, 4), (120, 5)):
        started = NOW + timedelta(minutes=minutes)
        history.add_command(
            CommandRun("collect", started, started + timedelta(seconds=30), 30.0, code, code in (0, 4),
                       calls={"detailIntro2": {"success": 9}})
        )  # fmt: skip
    history.add_command(CommandRun("disable", NOW, NOW, 0.01, 0, True))
    latest = {run.command: run for run in history.latest_commands()}
    assert latest["collect"].exit_code == 5 and latest["disable"].exit_code == 0
    assert latest["collect"].calls == {"detailIntro2": {"success": 9}}
    assert history.last_successes()["collect"] == NOW + timedelta(minutes=60, seconds=30)
