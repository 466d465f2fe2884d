"""The SQLite store on real files: schema, nested transactions, failed commits, read-only use."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kto_keys.core.answers import Item
from kto_keys.core.calls import CallRecord
from kto_keys.core.clock import kst_day
from kto_keys.edges.schema import MIGRATIONS, SCHEMA_VERSION, migrate
from kto_keys.edges.store import CHECKPOINT_ROWS, WAIT_ROWS, Store

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
    with closing(sqlite3.connect(path)) as other:
        return dict(other.execute("SELECT code, name FROM provinces ORDER BY code").fetchall())


def count(path: Path, table: str) -> int:
    """Rows of a table as another connection sees it on disk."""
    with closing(sqlite3.connect(path)) as other:
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


def test_a_new_file_takes_large_pages_and_an_older_file_keeps_its_own(db_path: Path) -> None:
    """16 KB pages for a new database; a file made with 4 KB pages stays so, its rows intact."""
    with Store(db_path):
        pass
    older = db_path.with_name("older.db")
    with closing(sqlite3.connect(older)) as made:
        made.execute("CREATE TABLE kept (x)")
        made.execute("INSERT INTO kept VALUES (1)")
        made.commit()
    with Store(older) as store:
        assert store.schema_version() == SCHEMA_VERSION
    sizes = {}
    for path in (db_path, older):
        with closing(sqlite3.connect(path)) as reader:
            sizes[path.name] = reader.execute("PRAGMA page_size").fetchone()[0]
            if path == older:
                assert reader.execute("SELECT x FROM kept").fetchall() == [(1,)]
    assert sizes == {"kto.db": 16384, "older.db": 4096}


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


# --- reading without writing -------------------------------------------------------------------
DAY = kst_day(NOW)
# Far in the past, so that any write after it shows even on a file system with coarse times.
OLD_MTIME_NS = 1_000_000_000 * 1_600_000_000


def fill(path: Path) -> None:
    """A database with runs, pages, details, images, a removed record and a call."""
    with Store(path) as store:
        store.save_provinces({"11": "서울특별시", "26": "부산광역시"}, NOW)
        run = store.start_run("test", ["11"], NOW)
        store.save_page(run, "11", 100, 1, 3, [entry("1"), entry("2", tel="02-2"), entry("3")], NOW)
        store.unlist("11", DAY)
        store.save_page(run, "11", 100, 1, 2, [entry("1"), entry("2", tel="02-2")], NOW)
        store.complete_province("11", 2, NOW)
        intro, common, images = (
            {todo.contentid: todo for todo in store.detail_todo(kind)}
            for kind in ("intro", "common", "images")
        )
        store.save_intro(intro["1"], {"firstmenu": "칼국수", "treatmenu": "만두"}, NOW)
        store.save_intro(intro["2"], None, NOW)
        store.save_common(
            common["1"],
            {
                "overview": "첫 줄<br>둘째 줄",
                "homepage": '<a href="https://example.invalid">홈</a>',
            },
            NOW,
        )
        store.save_images(images["1"], [{"serialnum": "7", "originimgurl": "http://a/7.jpg"}], NOW)
        store.save_images(images["2"], [], NOW)
        store.record_call(CallRecord(NOW, "fp1", 1, "areaBasedList2", "success", "0000", 200, 12.5))
        store.finish_run(run, NOW, "ok", {"listing": {"pages": 2, "records": 2}})


def read_everything(store: Store) -> list[object]:
    """Every query a reader may make, with its answer."""
    return [
        store.schema_version(),
        store.runs(),
        store.cached_provinces(),
        store.pages_done(DAY, "11"),
        store.province_completed(DAY, "11"),
        store.listed_today("11", DAY),
        store.detail_todo("intro"),
        store.call_stats(NOW),
        list(store.iter_export(include_removed=True)),
    ]


def snapshot(folder: Path) -> dict[str, tuple[bytes, int] | None]:
    """Every entry under a folder: each file's bytes and modification time, each folder's name."""
    return {
        str(entry.relative_to(folder)): (
            (entry.read_bytes(), entry.stat().st_mtime_ns) if entry.is_file() else None
        )
        for entry in sorted(folder.rglob("*"))
    }


def database_files(folder: Path) -> dict[str, tuple[bytes, int] | None]:
    """The snapshot without SQLite's shared-memory index files (-wal, -shm)."""
    return {
        name: entry
        for name, entry in snapshot(folder).items()
        if not name.endswith(("-wal", "-shm"))
    }


@pytest.fixture
def filled(db_path: Path) -> Path:
    """A filled WAL database that no connection holds open: no -wal or -shm file beside it."""
    fill(db_path)
    os.utime(db_path, ns=(OLD_MTIME_NS, OLD_MTIME_NS))
    assert sorted(entry.name for entry in db_path.parent.iterdir()) == ["kto.db"]
    assert db_path.read_bytes()[18:20] == b"\x02\x02"  # the header says WAL
    return db_path


