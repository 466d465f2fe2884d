"""The key store: service keys in an SQLite file of their own, each encrypted with Fernet.

The file keeps a key's fingerprint in clear (to find it), its attributes, and when it was added
and removed; the key itself only as a Fernet token. A removed key keeps its row without its
token, so that a keys file or the environment that still holds it cannot bring it back.

The master key comes from KTO_KEYSTORE_KEY (a comma-separated list: the first encrypts, all
decrypt), from KTO_KEYSTORE_KEY_FILE, or from the file the first `keys add` or `keys import`
makes in the user's configuration folder. A check value, encrypted when the store was made, tells
a wrong master key before anything is read or written.

What this protects: the store file and its copies (a backup, a shared disk). What it does not: a
user of this machine who can read the master key, or the memory of a running process.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from kto_keys.core.errors import SettingsError, SettingsProblem
from kto_keys.core.keys import KeyAttributes, ServiceKey, fingerprint_of
from kto_keys.edges.atomic import atomic_write_text, make_folder, read_text_or_refuse
from kto_keys.edges.store import transaction

STORE_SOURCE = "store"
_CHECK = b"kto-keys key store v1"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS keys (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint TEXT NOT NULL UNIQUE,
    secret TEXT,
    label TEXT,
    expires TEXT,
    daily_limit INTEGER,
    standby INTEGER NOT NULL DEFAULT 0,
    added_at TEXT NOT NULL,
    removed_at TEXT
);
"""
MASTER_FILE_NAME = "keystore.key"


@dataclass(frozen=True, slots=True)
class Master:
    """The master keys (the first encrypts, all decrypt), where they came from, and the file made
    for them this time (None: they existed)."""

    fernet: MultiFernet
    origin: str
    created: Path | None = None


def default_master_file(environ: Mapping[str, str]) -> Path:
    """Where the master key file is made when no master key is set: the configuration folder."""
    config = environ.get("XDG_CONFIG_HOME", "").strip()
    if config:
        return Path(config) / "kto-keys" / MASTER_FILE_NAME
    home = environ.get("HOME", "").strip()
    return (Path(home) if home else Path.home()) / ".config" / "kto-keys" / MASTER_FILE_NAME


def find_master(
    key_setting: str, key_file: Path | None, default_file: Path, create: bool = False
) -> Master | None:
    """The master keys from KTO_KEYSTORE_KEY, else KTO_KEYSTORE_KEY_FILE, else the default file;
    with `create`, a new default file (0600) when there is none. None: no master key anywhere."""
    if key_setting.strip():
        return Master(_fernet(key_setting, "KTO_KEYSTORE_KEY"), "KTO_KEYSTORE_KEY")
    path = key_file or default_file
    if path.is_file():
        text = read_text_or_refuse(path, SettingsProblem.MASTER_KEY_UNREADABLE)
        return Master(_fernet(text, str(path)), str(path))
    if key_file is not None:
        raise SettingsError(
            SettingsProblem.MASTER_KEY_UNREADABLE,
            path=key_file,
            reason="no such file",
            code="ENOENT",
        )
    if not create:
        return None
    make_folder(path)
    atomic_write_text(path, Fernet.generate_key().decode() + "\n")  # atomic_open writes 0600
    return Master(_fernet(path.read_text(encoding="utf-8"), str(path)), str(path), created=path)


def _fernet(text: str, setting: str) -> MultiFernet:
    parts = [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]
    try:
        return MultiFernet([Fernet(part.encode()) for part in parts])
    except (ValueError, TypeError):
        # Neither the value nor its length is shown: it is a secret.
        raise SettingsError(SettingsProblem.MASTER_KEY_INVALID, setting=setting) from None


class Added(StrEnum):
    """What `add` did with a key."""

    ADDED = "added"
    PRESENT = "present"  # in the store already: nothing changed
    RESTORED = "restored"  # removed before, now back
    REMOVED = "removed"  # removed before, and left out (an import)


@dataclass(frozen=True, slots=True)
class StoredKey:
    """One row of the store: a key (None once removed), its attributes and its times."""

    fingerprint: str
    key: ServiceKey | None
    attributes: KeyAttributes
    added_at: datetime
    removed_at: datetime | None


