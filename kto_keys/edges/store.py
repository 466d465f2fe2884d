"""SQLite storage: records, list checkpoints, runs, call history and details, in transactions."""

from __future__ import annotations

import asyncio
import errno
import functools
import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, Concatenate, ParamSpec, TypeVar

from kto_keys.core.answers import Item
from kto_keys.core.calls import CallRecord, CallStats, summarize
from kto_keys.core.clock import kst_day
from kto_keys.core.operations import DetailKind
from kto_keys.core.records import (
    LIST_COLUMNS,
    common_values,
    export_row,
    homepage_url,
    intro_values,
    list_row,
    plain_text,
    raw_json,
)
from kto_keys.edges.schema import migrate, schema_version

# One name for every nested savepoint: RELEASE and ROLLBACK TO address the innermost one of a name,
# and blocks always nest properly, so the innermost one is always the current block's.
_SAVEPOINT = "kto_keys_nested"
# Detail kind -> the operation that fetches it, as plain text; the rule lives in core/operations.py.
DETAIL_OPERATIONS: Mapping[str, str] = MappingProxyType(
    {kind.value: kind.operation.value for kind in DetailKind}
)

_RECORD_COLUMNS = [*LIST_COLUMNS.values()]
# One statement per record, new or known: a known record keeps when and in which run it was first
# seen, and comes back if it had been removed.
_UPSERT_RECORD = (
    f"INSERT INTO restaurants ({', '.join(_RECORD_COLUMNS)}, raw_json, first_seen_at, last_seen_at, "
    f"first_run_id, last_run_id, listed_day) VALUES ({', '.join('?' * (len(_RECORD_COLUMNS) + 6))}) "
    "ON CONFLICT (contentid) DO UPDATE SET "
    + ", ".join(
        f"{column} = excluded.{column}"
        for column in (
            *_RECORD_COLUMNS[1:],
            "raw_json",
            "last_seen_at",
            "last_run_id",
            "listed_day",
        )
    )
    + ", removed_at = NULL"
)
# A stored record is about 1.2 KB (its list columns and its whole text). With 16 KB pages a
# 1,000-row list page touches a quarter of the b-tree pages and write-ahead frames 4 KB pages
# need: measured against the reference collector at page 1,000 and c=16, 15 % less CPU and 3 %
# less time; the detail phase (one row updated per save) is unchanged.
PAGE_SIZE = 16384
# A list page of more records than this is stored while the event loop waits. Such pages arrive
# together at the service's pace (a second each), and the run is then bound by the CPU: a writer
# thread working beside the loop only adds their contention for the interpreter's lock. Twelve
# 1,000-row pages at c=16, in seven paired runs: 0.99-1.05 of the reference collector's time
# against 1.03-1.07 in the background. Smaller pages (100 rows: 0.7 ms of SQL) overlap with the
# calls still on their way, and keep the writer thread.
WAIT_ROWS = 500
# The writer thread, once idle, copies the write-ahead log into the database file when at
# least this many rows were written since it last did (each copy syncs the disk three times:
# after every batch of a few pages, that tripled the syncs of a run). What is left at the end,
# fewer rows than this, is copied as the database closes.
CHECKPOINT_ROWS = 200
# The lock waits are this short in C, and repeated in Python up to LOCK_WAITS times (30 s in all),
# so that Ctrl-C (or a closing store) is seen within a tenth of a second of a wait.
LOCK_WAIT_MS = 100
LOCK_WAITS = 300
P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class PageSaved:
    """What one stored page changed."""

    new: int
    updated: int


@dataclass(frozen=True, slots=True)
class DetailTodo:
    """A record whose details are missing or older than its list entry."""

    contentid: str
    contenttypeid: str
    modifiedtime: str


# Where modifiedtime sits in a record's row (the row follows LIST_COLUMNS).
_MODIFIED_AT = list(LIST_COLUMNS.values()).index("modifiedtime")


