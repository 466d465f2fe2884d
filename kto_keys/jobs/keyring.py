"""The key store's jobs: add, import, remove, change and re-encrypt keys (`kto-keys keys …`).

Each takes the run's settings and returns what it did as data; the CLI words it. A store that
does not exist yet is made by the first job that writes to it, with a master key file when no
master key is set (the report says where).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from kto_keys.core.clock import Clock
from kto_keys.core.errors import SettingsError, SettingsProblem
from kto_keys.core.keys import (
    NO_ATTRIBUTES,
    KeyAttributes,
    ServiceKey,
    has_known_shape,
    normalize_key,
    preview_of,
)
from kto_keys.edges.clock import SystemClock
from kto_keys.edges.keystore import (
    STORE_SOURCE,
    Added,
    KeyStore,
    create_keystore,
    find_master,
    open_keystore,
)
from kto_keys.edges.settings import Settings, load_settings
from kto_keys.jobs.keys import key_of


@dataclass(frozen=True, slots=True)
class StoreReport:
    """Where the store is, and the master key file made this time (None: one existed)."""

    path: Path
    master_created: Path | None


@dataclass(frozen=True, slots=True)
class ImportReport:
    """Keys an import brought into the store, found there already, or left out as removed."""

    store: StoreReport
    imported: int
    present: int
    removed: int


@dataclass(frozen=True, slots=True)
class AddReport:
    """What `keys add` did with the key."""

    store: StoreReport
    added: Added
    preview: str


@dataclass(frozen=True, slots=True)
class KeyChange:
    """The attributes `keys set` changes; None leaves one as it is."""

    label: str | None = None
    expires: date | None = None
    limit: int | None = None
    standby: bool | None = None

    def applied_to(self, attributes: KeyAttributes) -> KeyAttributes:
        """The attributes with this change made."""
        return KeyAttributes(
            label=attributes.label if self.label is None else self.label,
            expires=attributes.expires if self.expires is None else self.expires,
            limit=attributes.limit if self.limit is None else self.limit,
            standby=attributes.standby if self.standby is None else self.standby,
        )


@contextmanager
def _store(settings: Settings, create: bool) -> Iterator[tuple[KeyStore, StoreReport]]:
    master = find_master(
        settings.keystore_key,
        settings.keystore_key_file,
        settings.master_default_file,
        create=create,
    )
    path = settings.keystore_path
    if create and master is not None:
        store = create_keystore(path, master)
    else:
        store = open_keystore(path, master)
    with store:
        yield store, StoreReport(path, master.created if master else None)


def add_key(
    raw: str,
    attributes: KeyAttributes = NO_ATTRIBUTES,
    settings: Settings | None = None,
    clock: Clock | None = None,
    allow_odd: bool = False,
) -> AddReport:
    """Keep one key in the store, encrypted (a key removed before comes back)."""
    chosen = settings or load_settings()
    now = (clock or SystemClock()).now()
    raw = normalize_key(raw)
    if not raw or (not allow_odd and not has_known_shape(raw)):
        raise SettingsError(SettingsProblem.NOT_A_KEY, length=len(raw))
    with _store(chosen, create=True) as (store, report):
        added = store.add(raw, attributes, now, restore=True)
    return AddReport(report, added, preview_of(raw))


def import_keys(
    keys: Sequence[ServiceKey], settings: Settings | None = None, clock: Clock | None = None
) -> ImportReport:
    """Move keys (from KTO_API_KEY, a keys file or stdin) into the store with their attributes.
    A key removed in the store stays out."""
    chosen = settings or load_settings()
    now = (clock or SystemClock()).now()
    counts = dict.fromkeys(Added, 0)
    with _store(chosen, create=True) as (store, report):
        for key in keys:
            counts[store.add(key.reveal(), key.attributes, now, restore=False)] += 1
    imported = counts[Added.ADDED] + counts[Added.RESTORED]
    return ImportReport(report, imported, counts[Added.PRESENT], counts[Added.REMOVED])


def auto_import(settings: Settings, clock: Clock | None = None) -> ImportReport | None:
    """KTO_KEYSTORE_AUTO_IMPORT: the keys of KTO_API_KEY and the keys file not in the store yet
    go in (None: the setting is off, or nothing was left to import)."""
    waiting = [key for key in settings.keys if key.source != STORE_SOURCE]
    if not settings.keystore_auto_import or not waiting:
        return None
    return import_keys(waiting, settings, clock)


@dataclass(frozen=True, slots=True)
class KeyReport:
    """The key a job changed, and the store it changed it in."""

    store: StoreReport
    key: ServiceKey


def remove_key(
    index: int, settings: Settings | None = None, clock: Clock | None = None
) -> KeyReport:
    """Take key `#index` out for good, in the store: it stays out while other sources hold it."""
    chosen = settings or load_settings()
    key = key_of(chosen.keys, index)
    with _store(chosen, create=True) as (store, report):
        store.remove(key.fingerprint, (clock or SystemClock()).now())
    return KeyReport(report, key)


def set_key(
    index: int,
    change: KeyChange,
    settings: Settings | None = None,
    clock: Clock | None = None,
) -> KeyReport:
    """Change key `#index`'s attributes in the store (a key from elsewhere moves in first)."""
    chosen = settings or load_settings()
    key = key_of(chosen.keys, index)
    now = (clock or SystemClock()).now()
    with _store(chosen, create=True) as (store, report):
        store.add(key.reveal(), key.attributes, now, restore=True)
        store.set_attributes(key.fingerprint, change.applied_to(key.attributes))
    return KeyReport(report, key)


def rekey_store(settings: Settings | None = None) -> int:
    """Encrypt every key again with the first master key; how many keys."""
    chosen = settings or load_settings()
    with _store(chosen, create=False) as (store, _):
        return store.rekey()
