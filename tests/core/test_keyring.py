"""Keys from several sources: the keys file's lines, the union by priority, removed keys."""

from __future__ import annotations

from datetime import date

import pytest
from conftest import base64_key, encoded, hex_key, said

from kto_keys.core.errors import SettingsError
from kto_keys.core.keyring import merge_sources, parse_keys_file
from kto_keys.core.keys import KeyAttributes, ServiceKey


def test_a_keys_file_has_comments_blank_lines_and_attributes() -> None:
    """Each key with its label, expiry, limit and standby flag; comments and blanks skipped."""
    first, second, third = hex_key(), base64_key(), hex_key()
    text = (
        "# keys of the team\n"
        "\n"
        f"{first} label=ops expires=2027-03-31 limit=30\n"
        f"  {encoded(second)}   standby   # the portal's Encoding form\n"
        f'{third} label="night batch"\n'
        f"{first}\n"  # a repeat: used once, with the first line's attributes
    )
    keys = parse_keys_file(text, "keys.txt")
    assert [key.reveal() for key in keys] == [first, second, third]
    assert [key.attributes for key in keys] == [
        KeyAttributes("ops", date(2027, 3, 31), 30, False),
        KeyAttributes(standby=True),
        KeyAttributes("night batch"),
    ]
    assert {key.source for key in keys} == {"keys.txt"}


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param("{key} expires=2027-02-30", "expires= must be a YYYY-MM-DD date", id="date"),
        pytest.param("{key} limit=0", "limit= must be a whole number from 1", id="limit-zero"),
        pytest.param("{key} limit=lots", "limit= must be a whole number from 1", id="limit-word"),
        pytest.param("{key} colour=red", "word 2 is unknown", id="unknown"),
        pytest.param("{key} {other}", "word 2 is unknown", id="two-keys"),
        pytest.param("{key} standby standby", "standby is given twice", id="twice"),
        pytest.param("{key} label=", "label= is empty", id="empty-label"),
        pytest.param('{key} label="open', "a quote is left open", id="quote"),
        pytest.param("{short}", "the first word is no key", id="not-a-key"),
    ],
)
def test_a_bad_line_is_refused_by_its_number_never_showing_a_key(line: str, expected: str) -> None:
    """One line naming the file, the line and what is wrong; neither key of the line appears."""
    key, other = hex_key(), base64_key()
    short = key[:40]
    bad = line.format(key=key, other=other, short=short)
    text = f"# first\n{hex_key()}\n{bad}\n"
    with pytest.raises(SettingsError) as caught:
        parse_keys_file(text, "keys.txt")
    line_said = said(caught.value)
    assert line_said.startswith("keys file keys.txt, line 3: ") and expected in line_said
    for secret in (key, other, short):
        assert secret[:16] not in line_said and secret[:16] not in repr(caught.value.details)


def _keys(raws: list[str], source: str, **attributes: object) -> list[ServiceKey]:
    made = KeyAttributes(**attributes)  # type: ignore[arg-type]
    return [ServiceKey.from_raw(raw, index, source, made) for index, raw in enumerate(raws)]


def test_the_union_puts_the_store_first_and_its_attributes_win() -> None:
    """Store, then keys file, then environment; each key once, each attribute from the best
    source that gives it."""
    a, b, c, d = hex_key(), hex_key(), hex_key(), base64_key()
    store = _keys([b], "store", label="from-store", limit=10)
    keys_file = _keys([c, b], "keys.txt", label="from-file", limit=20, expires=date(2027, 1, 31))
    environment = _keys([a, b, c, d], "environment")
    ring = merge_sources([store, keys_file, environment])
    assert [key.reveal() for key in ring.keys] == [b, c, a, d]
    assert [key.index for key in ring.keys] == [0, 1, 2, 3]
    assert [key.source for key in ring.keys] == ["store", "keys.txt", "environment", "environment"]
    assert ring.keys[0].attributes.label == "from-store" and ring.keys[0].attributes.limit == 10
    assert ring.keys[0].attributes.expires == date(2027, 1, 31)  # the store gives none: the file's
    assert ring.keys[1].attributes.label == "from-file"
    assert ring.removed == ()


def test_a_key_removed_in_the_store_stays_out_and_is_named_once() -> None:
    """The environment still holds it: it is left out, by its place there and its preview."""
    a, b = hex_key(), hex_key()
    gone = ServiceKey.from_raw(b, 0, "store").fingerprint
    ring = merge_sources([_keys([a, b], "environment"), _keys([b], "keys.txt")], {gone})
    assert [key.reveal() for key in ring.keys] == [a]
    [removed] = ring.removed
    assert (removed.source, removed.position, removed.preview) == ("environment", 1, b[:10] + "...")


def test_the_environment_alone_keeps_its_keys_as_they_are() -> None:
    """KTO_API_KEY alone: the same keys, the same indexes, nothing copied."""
    keys = _keys([hex_key(), base64_key()], "environment")
    assert merge_sources([keys]).keys == tuple(keys)


def test_a_keys_file_saved_with_a_bom_is_read() -> None:
    """Notepad writes a byte-order mark before the first line: it is no part of the key."""
    raw = hex_key()
    [key] = parse_keys_file(f"\ufeff{raw} label=x\n", "keys.txt")
    assert key.reveal() == raw
