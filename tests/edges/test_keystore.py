"""The key store on disk: Fernet tokens only, a check value, removal, re-encryption."""

from __future__ import annotations

import base64
import stat
from datetime import date
from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import START, base64_key, hex_key
from cryptography.fernet import Fernet

from kto_keys.core.errors import SettingsError, SettingsProblem
from kto_keys.core.keys import KeyAttributes
from kto_keys.edges.keystore import Added, Master, create_keystore, find_master, open_keystore


def master(*keys: bytes) -> Master:
    from cryptography.fernet import MultiFernet

    return Master(MultiFernet([Fernet(key) for key in keys]), "test")


def forms_of(raw: str) -> list[bytes]:
    """Every way a key could sit in a file: as typed, percent-encoded, its bytes in base64 or hex,
    and any 16-character run of it."""
    forms = [raw, quote(raw, safe=""), base64.b64encode(raw.encode()).decode(), raw.encode().hex()]
    forms += [raw[at : at + 16] for at in range(0, len(raw) - 15, 8)]
    return [form.encode() for form in forms]


def test_the_store_file_holds_no_key_in_any_encoding(tmp_path: Path) -> None:
    """Keys go in as Fernet tokens: grep the file (and its journal) for every form of each key."""
    path = tmp_path / "keystore.db"
    raws = [hex_key(), base64_key()]
    with create_keystore(path, master(Fernet.generate_key())) as store:
        for raw in raws:
            assert store.add(raw, KeyAttributes(label="x"), START) is Added.ADDED
        assert [key.reveal() for key in store.service_keys()] == raws
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    files = [path, *tmp_path.glob("keystore.db-*")]
    content = b"".join(file.read_bytes() for file in files)
    for raw in raws:
        for form in forms_of(raw):
            assert form not in content


def test_a_wrong_master_key_opens_nothing_and_changes_nothing(tmp_path: Path) -> None:
    """The check value refuses another master key before any row is read; the file is as it was."""
    path = tmp_path / "keystore.db"
    with create_keystore(path, master(Fernet.generate_key())) as store:
        store.add(hex_key(), KeyAttributes(), START)
    before = path.read_bytes()
    with pytest.raises(SettingsError) as caught:
        open_keystore(path, master(Fernet.generate_key()))
    assert caught.value.problem is SettingsProblem.KEYSTORE_WRONG_MASTER
    with pytest.raises(SettingsError) as missing:
        open_keystore(path, None)
    assert missing.value.problem is SettingsProblem.KEYSTORE_NO_MASTER
    assert path.read_bytes() == before


def test_rekey_moves_every_key_to_the_first_master_key(tmp_path: Path) -> None:
    """With "new,old" both open the store; after `rekey` the new one alone does, the old no more."""
    path = tmp_path / "keystore.db"
    old, new = Fernet.generate_key(), Fernet.generate_key()
    raws = [hex_key(), base64_key(), hex_key()]
    with create_keystore(path, master(old)) as store:
        for raw in raws:
            store.add(raw, KeyAttributes(limit=5), START)
    with open_keystore(path, master(new, old)) as store:
        assert store.rekey() == 3
    with open_keystore(path, master(new)) as store:
        assert [key.reveal() for key in store.service_keys()] == raws
    with pytest.raises(SettingsError):
        open_keystore(path, master(old))


def test_a_removed_key_keeps_its_fingerprint_and_loses_its_token(tmp_path: Path) -> None:
    """Removed: out of `keys()`, in `removed()`; an import leaves it out, `add` brings it back."""
    path = tmp_path / "keystore.db"
    raw = hex_key()
    with create_keystore(path, master(Fernet.generate_key())) as store:
        store.add(raw, KeyAttributes(expires=date(2027, 1, 1)), START)
        [stored] = store.service_keys()
        store.remove(stored.fingerprint, START)
        assert store.service_keys() == () and store.removed() == {stored.fingerprint}
        [row] = store.rows()
        assert row.key is None and row.removed_at == START
        assert store.add(raw, KeyAttributes(), START, restore=False) is Added.REMOVED
        assert store.add(raw, KeyAttributes(), START) is Added.RESTORED
        assert [key.fingerprint for key in store.service_keys()] == [stored.fingerprint]


def test_the_first_master_key_is_made_0600_in_the_configuration_folder(tmp_path: Path) -> None:
    """No master key set: `create` makes one file, readable by its owner only, and reuses it."""
    default = tmp_path / "config" / "kto-keys" / "keystore.key"
    assert find_master("", None, default) is None
    made = find_master("", None, default, create=True)
    assert made is not None and made.created == default
    assert stat.S_IMODE(default.stat().st_mode) == 0o600
    again = find_master("", None, default, create=True)
    assert again is not None and again.created is None
    token = made.fernet.encrypt(b"x")
    assert again.fernet.decrypt(token) == b"x"


def test_a_master_key_that_is_no_fernet_key_is_refused_without_showing_it() -> None:
    """KTO_KEYSTORE_KEY=garbage: a SettingsError naming the setting, not its value."""
    with pytest.raises(SettingsError) as caught:
        find_master("not-a-fernet-key-at-all-0123456789", None, Path("unused"))
    assert caught.value.problem is SettingsProblem.MASTER_KEY_INVALID
    assert "not-a-fernet" not in repr(caught.value.details)
