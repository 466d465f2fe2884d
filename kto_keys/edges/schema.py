"""The database's tables, and the migrations that bring any older file to SCHEMA_VERSION."""

from __future__ import annotations

import sqlite3

# Migration N (1-based) takes a file from version N-1 to N; a released migration never changes,
# because files in the wild are at every version. The version lives in PRAGMA user_version.
MIGRATIONS: tuple[str, ...] = (
    # 1: the list phase
    """
    CREATE TABLE restaurants (
        contentid TEXT PRIMARY KEY,
        contenttypeid TEXT, title TEXT, addr1 TEXT, addr2 TEXT, zipcode TEXT, tel TEXT,
        ldong_regn_cd TEXT, ldong_signgu_cd TEXT,
        lcls_systm1 TEXT, lcls_systm2 TEXT, lcls_systm3 TEXT,
        areacode TEXT, sigungucode TEXT, cat1 TEXT, cat2 TEXT, cat3 TEXT,
        mapx REAL, mapy REAL, mlevel TEXT,
        firstimage TEXT, firstimage2 TEXT, cpyrht_div_cd TEXT,
        createdtime TEXT, modifiedtime TEXT,
        raw_json TEXT NOT NULL,
        first_seen_at TEXT NOT NULL, last_seen_at TEXT NOT NULL,
        first_run_id INTEGER, last_run_id INTEGER,
        listed_day TEXT,
        removed_at TEXT
    );
    CREATE INDEX restaurants_province ON restaurants (ldong_regn_cd, listed_day);
    CREATE TABLE list_pages (
        day TEXT NOT NULL, province TEXT NOT NULL, page_size INTEGER NOT NULL,
        page_no INTEGER NOT NULL, total_count INTEGER NOT NULL, items INTEGER NOT NULL,
        run_id INTEGER, done_at TEXT NOT NULL,
        PRIMARY KEY (day, province, page_size, page_no)
    );
    CREATE TABLE list_provinces (
        day TEXT NOT NULL, province TEXT NOT NULL, total_count INTEGER NOT NULL,
        records INTEGER NOT NULL, removed INTEGER NOT NULL, completed_at TEXT NOT NULL,
        PRIMARY KEY (day, province)
    );
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at TEXT NOT NULL, ended_at TEXT, mode TEXT, provinces TEXT,
        pages INTEGER DEFAULT 0, records INTEGER DEFAULT 0,
        new_records INTEGER DEFAULT 0, updated_records INTEGER DEFAULT 0,
        removed_records INTEGER DEFAULT 0,
        calls TEXT, failovers INTEGER DEFAULT 0, outcome TEXT, summary TEXT
    );
    CREATE TABLE calls (
        at TEXT NOT NULL, day TEXT NOT NULL, fingerprint TEXT NOT NULL, key_index INTEGER,
        operation TEXT NOT NULL, outcome TEXT NOT NULL, code TEXT, http_status INTEGER,
        latency_ms REAL
    );
    CREATE INDEX calls_day ON calls (day, fingerprint);
    CREATE TABLE provinces (
        code TEXT PRIMARY KEY, name TEXT NOT NULL, fetched_at TEXT NOT NULL
    );
    """,
    # 2: the detail phase
    """
    ALTER TABLE restaurants ADD COLUMN intro_json TEXT;
    ALTER TABLE restaurants ADD COLUMN intro_for TEXT;
    ALTER TABLE restaurants ADD COLUMN intro_at TEXT;
    ALTER TABLE restaurants ADD COLUMN common_json TEXT;
    ALTER TABLE restaurants ADD COLUMN common_for TEXT;
    ALTER TABLE restaurants ADD COLUMN common_at TEXT;
    ALTER TABLE restaurants ADD COLUMN images_for TEXT;
    ALTER TABLE restaurants ADD COLUMN images_at TEXT;
    ALTER TABLE restaurants ADD COLUMN overview_text TEXT;
    ALTER TABLE restaurants ADD COLUMN homepage_url TEXT;
    CREATE TABLE restaurant_images (
        contentid TEXT NOT NULL, serialnum TEXT NOT NULL, originimgurl TEXT,
        smallimageurl TEXT, imgname TEXT, cpyrht_div_cd TEXT,
        PRIMARY KEY (contentid, serialnum)
    );
    """,
    # 3: the watch (edges/history.py): the rotation log, calls rolled up by day, commands run
    """
    CREATE TABLE key_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL, day TEXT NOT NULL, run_id INTEGER, host TEXT NOT NULL DEFAULT '',
        key_index INTEGER NOT NULL, preview TEXT NOT NULL, fingerprint TEXT NOT NULL,
        kind TEXT NOT NULL, operation TEXT, code TEXT, cause TEXT, reason TEXT, until TEXT
    );
    CREATE INDEX key_events_at ON key_events (at);
    CREATE INDEX key_events_key ON key_events (fingerprint, at);
    CREATE UNIQUE INDEX key_events_spent_once ON key_events (fingerprint, operation, day)
        WHERE kind = 'quota_spent';
    CREATE TABLE call_days (
        day TEXT NOT NULL, fingerprint TEXT NOT NULL, operation TEXT NOT NULL,
        key_index INTEGER, preview TEXT,
        calls INTEGER NOT NULL, successes INTEGER NOT NULL,
        key_errors INTEGER NOT NULL, limit_errors INTEGER NOT NULL,
        gateway_errors INTEGER NOT NULL, request_errors INTEGER NOT NULL,
        p50_ms REAL, p95_ms REAL,
        PRIMARY KEY (day, fingerprint, operation)
    );
    CREATE TABLE command_runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        command TEXT NOT NULL, started_at TEXT NOT NULL, ended_at TEXT NOT NULL,
        duration_s REAL NOT NULL, exit_code INTEGER NOT NULL, success INTEGER NOT NULL,
        run_id INTEGER, host TEXT NOT NULL DEFAULT '', calls TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX command_runs_latest ON command_runs (command, id);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(connection: sqlite3.Connection) -> int:
    """The schema version a database file is at (0: never migrated)."""
    return int(connection.execute("PRAGMA user_version").fetchone()[0])


def migrate(connection: sqlite3.Connection) -> int:
    """Run the migrations the file lacks, in the caller's write transaction; return the old version.

    The caller holds the transaction (BEGIN IMMEDIATE) so that two processes opening a new file at
    once cannot both create its tables, and a failed migration leaves the file as it was.
    """
    if not connection.in_transaction:
        raise sqlite3.ProgrammingError("migrate() needs a write transaction (BEGIN IMMEDIATE)")
    version = schema_version(connection)
    for number, script in enumerate(MIGRATIONS, start=1):
        if version < number:
            for statement in _statements(script):
                connection.execute(statement)
    # Written only when it moves: an up-to-date file is not touched at all by opening it.
    if version < SCHEMA_VERSION:
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    return version


def _statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";") if part.strip()]