OPENERS = [
    pytest.param(lambda path: Store(path, readonly=True), id="readonly-flag"),
    pytest.param(Store.open_readonly, id="open-readonly"),
]


@pytest.mark.parametrize("open_reader", OPENERS)
def test_reading_never_changes_the_file_or_its_folder(
    filled: Path, tmp_path: Path, open_reader: Callable[[Path], Store]
) -> None:
    """Every query of a reader keeps the file's bytes and mtime and adds no -journal.

    SQLite's shared -wal and -shm index files may appear beside a WAL database: they hold no
    data of ours, and sharing them is what lets a reader see every commit untorn.
    """
    before = database_files(tmp_path)
    with open_reader(filled) as reader:
        answers = read_everything(reader)
    assert database_files(tmp_path) == before
    version, exported = answers[0], answers[-1]
    assert version == SCHEMA_VERSION
    assert isinstance(exported, list) and len(exported) == 3


def test_reading_a_missing_file_raises_and_creates_nothing(tmp_path: Path) -> None:
    """No database: FileNotFoundError, and neither the file nor its folder appears."""
    missing = tmp_path / "nowhere" / "kto.db"
    with pytest.raises(FileNotFoundError) as raised:
        Store.open_readonly(missing)
    assert raised.value.filename == str(missing)
    assert list(tmp_path.iterdir()) == []


WRITES: list[Any] = [
    pytest.param(lambda store: store.save_provinces({"11": "서울"}, NOW), id="save-provinces"),
    pytest.param(lambda store: store.start_run("test", ["11"], NOW), id="start-run"),
    pytest.param(lambda store: store.save_page(1, "11", 100, 2, 3, [entry("9")], NOW), id="page"),
    pytest.param(lambda store: store.forget_day(DAY), id="forget-day"),
    pytest.param(
        lambda store: store.record_call(CallRecord(NOW, "fp", 1, "x", "success", None, 200, 1.0)),
        id="record-call",
    ),
    pytest.param(lambda store: store.db.execute("DELETE FROM runs"), id="raw-sql"),
]


@pytest.mark.parametrize("write", WRITES)
def test_reader_refuses_every_write(
    filled: Path, tmp_path: Path, write: Callable[[Store], object]
) -> None:
    """A write through a reader fails as a read-only database, and the file stays as it was."""
    before = database_files(tmp_path)
    with Store.open_readonly(filled) as reader:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            write(reader)
        assert not reader.db.in_transaction
    assert database_files(tmp_path) == before


@pytest.mark.parametrize("write", WRITES)
def test_reader_beside_a_writer_refuses_every_write(
    filled: Path, write: Callable[[Store], object]
) -> None:
    """With a writer open (so sharing its -wal and -shm) a reader still cannot write."""
    with Store(filled) as writer, Store.open_readonly(filled) as reader:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            write(reader)
        assert writer.runs()[0]["outcome"] == "ok"
    assert count(filled, "runs") == 1


def test_reader_works_while_a_writer_holds_the_database_open(filled: Path) -> None:
    """Beside an open writer a reader sees each commit, never an open transaction, never blocks."""
    with Store(filled) as writer:
        files = sorted(entry.name for entry in filled.parent.iterdir())
        with Store.open_readonly(filled) as reader:
            export = reader.iter_export(batch=1)
            first = next(export)
            # The writer commits while the reader is halfway through its snapshot: no waiting.
            writer.save_provinces({"50": "제주특별자치도"}, NOW)
            assert [first, *export] == list(writer.iter_export())
            assert reader.cached_provinces()[1] == {"50": "제주특별자치도"}
            with writer.transaction():
                writer.save_provinces({"47": "경상북도"}, NOW)
                assert reader.cached_provinces()[1] == {"50": "제주특별자치도"}
            assert reader.cached_provinces()[1] == {"47": "경상북도"}
        assert sorted(entry.name for entry in filled.parent.iterdir()) == files


@pytest.mark.parametrize("include_removed", [False, True], ids=["listed", "with-removed"])
def test_export_from_a_reader_gives_the_writers_rows(filled: Path, include_removed: bool) -> None:
    """A reader exports exactly the rows, details and images a writer exports."""
    with Store.open_readonly(filled) as reader:
        exported = list(reader.iter_export(include_removed=include_removed))
    with Store(filled) as writer:
        assert exported == list(writer.iter_export(include_removed=include_removed))
    by_id = {record["contentid"]: record for record in exported}
    assert sorted(by_id) == (["1", "2", "3"] if include_removed else ["1", "2"])
    assert by_id["1"]["firstmenu"] == "칼국수"
    assert by_id["1"]["overview_text"] == "첫 줄\n둘째 줄"
    assert by_id["1"]["homepage"] == "https://example.invalid"
    assert by_id["1"]["images"] == [
        {"originimgurl": "http://a/7.jpg", "smallimageurl": None, "imgname": None, "serialnum": "7"}
    ]
    assert by_id["2"]["tel"] == "02-2"


