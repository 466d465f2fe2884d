"""The SQLite store on real files: schema and migrations."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kto_keys.core.answers import Item
from kto_keys.edges.schema import MIGRATIONS, SCHEMA_VERSION, migrate
from kto_keys.edges.store import Store

NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


class Boom(Exception):
    """An error raised on purpose inside a transaction."""


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where the database lives: a folder that does not exist yet."""
    return tmp_path / "data" / "kto.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    """A writer on a new database."""
    with Store(db_path) as opened:
        yield opened


def entry(contentid: str, province: str = "11", **fields: str) -> Item:
    """A list entry as the service returns it."""
    return {
        "contentid": contentid,
        "contenttypeid": "39",
        "title": f"식당 {contentid}",
        "lDongRegnCd": province,
        "mapx": "127.0276368284",
        "mapy": "37.4979502831",
        "modifiedtime": "20240502103327",
        **fields,
    }


def provinces_in(path: Path) -> dict[str, str]:
    """The province list as another connection sees it on disk."""
    with sqlite3.connect(path) as other:
        return dict(other.execute("SELECT code, name FROM provinces ORDER BY code").fetchall())


def count(path: Path, table: str) -> int:
    """Rows of a table as another connection sees it on disk."""
    with sqlite3.connect(path) as other:
        return int(other.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def can_take_write_lock(path: Path) -> bool:
    """Whether another connection gets the write lock at once (nobody holds it)."""
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()


# --- schema ------------------------------------------------------------------------------------
def test_new_file_gets_its_folder_and_the_current_schema(db_path: Path) -> None:
    """A writer creates the folder and migrates a new file to SCHEMA_VERSION."""
    with Store(db_path) as store:
        assert store.schema_version() == SCHEMA_VERSION == len(MIGRATIONS)
    assert db_path.is_file()


def test_older_file_is_migrated_and_keeps_its_records(db_path: Path) -> None:
    """A file at version 1 (before the detail phase) gains the detail columns and keeps its rows."""
    db_path.parent.mkdir(parents=True)
    with sqlite3.connect(db_path) as old:
        old.executescript(MIGRATIONS[0])
        old.execute(
            "INSERT INTO restaurants (contentid, raw_json, first_seen_at, last_seen_at) "
            "VALUES ('1', '{\"contentid\": \"1\"}', 'then', 'then')"
        )
        old.execute("PRAGMA user_version = 1")
    old.close()
    with Store(db_path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert [todo.contentid for todo in store.detail_todo("images")] == ["1"]


def test_opening_an_up_to_date_file_writes_nothing(db_path: Path) -> None:
    """A second writer on a current file leaves its write-ahead log empty: no migration to write."""
    with Store(db_path):
        pass
    with Store(db_path):
        assert Path(f"{db_path}-wal").stat().st_size == 0


def test_migrate_refuses_to_run_outside_a_transaction(tmp_path: Path) -> None:
    """Half a migration must never reach the file: migrate() needs the caller's transaction."""
    connection = sqlite3.connect(tmp_path / "bare.db", isolation_level=None)
    with pytest.raises(sqlite3.ProgrammingError):
        migrate(connection)
    assert connection.execute("PRAGMA user_version").fetchone()[0] == 0
    connection.close()