class KeyStore:
    """The key store file; open it with `open_keystore` or `create_keystore`."""

    def __init__(self, path: Path, master: Master, db: sqlite3.Connection) -> None:
        self.path = path
        self.master = master
        self._db = db

    # --- reading ---------------------------------------------------------------------------
    def rows(self) -> list[StoredKey]:
        """Every key the store knows, removed ones included, in the order they were added."""
        found = []
        for row in self._db.execute("SELECT * FROM keys ORDER BY position"):
            attributes = KeyAttributes(
                label=row["label"],
                expires=date.fromisoformat(row["expires"]) if row["expires"] else None,
                limit=row["daily_limit"],
                standby=bool(row["standby"]),
            )
            key = None
            if row["secret"] is not None:
                raw = self._decrypt(row["secret"])
                key = ServiceKey.from_raw(raw, row["position"], STORE_SOURCE, attributes)
            removed = row["removed_at"]
            found.append(
                StoredKey(
                    row["fingerprint"],
                    key,
                    attributes,
                    datetime.fromisoformat(row["added_at"]),
                    datetime.fromisoformat(removed) if removed else None,
                )
            )
        return found

    def service_keys(self) -> tuple[ServiceKey, ...]:
        """The keys in the store that are not removed, each with its attributes."""
        return tuple(row.key for row in self.rows() if row.key is not None and not row.removed_at)

    def removed(self) -> frozenset[str]:
        """The fingerprints of the keys removed in the store."""
        query = "SELECT fingerprint FROM keys WHERE removed_at IS NOT NULL"
        return frozenset(row[0] for row in self._db.execute(query))

    # --- writing ---------------------------------------------------------------------------
    def add(
        self, raw: str, attributes: KeyAttributes, now: datetime, restore: bool = True
    ) -> Added:
        """Keep a key, encrypted; a key already there is left as it is (attributes included).

        A key removed before comes back only with `restore` (`keys add`): an import leaves it out.
        """
        fingerprint = fingerprint_of(raw)
        row = self._db.execute(
            "SELECT removed_at FROM keys WHERE fingerprint = ?", (fingerprint,)
        ).fetchone()
        if row is not None and (row["removed_at"] is None or not restore):
            return Added.PRESENT if row["removed_at"] is None else Added.REMOVED
        secret = self.master.fernet.encrypt(raw.encode()).decode()
        with transaction(self._db):
            if row is None:
                self._db.execute(
                    "INSERT INTO keys (fingerprint, secret, label, expires, daily_limit, standby,"
                    " added_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (fingerprint, secret, *_columns(attributes), now.isoformat()),
                )
                return Added.ADDED
            self._db.execute(
                "UPDATE keys SET secret = ?, label = ?, expires = ?, daily_limit = ?,"
                " standby = ?, removed_at = NULL WHERE fingerprint = ?",
                (secret, *_columns(attributes), fingerprint),
            )
            return Added.RESTORED

    def remove(self, fingerprint: str, now: datetime) -> None:
        """Take a key out for good: its token is wiped, its fingerprint stays to keep it out."""
        with transaction(self._db):
            self._db.execute(
                "INSERT INTO keys (fingerprint, secret, added_at, removed_at) VALUES (?, NULL, ?, ?)"
                " ON CONFLICT (fingerprint) DO UPDATE SET secret = NULL,"
                " removed_at = excluded.removed_at",
                (fingerprint, now.isoformat(), now.isoformat()),
            )

    def set_attributes(self, fingerprint: str, attributes: KeyAttributes) -> None:
        """Replace a stored key's attributes."""
        with transaction(self._db):
            self._db.execute(
                "UPDATE keys SET label = ?, expires = ?, daily_limit = ?, standby = ?"
                " WHERE fingerprint = ?",
                (*_columns(attributes), fingerprint),
            )

    def rekey(self) -> int:
        """Encrypt every key and the check value again with the first master key; how many keys."""
        rows = self._db.execute("SELECT position, secret FROM keys WHERE secret IS NOT NULL")
        tokens = [(row["position"], row["secret"]) for row in rows]
        rotate = self.master.fernet.rotate
        with transaction(self._db):
            check = self._db.execute("SELECT value FROM meta WHERE name = 'check'").fetchone()
            self._db.execute(
                "UPDATE meta SET value = ? WHERE name = 'check'",
                (rotate(check[0].encode()).decode(),),
            )
            for position, token in tokens:
                self._db.execute(
                    "UPDATE keys SET secret = ? WHERE position = ?",
                    (rotate(token.encode()).decode(), position),
                )
        self._db.execute("VACUUM")  # no page of the file keeps a token of the old master key
        return len(tokens)

    def close(self) -> None:
        """Close the file."""
        self._db.close()

    def __enter__(self) -> KeyStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _decrypt(self, token: str) -> str:
        try:
            return self.master.fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise SettingsError(SettingsProblem.KEYSTORE_WRONG_MASTER, path=self.path) from None


def _columns(attributes: KeyAttributes) -> tuple[str | None, str | None, int | None, int]:
    expires = attributes.expires.isoformat() if attributes.expires else None
    return attributes.label, expires, attributes.limit, int(attributes.standby)


def _connect(path: Path) -> sqlite3.Connection:
    try:
        db = sqlite3.connect(path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        # A wiped token's bytes are overwritten, not left in a free page.
        db.execute("PRAGMA secure_delete = ON")
        db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
    except sqlite3.Error as error:
        raise SettingsError(
            SettingsProblem.KEYSTORE_UNREADABLE, path=path, reason=str(error)
        ) from None
    return db


def open_keystore(path: Path, master: Master | None) -> KeyStore:
    """Open an existing store; a missing or wrong master key stops here, before any change."""
    if not path.is_file():  # (sqlite3 would make an empty file, which no command could open)
        raise SettingsError(SettingsProblem.KEYSTORE_MISSING, path=path)
    if master is None:
        raise SettingsError(SettingsProblem.KEYSTORE_NO_MASTER, path=path)
    db = _connect(path)
    try:
        row = db.execute("SELECT value FROM meta WHERE name = 'check'").fetchone()
    except sqlite3.Error as error:
        db.close()
        raise SettingsError(
            SettingsProblem.KEYSTORE_UNREADABLE, path=path, reason=str(error)
        ) from None
    if row is None:
        db.close()
        raise SettingsError(SettingsProblem.KEYSTORE_UNREADABLE, path=path, reason="no check value")
    try:
        master.fernet.decrypt(row[0].encode())
    except InvalidToken:
        db.close()
        raise SettingsError(SettingsProblem.KEYSTORE_WRONG_MASTER, path=path) from None
    return KeyStore(path, master, db)


def create_keystore(path: Path, master: Master) -> KeyStore:
    """Open the store, making it (0600, with its check value) when it does not exist."""
    if path.exists():
        return open_keystore(path, master)
    make_folder(path)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    db = _connect(path)
    db.executescript(_SCHEMA)
    check = master.fernet.encrypt(_CHECK).decode()
    db.execute("INSERT OR IGNORE INTO meta (name, value) VALUES ('check', ?)", (check,))
    db.close()
    return open_keystore(path, master)