def test_reader_leaves_an_older_file_at_its_version_and_still_exports(
    db_path: Path, tmp_path: Path
) -> None:
    """A version-1 file (before the detail phase) is exported as it is, never migrated."""
    db_path.parent.mkdir(parents=True)
    with closing(sqlite3.connect(db_path)) as old:
        old.execute("PRAGMA journal_mode = WAL")
        old.executescript(MIGRATIONS[0])
        old.execute(
            "INSERT INTO restaurants (contentid, title, raw_json, first_seen_at, last_seen_at) "
            "VALUES ('1', '한밭식당', '{\"contentid\": \"1\", \"title\": \"한밭식당\"}', 'a', 'b')"
        )
        old.execute("PRAGMA user_version = 1")
        old.commit()
    before = database_files(tmp_path)
    with Store.open_readonly(db_path) as reader:
        assert reader.schema_version() == 1
        (record,) = reader.iter_export()
    assert database_files(tmp_path) == before
    assert (record["title"], record["firstmenu"], record["images"]) == ("한밭식당", "", [])


def test_reader_opened_on_an_idle_database_sees_a_later_writers_commit(filled: Path) -> None:
    """A reader opened while no one writes still reads through SQLite's locks: it sees commits."""
    with Store.open_readonly(filled) as reader:
        export = reader.iter_export(batch=1)
        assert next(export)["contentid"] == "1"
        with Store(filled) as writer:
            writer.save_provinces({"50": "제주특별자치도"}, NOW)
        assert [record["contentid"] for record in export] == ["2"]
        assert reader.cached_provinces()[1] == {"50": "제주특별자치도"}


# --- the writer thread and lock waits ----------------------------------------------------------
def rows_of(path: Path) -> list[tuple[Any, ...]]:
    """Every record and checkpoint as stored, stamps included."""
    with closing(sqlite3.connect(path)) as db:
        records = db.execute("SELECT * FROM restaurants ORDER BY contentid").fetchall()
        pages = db.execute("SELECT * FROM list_pages ORDER BY page_no").fetchall()
        return [*records, *pages]


def test_pages_saved_on_the_writer_thread_are_stored_exactly_as_saved_inline(tmp_path):
    """save_page_async writes the same rows and checkpoints as save_page, counts included."""
    inline_path, threaded_path = tmp_path / "inline.db", tmp_path / "threaded.db"
    first = [entry("1"), entry("2")]
    second = [entry("2", title="새 이름", modifiedtime="20260101090000"), entry("3")]
    with Store(inline_path) as inline:
        counts = [
            inline.save_page(1, "11", 2, 1, 3, first, NOW),
            inline.save_page(1, "11", 2, 2, 3, second, NOW),
        ]

    async def threaded() -> list[Any]:
        with Store(threaded_path) as store:
            saved = [
                await store.save_page_async(1, "11", 2, 1, 3, first, NOW),
                await store.save_page_async(1, "11", 2, 2, 3, second, NOW),
            ]
            # Another method of the store, called meanwhile, waits its turn on the same thread.
            assert store.listed_today("11", kst_day(NOW)) == 3
            return saved

    assert asyncio.run(threaded()) == counts
    assert [(c.new, c.updated) for c in counts] == [(2, 0), (1, 1)]
    assert rows_of(threaded_path) == rows_of(inline_path)


def test_pages_saved_on_the_writer_thread_reach_the_database_file_before_it_closes(tmp_path):
    """Once CHECKPOINT_ROWS rows were written, the idle writer copies its commits from the
    write-ahead log into the database file itself (not all at the close, on the run's last
    step); fewer rows wait for the next copy, not to sync the disk after every small page."""
    path, alone = tmp_path / "kto.db", tmp_path / "alone.db"
    size = CHECKPOINT_ROWS

    def records_in_the_file_alone() -> int:
        alone.unlink(missing_ok=True)
        alone.write_bytes(path.read_bytes())  # without its -wal
        try:
            return count(alone, "restaurants")
        except sqlite3.OperationalError:  # not even the tables yet: they are in the log too
            return 0

    async def save() -> tuple[int, int]:
        with Store(path) as store:
            day = kst_day(NOW)
            await store.save_page_async(1, "11", 10, 1, 2 * size, [entry("0")], NOW)
            assert store.listed_today("11", day) == 1  # after the writer's turn
            small = records_in_the_file_alone()
            for number, start in ((2, 1), (3, 1 + size)):
                page = [entry(str(n)) for n in range(start, start + size)]
                await store.save_page_async(1, "11", size, number, 2 * size, page, NOW)
            assert store.listed_today("11", day) == 2 * size + 1
            return small, records_in_the_file_alone()

    assert asyncio.run(save()) == (0, 2 * size + 1)
    assert count(alone, "list_pages") == 3


