"""The SQLite store on real files: schema, nested transactions, and commits that fail."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kto_keys.core.answers import Item
from kto_keys.core.clock import kst_day
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


# --- transactions ------------------------------------------------------------------------------
def test_nested_transaction_that_fails_rolls_back_the_inner_part_only(
    store: Store, db_path: Path
) -> None:
    """The inner block's error undoes the inner block; the outer one goes on and commits."""
    with store.transaction():
        store.save_provinces({"11": "서울특별시"}, NOW)
        with pytest.raises(Boom), store.transaction():
            store.save_provinces({"26": "부산광역시"}, NOW)
            raise Boom
        store.start_run("test", ["11"], NOW)
    assert not store.db.in_transaction
    assert provinces_in(db_path) == {"11": "서울특별시"}
    assert count(db_path, "runs") == 1


def test_nested_transactions_that_succeed_commit_together(store: Store, db_path: Path) -> None:
    """Inner blocks that succeed are kept, and reach the file only when the outer one commits."""
    with store.transaction():
        with store.transaction():
            store.save_provinces({"11": "서울특별시"}, NOW)
        with store.transaction(), store.transaction():
            store.start_run("test", ["11"], NOW)
        assert provinces_in(db_path) == {}
    assert provinces_in(db_path) == {"11": "서울특별시"}
    assert count(db_path, "runs") == 1


@pytest.mark.parametrize(
    "error", [pytest.param(Boom, id="error"), pytest.param(KeyboardInterrupt, id="ctrl-c")]
)
def test_error_in_the_outer_transaction_rolls_back_everything(
    store: Store, db_path: Path, error: type[BaseException]
) -> None:
    """An error after an inner block succeeded undoes the inner block too."""
    with pytest.raises(error), store.transaction():
        with store.transaction():
            store.save_provinces({"11": "서울특별시"}, NOW)
        store.start_run("test", ["11"], NOW)
        raise error
    assert not store.db.in_transaction
    assert provinces_in(db_path) == {}
    assert count(db_path, "runs") == 0
    assert can_take_write_lock(db_path)


def test_failed_commit_leaves_no_open_transaction_and_nothing_written(
    store: Store, db_path: Path
) -> None:
    """A COMMIT refused by a deferred foreign key rolls back: no lock held, nothing on disk."""
    store.db.execute("PRAGMA foreign_keys = ON")
    store.db.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
    store.db.execute(
        "CREATE TABLE child (parent_id INTEGER "
        "REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)"
    )
    with pytest.raises(sqlite3.IntegrityError), store.transaction():
        store.save_provinces({"11": "서울특별시"}, NOW)
        # Accepted now, checked only at COMMIT: the parent never comes.
        store.db.execute("INSERT INTO child (parent_id) VALUES (42)")
    assert not store.db.in_transaction
    assert count(db_path, "child") == 0
    assert provinces_in(db_path) == {}
    assert can_take_write_lock(db_path)
    store.save_provinces({"26": "부산광역시"}, NOW)
    assert provinces_in(db_path) == {"26": "부산광역시"}


def test_page_rows_and_checkpoint_are_written_together_or_not_at_all(
    store: Store, db_path: Path
) -> None:
    """When the page's checkpoint cannot be written, its records are not kept either."""
    run = store.start_run("test", ["11"], NOW)
    store.db.execute(
        "CREATE TEMP TRIGGER refuse_checkpoint BEFORE INSERT ON list_pages "
        "BEGIN SELECT RAISE(ABORT, 'no room for the checkpoint'); END"
    )
    with pytest.raises(sqlite3.IntegrityError, match="no room"):
        store.save_page(run, "11", 100, 1, 2, [entry("1"), entry("2")], NOW)
    assert count(db_path, "restaurants") == 0
    store.db.execute("DROP TRIGGER refuse_checkpoint")
    saved = store.save_page(run, "11", 100, 1, 2, [entry("1"), entry("2")], NOW)
    assert (saved.new, saved.updated) == (2, 0)
    assert count(db_path, "restaurants") == 2
    assert store.pages_done(kst_day(NOW), "11") == {(100, 1): 2}