@dataclass(frozen=True, slots=True)
class _PageRows:
    """A list page as the store writes it: each record's row by contentid, and the checkpoint."""

    rows: dict[str, list[Any]]
    checkpoint: tuple[Any, ...]

    @classmethod
    def of(
        cls,
        run_id: int,
        province: str,
        page_size: int,
        page_no: int,
        total_count: int,
        items: Sequence[Item],
        now: datetime,
        day: date | None,
    ) -> _PageRows:
        day_text = (day or kst_day(now)).isoformat()
        stamp = now.isoformat()
        rows: dict[str, list[Any]] = {}
        for item in items:
            contentid = str(item.get("contentid", "")).strip()
            if contentid:
                row = list_row(item)
                row += (raw_json(item), stamp, stamp, run_id, run_id, day_text)
                rows[contentid] = row
        checkpoint = (
            day_text,
            province,
            page_size,
            page_no,
            total_count,
            len(items),
            run_id,
            stamp,
        )
        return cls(rows, checkpoint)


def _serial(method: Callable[Concatenate[Store, P], R]) -> Callable[Concatenate[Store, P], R]:
    """Run a method of the store on its writer thread while one runs, so that one connection
    is never used by two threads at once; the caller waits (see Store._wait)."""

    @functools.wraps(method)
    def run(store: Store, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return store._serially(functools.partial(method, store, *args, **kwargs))

    return run


class Store:
    """The tool's SQLite database, in WAL mode so that readers never wait.

    `Store(path)` is the writer: it creates the folder and the file and migrates it.
    `Store(path, readonly=True)` (or `Store.open_readonly(path)`) only reads an existing file:
    no folder, no pragma that writes, no migration, no call-history flush, and every write
    fails with sqlite3.OperationalError.

    The `*_async` saves run on a thread of the store's own, which then owns the connection until
    `close()`: the event loop goes on with the network while a page is stored, and every other
    method waits its turn on that thread. A page's rows and its checkpoint stay one transaction.
    """

    def __init__(self, path: Path, readonly: bool = False) -> None:
        self.path = path
        self.readonly = readonly
        self._pending_calls: list[tuple[Any, ...]] = []
        self._writer: ThreadPoolExecutor | None = None
        self._writer_ident: int | None = None
        self._flushing: Future[None] | None = None
        # Saves handed over by the event loop and not yet taken up by the writer thread: it
        # takes all of them at once, in one transaction (see _run_batch).
        self._batch: list[tuple[Callable[[], Any], Future[Any]]] = []
        self._batch_lock = threading.Lock()
        self._checkpointed_at = 0  # the connection's total_changes at the writer's last checkpoint
        # Set by close(): a wait for another process's lock on the writer thread gives up.
        self._closing = threading.Event()
        if readonly:
            self.db = connect_reader(path)
            return
        self.db = connect_writer(path)
        with self.transaction():
            migrate(self.db)

    @classmethod
    def open_readonly(cls, path: Path) -> Store:
        """A reader of an existing database (FileNotFoundError when there is none)."""
        return cls(path, readonly=True)

    def close(self) -> None:
        """Flush the call history (a writer's), stop the writer thread and close the database."""
        try:
            if not self.readonly:
                self.flush_calls()
                self._settle_flush()
        finally:
            if self._writer is not None:
                self._closing.set()
                self._writer.shutdown(wait=True, cancel_futures=True)
                self._writer = self._writer_ident = None
            with self._batch_lock:
                left, self._batch = self._batch, []
            for _, future in left:  # their writer job was cancelled: nobody waits forever
                future.cancel()
            self.db.close()

    # --- the writer thread -----------------------------------------------------------------
    def _start_writer(self) -> ThreadPoolExecutor:
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, "kto-keys-store", self._note_writer)
            self._writer.submit(lambda: None).result()  # its ident is known before any use
        return self._writer

    def _note_writer(self) -> None:
        self._writer_ident = threading.get_ident()

    def _serially(self, job: Callable[[], R]) -> R:
        if self._writer is None or threading.get_ident() == self._writer_ident:
            return job()
        return _wait(self._writer.submit(job))

    async def _in_background(self, job: Callable[[], R]) -> R:
        """Run a save on the writer thread, in the same transaction as the saves queued with it.

        When answers arrive together (sixteen pages of a round, or details), the writer
        commits them once instead of once each. Each save is still whole: it runs in a
        savepoint of its own (its `transaction()` nests), so a failing one undoes only itself,
        and none counts as saved before the commit.
        """
        future: Future[R] = Future()
        with self._batch_lock:
            self._batch.append((job, future))
            first = len(self._batch) == 1
        if first:
            self._start_writer().submit(self._run_batch)
        return await asyncio.wrap_future(future)

    def _run_batch(self) -> None:
        """On the writer thread: every save queued so far, one savepoint each, one commit."""
        with self._batch_lock:
            batch, self._batch = self._batch, []
        # A save whose caller was cancelled before it started is not run (as an executor does).
        live = [(job, future) for job, future in batch if future.set_running_or_notify_cancel()]
        done: list[tuple[Future[Any], Any, BaseException | None]] = []
        try:
            with self.transaction():
                for job, future in live:
                    try:
                        done.append((future, job(), None))
                    except Exception as error:  # its own savepoint was rolled back
                        done.append((future, None, error))
        except BaseException as error:  # BEGIN or COMMIT failed: nothing of the batch is kept
            for _, future in live:
                future.set_exception(error)
            if not isinstance(error, Exception):
                raise
            return
        for future, value, failure in done:
            if failure is None:
                future.set_result(value)
            else:
                future.set_exception(failure)
        with self._batch_lock:
            idle = not self._batch
        if idle and self.db.total_changes - self._checkpointed_at >= CHECKPOINT_ROWS:
            # Nothing waits: the committed pages go into the database file now, while the event
            # loop waits on the network, and not all at once when the run closes the database
            # (11 ms at the end of a 105-page run). PASSIVE never waits for a reader; what it
            # cannot do, the next checkpoint or the close does.
            self._checkpointed_at = self.db.total_changes
            with suppress(sqlite3.Error):
                self.db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    async def save_page_async(
        self,
        run_id: int,
        province: str,
        page_size: int,
        page_no: int,
        total_count: int,
        items: Sequence[Item],
        now: datetime,
        day: date | None = None,
    ) -> PageSaved:
        """`save_page` on the writer thread, the event loop free meanwhile; a page of more than
        WAIT_ROWS records is `save_page` itself, the loop waiting for it.

        The rows are built here, on the event loop: that part is Python alone and would hold
        the interpreter's lock in the writer thread, so that the loop waited for it in steps
        of the switch interval (5 ms) to read the next answers. The writer thread keeps the
        database's part, which lets go of that lock while SQLite works.
        """
        if len(items) > WAIT_ROWS:
            return self.save_page(
                run_id, province, page_size, page_no, total_count, items, now, day
            )
        page = _PageRows.of(run_id, province, page_size, page_no, total_count, items, now, day)
        return await self._in_background(functools.partial(self._write_page, page))

    async def save_detail_async(
        self, kind: DetailKind, todo: DetailTodo, items: Sequence[Item], now: datetime
    ) -> None:
        """Store one record's detail of `kind` on the writer thread (no items: none exists)."""
        if kind is DetailKind.INTRO:
            job = functools.partial(self.save_intro, todo, items[0] if items else None, now)
        elif kind is DetailKind.COMMON:
            job = functools.partial(self.save_common, todo, items[0] if items else None, now)
        else:
            job = functools.partial(self.save_images, todo, items, now)
        await self._in_background(job)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- schema ---------------------------------------------------------------------------
    @_serial
    def schema_version(self) -> int:
        """The schema version of the file."""
        return schema_version(self.db)

    # --- runs ----------------------------------------------------------------------------
    @_serial
    def start_run(self, mode: str, provinces: Sequence[str], now: datetime) -> int:
        """Open a run and return its id."""
        with self.transaction():
            cursor = self.db.execute(
                "INSERT INTO runs (started_at, mode, provinces) VALUES (?, ?, ?)",
                (now.isoformat(), mode, json.dumps(list(provinces))),
            )
        return int(cursor.lastrowid or 0)

    @_serial
    def finish_run(
        self, run_id: int, now: datetime, outcome: str, summary: Mapping[str, Any]
    ) -> None:
        """Close a run with its figures."""
        listing = summary.get("listing", {})
        with self.transaction():
            self._finish_run(run_id, now, outcome, summary, listing)

    def _finish_run(
        self,
        run_id: int,
        now: datetime,
        outcome: str,
        summary: Mapping[str, Any],
        listing: Mapping[str, Any],
    ) -> None:
        self.db.execute(
            """UPDATE runs SET ended_at = ?, outcome = ?, pages = ?, records = ?, new_records = ?,
               updated_records = ?, removed_records = ?, calls = ?, failovers = ?, summary = ?
               WHERE id = ?""",
            (
                now.isoformat(),
                outcome,
                listing.get("pages", 0),
                listing.get("records", 0),
                listing.get("new", 0),
                listing.get("updated", 0),
                listing.get("removed", 0),
                json.dumps(summary.get("calls", {})),
                summary.get("failovers", 0),
                json.dumps(summary, ensure_ascii=False, default=str),
                run_id,
            ),
        )

    @_serial
    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        """The latest runs, newest first."""
        rows = self._read("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,))
        return [dict(row) for row in rows]

    # --- province list -------------------------------------------------------------------
    @_serial
    def cached_provinces(self) -> tuple[datetime | None, dict[str, str]]:
        """The service's province list as last fetched, and when."""
        rows = self._read("SELECT code, name, fetched_at FROM provinces")
        if not rows:
            return None, {}
        fetched = min(datetime.fromisoformat(row["fetched_at"]) for row in rows)
        return fetched, {row["code"]: row["name"] for row in rows}

    @_serial
    def save_provinces(self, provinces: Mapping[str, str], now: datetime) -> None:
        """Replace the cached province list."""
        with self.transaction():
            self.db.execute("DELETE FROM provinces")
            self.db.executemany(
                "INSERT INTO provinces (code, name, fetched_at) VALUES (?, ?, ?)",
                [(code, name, now.isoformat()) for code, name in provinces.items()],
            )

    # --- listing -------------------------------------------------------------------------
    @_serial
    def pages_done(self, day: date, province: str) -> dict[tuple[int, int], int]:
        """Pages of a province stored today: (page size, page number) -> total count seen."""
        rows = self._read(
            "SELECT page_size, page_no, total_count FROM list_pages WHERE day = ? AND province = ?",
            (day.isoformat(), province),
        )
        return {(row["page_size"], row["page_no"]): row["total_count"] for row in rows}

    @_serial
    def province_completed(self, day: date, province: str) -> int | None:
        """The total count of a province listed completely today, or None."""
        rows = self._read(
            "SELECT total_count FROM list_provinces WHERE day = ? AND province = ?",
            (day.isoformat(), province),
        )
        return int(rows[0]["total_count"]) if rows else None

    @_serial
    def forget_day(self, day: date) -> None:
        """Drop today's list checkpoints (`--fresh`)."""
        with self.transaction():
            self.db.execute("DELETE FROM list_pages WHERE day = ?", (day.isoformat(),))
            self.db.execute("DELETE FROM list_provinces WHERE day = ?", (day.isoformat(),))
            self.db.execute(
                "UPDATE restaurants SET listed_day = NULL WHERE listed_day = ?", (day.isoformat(),)
            )

    @_serial
    def save_page(
        self,
        run_id: int,
        province: str,
        page_size: int,
        page_no: int,
        total_count: int,
        items: Sequence[Item],
        now: datetime,
        day: date | None = None,
    ) -> PageSaved:
        """Upsert a page's records and mark the page done, in one transaction."""
        page = _PageRows.of(run_id, province, page_size, page_no, total_count, items, now, day)
        return self._write_page(page)

    def _write_page(self, page: _PageRows) -> PageSaved:
        rows = page.rows
        with self.transaction():
            known = self._known(rows)
            if rows:
                self.db.executemany(_UPSERT_RECORD, rows.values())
            self.db.execute(
                """INSERT OR REPLACE INTO list_pages
                   (day, province, page_size, page_no, total_count, items, run_id, done_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                page.checkpoint,
            )
        new = sum(1 for contentid in rows if contentid not in known)
        updated = sum(1 for unchanged in known.values() if not unchanged)
        return PageSaved(new, updated)

    def _known(self, rows: Mapping[str, list[Any]]) -> dict[str, bool]:
        """The page's records already stored: contentid -> True when unchanged (not removed).

        A record changed when its `modifiedtime` did, not its text: older service generations
        sent numbers where KorService2 sends strings, and such a flip is not a change.
        """
        if not rows:
            return {}
        stored = self.db.execute(
            f"SELECT contentid, modifiedtime, removed_at FROM restaurants "
            f"WHERE contentid IN ({', '.join('?' * len(rows))})",
            list(rows),
        )
        return {
            contentid: removed_at is None and modified == rows[contentid][_MODIFIED_AT]
            for contentid, modified, removed_at in stored
        }

    @_serial
    def unlist(self, province: str, day: date) -> None:
        """Forget which records today's listing of a province saw, before listing it again."""
        with self.transaction():
            self.db.execute(
                "UPDATE restaurants SET listed_day = NULL WHERE ldong_regn_cd = ? AND listed_day = ?",
                (province, day.isoformat()),
            )

    @_serial
    def listed_today(self, province: str, day: date) -> int:
        """Distinct records of a province seen in today's listing."""
        rows = self._read(
            "SELECT COUNT(*) FROM restaurants WHERE ldong_regn_cd = ? AND listed_day = ?",
            (province, day.isoformat()),
        )
        return int(rows[0][0])

    @_serial
    def complete_province(
        self, province: str, total_count: int, now: datetime, day: date | None = None
    ) -> int:
        """Mark the province listed today; records its listing no longer returned are removed."""
        day_text = (day or kst_day(now)).isoformat()
        with self.transaction():
            cursor = self.db.execute(
                """UPDATE restaurants SET removed_at = ?
                   WHERE ldong_regn_cd = ? AND removed_at IS NULL
                   AND (listed_day IS NULL OR listed_day <> ?)""",
                (now.isoformat(), province, day_text),
            )
            removed = cursor.rowcount
            records = self.db.execute(
                "SELECT COUNT(*) FROM restaurants WHERE ldong_regn_cd = ? AND listed_day = ?",
                (province, day_text),
            ).fetchone()[0]
            self.db.execute(
                """INSERT OR REPLACE INTO list_provinces
                   (day, province, total_count, records, removed, completed_at)
                   VALUES (?, ?, ?, ?, ?, ?)""",
                (day_text, province, total_count, records, removed, now.isoformat()),
            )
        return removed

    # --- details -------------------------------------------------------------------------
    @_serial
    def detail_todo(self, kind: str, provinces: Iterable[str] | None = None) -> list[DetailTodo]:
        """Records lacking this detail, or whose list entry changed since it was fetched."""
        where, params = _where(provinces, include_removed=False)
        column = f"{kind}_for"
        rows = self._read(
            f"""SELECT contentid, contenttypeid, modifiedtime FROM restaurants {where}
                {"AND" if where else "WHERE"} ({column} IS NULL OR {column} <> modifiedtime)
                ORDER BY contentid""",
            params,
        )
        return [
            DetailTodo(row["contentid"], row["contenttypeid"] or "39", row["modifiedtime"] or "")
            for row in rows
        ]

    @_serial
    def save_intro(self, todo: DetailTodo, item: Item | None, now: datetime) -> None:
        """Store the intro details (None: the service has none for this record)."""
        data = intro_values(item) if item else None
        with self.transaction():
            self.db.execute(
                "UPDATE restaurants SET intro_json = ?, intro_for = ?, intro_at = ? WHERE contentid = ?",
                (
                    json.dumps(data, ensure_ascii=False) if data else None,
                    todo.modifiedtime,
                    now.isoformat(),
                    todo.contentid,
                ),
            )

    @_serial
    def save_common(self, todo: DetailTodo, item: Item | None, now: datetime) -> None:
        """Store the common details: overview raw and as text, homepage URL, phone names."""
        data = common_values(item) if item else None
        overview = plain_text(data["overview"]) if data else None
        homepage = homepage_url(data["homepage"]) if data else None
        with self.transaction():
            self.db.execute(
                """UPDATE restaurants SET common_json = ?, common_for = ?, common_at = ?,
                   overview_text = ?, homepage_url = ? WHERE contentid = ?""",
                (
                    json.dumps(data, ensure_ascii=False) if data else None,
                    todo.modifiedtime,
                    now.isoformat(),
                    overview,
                    homepage,
                    todo.contentid,
                ),
            )

    @_serial
    def save_images(self, todo: DetailTodo, items: Sequence[Item], now: datetime) -> None:
        """Replace the images of a record."""
        with self.transaction():
            self.db.execute("DELETE FROM restaurant_images WHERE contentid = ?", (todo.contentid,))
            self.db.executemany(
                """INSERT OR REPLACE INTO restaurant_images
                   (contentid, serialnum, originimgurl, smallimageurl, imgname, cpyrht_div_cd)
                   VALUES (?, ?, ?, ?, ?, ?)""",
                [
                    (
                        todo.contentid,
                        str(item.get("serialnum") or n),
                        item.get("originimgurl"),
                        item.get("smallimageurl"),
                        item.get("imgname"),
                        item.get("cpyrhtDivCd"),
                    )
                    for n, item in enumerate(items)
                ],
            )
            self.db.execute(
                "UPDATE restaurants SET images_for = ?, images_at = ? WHERE contentid = ?",
                (todo.modifiedtime, now.isoformat(), todo.contentid),
            )

    # --- export --------------------------------------------------------------------------
    def iter_export(
        self, include_removed: bool = False, batch: int = 500
    ) -> Iterator[dict[str, Any]]:
        """Every stored record under the service's field names, streamed."""
        where, params = _where(None, include_removed)
        # One statement for the whole export: it reads one snapshot even while a writer commits.
        cursor = self.db.cursor()
        cursor.execute(f"SELECT * FROM restaurants {where} ORDER BY contentid", params)
        while rows := cursor.fetchmany(batch):
            records = []
            for row in rows:
                stored = dict(row)
                images = self._images(stored["contentid"]) if stored.get("images_for") else None
                records.append(export_row(stored, images))
            yield from records

    def _images(self, contentid: str) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT originimgurl, smallimageurl, imgname, serialnum FROM restaurant_images "
            "WHERE contentid = ? ORDER BY serialnum",
            (contentid,),
        )
        return [dict(row) for row in rows]

    # --- call history --------------------------------------------------------------------
    def record_call(self, call: CallRecord) -> None:
        """Append one call to the history (written in batches)."""
        if self.readonly:
            # Refused now, not at a flush a reader never makes: the call would be lost.
            raise sqlite3.OperationalError("attempt to write a readonly database")
        self._pending_calls.append(
            (
                call.at.isoformat(),
                kst_day(call.at).isoformat(),
                call.fingerprint,
                call.key_index,
                call.operation,
                call.outcome,
                call.code,
                call.http_status,
                round(call.latency_ms, 2),
            )
        )
        if len(self._pending_calls) >= 200:
            self.flush_calls()

    def flush_calls(self) -> None:
        """Write the calls held in memory; while the writer thread runs, without waiting for it
        (a failure of that write is raised by the next flush, or by close)."""
        self._settle_flush(only_if_done=True)
        if not self._pending_calls:
            return
        pending, self._pending_calls = self._pending_calls, []
        job = functools.partial(self._insert_calls, pending)
        if self._writer is None or threading.get_ident() == self._writer_ident:
            job()
        else:
            self._flushing = self._writer.submit(job)

    def _insert_calls(self, pending: list[tuple[Any, ...]]) -> None:
        with self.transaction():
            self.db.executemany("INSERT INTO calls VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", pending)

    def _settle_flush(self, only_if_done: bool = False) -> None:
        """Raise what the last background flush of the call history met, once."""
        flushing = self._flushing
        if flushing is None or (only_if_done and not flushing.done()):
            return
        self._flushing = None
        _wait(flushing)

    @_serial
    def call_stats(self, now: datetime) -> dict[str, CallStats]:
        """Today's success rate and p50/p95 latency per key fingerprint."""
        if not self.readonly:
            self.flush_calls()
        rows = self._read(
            "SELECT fingerprint, outcome, latency_ms FROM calls WHERE day = ?",
            (kst_day(now).isoformat(),),
        )
        grouped: dict[str, list[tuple[str, float]]] = {}
        for row in rows:
            grouped.setdefault(row["fingerprint"], []).append(
                (row["outcome"], row["latency_ms"] or 0.0)
            )
        return {fp: summarize(calls) for fp, calls in grouped.items()}

    # --- reading ---------------------------------------------------------------------------
    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return self.db.execute(sql, params).fetchall()

    # --- transactions --------------------------------------------------------------------
    def transaction(self) -> AbstractContextManager[None]:
        """All or nothing: see `transaction`; nested calls roll back only their own part."""
        return transaction(self.db, self._closing)


def _wait(future: Future[R]) -> R:
    """The result of a job on the writer thread, waited for in short steps: Ctrl-C in a plain
    thread raises between them, and a cancelled asyncio task stops waiting (see _interrupted)."""
    while True:
        try:
            return future.result(timeout=LOCK_WAIT_MS / 1000)
        except FutureTimeout:
            _interrupted(None)


def _interrupted(closing: threading.Event | None) -> None:
    """Raise when the wait should end: the store is closing, or the asyncio task running this
    (Ctrl-C cancels the run's main task) is being cancelled. A plain thread's Ctrl-C raises
    KeyboardInterrupt by itself between two steps of a wait."""
    if closing is not None and closing.is_set():
        raise sqlite3.OperationalError("the database was closed while waiting for its lock")
    try:
        task = asyncio.current_task()
    except RuntimeError:  # no event loop in this thread
        return
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _begin(connection: sqlite3.Connection, closing: threading.Event | None) -> None:
    """BEGIN IMMEDIATE, waiting for another process's write lock in steps of LOCK_WAIT_MS."""
    for attempt in range(LOCK_WAITS):
        try:
            connection.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as error:
            busy = getattr(error, "sqlite_errorname", "") in ("SQLITE_BUSY", "SQLITE_LOCKED")
            if not busy or attempt == LOCK_WAITS - 1:
                raise
            _interrupted(closing)


@contextmanager
def transaction(
    connection: sqlite3.Connection, closing: threading.Event | None = None
) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT, or a SAVEPOINT when already inside one; rolled back on error.

    IMMEDIATE takes the write lock up front, so a transaction waits for another writer (up to
    30 s, in steps that Ctrl-C ends) at its start instead of failing halfway with SQLITE_BUSY.
    An error inside a nested block undoes that block only and reaches the enclosing one.
    """
    if connection.in_transaction:
        connection.execute(f"SAVEPOINT {_SAVEPOINT}")
        try:
            yield
        except BaseException:
            # SQLite rolls the whole transaction back by itself after some errors (a full disk,
            # an I/O error); then there is no savepoint left to return to.
            if connection.in_transaction:
                connection.execute(f"ROLLBACK TO {_SAVEPOINT}")
                connection.execute(f"RELEASE {_SAVEPOINT}")
            raise
        connection.execute(f"RELEASE {_SAVEPOINT}")
        return
    _begin(connection, closing)
    try:
        yield
        # Inside the try: COMMIT itself can fail (a deferred constraint, SQLITE_BUSY) and then
        # leaves the transaction open, which would hold the write lock and swallow later writes.
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


def connect_writer(path: Path) -> sqlite3.Connection:
    """A writing connection in WAL mode whose own wait for a lock is short (see `transaction`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Not bound to one thread: the writer thread takes it over (one thread at a time, see Store).
    db = sqlite3.connect(
        path, timeout=LOCK_WAIT_MS / 1000, isolation_level=None, check_same_thread=False
    )
    db.row_factory = sqlite3.Row
    db.execute(f"PRAGMA busy_timeout = {LOCK_WAIT_MS}")
    # A new file takes pages of PAGE_SIZE bytes; a file that has any keeps its own (SQLite
    # changes it only by VACUUM, and never in WAL mode), so this writes nothing to an old one.
    db.execute(f"PRAGMA page_size = {PAGE_SIZE}")
    _set_wal(db)
    db.execute("PRAGMA synchronous = NORMAL")
    return db


def _set_wal(db: sqlite3.Connection) -> None:
    """WAL mode, waiting in short steps if another process holds the database meanwhile."""
    for attempt in range(LOCK_WAITS):
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if getattr(error, "sqlite_errorname", "") != "SQLITE_BUSY" or attempt == LOCK_WAITS - 1:
                raise
            _interrupted(None)


def connect_reader(path: Path) -> sqlite3.Connection:
    """A read-only connection: it never writes a page of the database, makes no folder, migrates
    nothing. Like any connection to a WAL database it shares the -wal and -shm files (SQLite makes
    them when they are missing), so it sees every commit and never reads a torn page."""
    if not path.is_file():
        raise FileNotFoundError(errno.ENOENT, "no database", str(path))
    uri = f"{path.resolve().as_uri()}?mode=ro"
    db = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None)
    try:
        db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
    except sqlite3.OperationalError as error:
        if getattr(error, "sqlite_errorname", "") != "SQLITE_CANTOPEN":
            raise
        db.close()
        # A read-only folder: SQLite cannot make the -shm file WAL readers share. Nobody can
        # write a -wal there either, so the file is read as it stands.
        db = sqlite3.connect(f"{uri}&immutable=1", uri=True, timeout=30, isolation_level=None)
    db.row_factory = sqlite3.Row
    # Both settings belong to this connection only: nothing reaches the file.
    db.execute("PRAGMA busy_timeout = 30000")
    db.execute("PRAGMA query_only = ON")
    return db


def _where(provinces: Iterable[str] | None, include_removed: bool) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if provinces is not None:
        codes = list(provinces)
        clauses.append(f"ldong_regn_cd IN ({', '.join('?' * len(codes))})")
        params.extend(codes)
    if not include_removed:
        clauses.append("removed_at IS NULL")
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", params