def test_a_large_page_saved_from_the_event_loop_is_stored_when_the_call_returns(tmp_path):
    """Pages of more than WAIT_ROWS records are stored at once: counted, committed, on disk."""
    path = tmp_path / "large.db"
    size = WAIT_ROWS + 100
    first = [entry(str(n)) for n in range(1, size + 1)]
    later = range(size // 2 + 1, size * 3 // 2 + 1)  # half of them known, half new
    second = [entry(str(n), modifiedtime="20260101090000") for n in later]

    async def save() -> list[Any]:
        with Store(path) as store:
            saved = [await store.save_page_async(1, "11", size, 1, size, first, NOW)]
            assert count(path, "restaurants") == size  # committed before the call returned
            saved.append(await store.save_page_async(1, "11", size, 2, size, second, NOW))
            return saved

    saved = asyncio.run(save())
    assert [(page.new, page.updated) for page in saved] == [(size, 0), (size // 2, size // 2)]
    assert count(path, "restaurants") == size * 3 // 2
    assert count(path, "list_pages") == 2


def test_a_record_counts_as_updated_when_its_modifiedtime_changed_not_its_text(
    store: Store, db_path: Path
) -> None:
    """The doc: compare records by modifiedtime, not by their whole text. A number sent where a
    string was (older generations did), or text stored by an earlier version's encoder, is no
    change; a new modifiedtime is. Whatever the count, the row holds the latest answer."""
    run = store.start_run("test", ["11"], NOW)
    store.save_page(run, "11", 100, 1, 3, [entry("1"), entry("2"), entry("3")], NOW)
    with closing(sqlite3.connect(db_path)) as db, db:
        old = json.dumps(entry("1"), ensure_ascii=False, sort_keys=True)  # spaces after colons
        db.execute("UPDATE restaurants SET raw_json = ? WHERE contentid = '1'", (old,))
    flipped: Item = {**entry("2"), "mlevel": 6, "mapx": 127.0276368284}
    again = [entry("1"), flipped, entry("3", title="새 이름", modifiedtime="20260101090000")]
    saved = store.save_page(run, "11", 100, 1, 3, again, NOW)
    assert (saved.new, saved.updated) == (0, 1)
    with closing(sqlite3.connect(db_path)) as db:
        rows = dict(db.execute("SELECT contentid, raw_json FROM restaurants").fetchall())
        title = db.execute("SELECT title FROM restaurants WHERE contentid = '3'").fetchone()[0]
    assert ": " not in rows["1"] and '"mlevel":6' in rows["2"] and title == "새 이름"


def test_ctrl_c_while_another_process_holds_the_lock_stops_a_run_within_a_second(tmp_path):
    """A collection waiting for the database's write lock, which a child process holds, ends
    with exit code 130 less than a second after SIGINT (the wait used to be 30 s in C)."""
    db = tmp_path / "kto.db"
    here = Path(__file__).with_name("lock_holder.py")
    holder = subprocess.Popen(
        [sys.executable, str(here), str(db)], stdout=subprocess.PIPE, cwd=tmp_path
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"locked"
        env = {k: v for k, v in os.environ.items() if not k.startswith("KTO_")}
        env.update(
            {
                "KTO_API_KEY": "a" * 64,
                "KTO_API_BASE_URL": "http://127.0.0.1:9/B551011/KorService2",
                "KTO_DB_PATH": str(db),
                "KTO_CACHE_PATH": str(tmp_path / "cache.json"),
                "KTO_LOG_DIR": str(tmp_path / "logs"),
                "KTO_LANG": "en",
            }
        )
        tool = Path(sys.executable).with_name("kto-keys")
        run = subprocess.Popen(
            [str(tool), "collect", "--ldong", "11", "--quiet"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        # The run takes the collection's own lock file just before it opens the database.
        deadline = time.monotonic() + 30
        while not (tmp_path / "kto.db.lock").exists() and time.monotonic() < deadline:
            time.sleep(0.01)  # polling for the child's progress
        time.sleep(0.5)  # well inside its wait for the database's lock
        assert run.poll() is None
        sent = time.monotonic()
        run.send_signal(signal.SIGINT)
        code = run.wait(timeout=10)
        assert time.monotonic() - sent < 1.0
        assert code == 130
    finally:
        holder.kill()
        holder.wait()
