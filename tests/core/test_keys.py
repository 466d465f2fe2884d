"""Service keys: parsing KTO_API_KEY, normalizing both formats and forms, masking, redaction."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from conftest import base64_key, encoded, hex_key

from kto_keys.core.keys import (
    PREVIEW_LENGTH,
    KeyWarningKind,
    ServiceKey,
    fingerprint_of,
    has_known_shape,
    normalize_key,
    parse_keys,
    redact,
)
from kto_keys.core.pool import Lease


def windows(secret: str, size: int = PREVIEW_LENGTH + 1) -> list[str]:
    """Every run of `size` characters in a secret: none may ever be shown."""
    return [secret[start : start + size] for start in range(len(secret) - size + 1)]


def leaks(text: str, raw: str) -> list[str]:
    """The parts of a key (raw or encoded) longer than the preview that appear in `text`."""
    return [part for form in (raw, encoded(raw)) for part in windows(form) if part in text]


@pytest.mark.parametrize(
    "make, shape_known",
    [
        pytest.param(hex_key, True, id="hex-64"),
        pytest.param(base64_key, True, id="base64-88"),
        pytest.param(lambda: "short-key-123", False, id="odd-short"),
        pytest.param(lambda: hex_key()[:63], False, id="hex-63"),
        pytest.param(lambda: base64_key()[:87], False, id="base64-87"),
    ],
)
def test_known_shapes_are_64_hex_or_88_base64(make, shape_known):
    """Only 64 hex or 88 base64 characters count as a known key shape."""
    assert has_known_shape(make()) is shape_known


@pytest.mark.parametrize(
    "make",
    [pytest.param(hex_key, id="hex"), pytest.param(base64_key, id="base64")],
)
@pytest.mark.parametrize(
    "dress",
    [
        pytest.param(lambda k: k, id="decoding-form"),
        pytest.param(encoded, id="encoding-form"),
        pytest.param(lambda k: f"  {k}\n", id="spaces-and-newline"),
        pytest.param(lambda k: f"\t{encoded(k)}\r\n", id="encoded-with-crlf"),
        pytest.param(lambda k: k[:40] + "\n" + k[40:], id="line-break-inside"),
    ],
)
def test_every_pasted_form_normalizes_to_the_raw_key(make, dress):
    """Encoding/Decoding forms, whitespace and line breaks all give the same raw key."""
    raw = make()
    assert normalize_key(dress(raw)) == raw


def test_encoding_form_is_decoded_only_once():
    """A key pasted encoded twice is decoded once, so it stays visibly odd, not silently fixed."""
    raw = base64_key()
    twice = quote(encoded(raw), safe="")
    assert normalize_key(twice) == encoded(raw)


def test_both_formats_parse_in_order_with_positions_as_indexes():
    """Hex and base64 keys parse together; `#index` follows first appearance."""
    first, second, third = hex_key(), base64_key(), hex_key()
    parsed = parse_keys(f"{first},{encoded(second)},{third}", "environment")
    assert [key.index for key in parsed.keys] == [0, 1, 2]
    assert [key.reveal() for key in parsed.keys] == [first, second, third]
    assert all(key.source == "environment" for key in parsed.keys)
    assert parsed.warnings == ()


@pytest.mark.parametrize(
    "make",
    [pytest.param(hex_key, id="hex"), pytest.param(base64_key, id="base64")],
)
@pytest.mark.parametrize(
    "first, again",
    [
        pytest.param(lambda k: k, encoded, id="decoding-then-encoding"),
        pytest.param(encoded, lambda k: k, id="encoding-then-decoding"),
        pytest.param(lambda k: k, lambda k: f" {k}\n", id="same-with-whitespace"),
    ],
)
def test_duplicate_key_is_used_once_with_one_warning_naming_its_index(make, first, again):
    """Two forms of one key become one key and one warning that names `#0`."""
    raw, other = make(), hex_key()
    parsed = parse_keys(f"{first(raw)},{other},{again(raw)}", ".env")
    assert [key.reveal() for key in parsed.keys] == [raw, other]
    assert len(parsed.warnings) == 1
    warning = parsed.warnings[0]
    assert (warning.kind, warning.index, warning.position) == (KeyWarningKind.DUPLICATE, 0, 3)
    assert leaks(repr(warning), raw) == []


def test_blank_entries_are_skipped_and_do_not_shift_indexes():
    """Empty and whitespace-only entries are tolerated; indexes count distinct keys only."""
    first, second = hex_key(), base64_key()
    parsed = parse_keys(f" ,\n,{first},, \t ,{second},", "environment")
    assert [(key.index, key.reveal()) for key in parsed.keys] == [(0, first), (1, second)]
    assert parsed.warnings == ()


def test_index_is_position_among_distinct_keys_after_a_duplicate():
    """A duplicate does not take an index: the key after it is `#1`, not `#2`."""
    first, second = hex_key(), hex_key()
    parsed = parse_keys(f"{first},{first},{second}", "environment")
    assert [(key.index, key.reveal()) for key in parsed.keys] == [(0, first), (1, second)]


@pytest.mark.parametrize(
    "odd",
    [
        pytest.param("abc123-not-a-real-key", id="short"),
        pytest.param("g" * 64, id="64-non-hex"),
        pytest.param("A" * 90, id="90-chars"),
    ],
)
def test_odd_shaped_key_is_warned_about_but_still_used(odd):
    """A key of neither shape gets one warning and stays in the pool."""
    good = hex_key()
    parsed = parse_keys(f"{good},{odd}", "environment")
    assert [key.reveal() for key in parsed.keys] == [good, odd]
    assert len(parsed.warnings) == 1
    warning = parsed.warnings[0]
    assert (warning.kind, warning.index, warning.length) == (KeyWarningKind.ODD_SHAPE, 1, len(odd))
    assert leaks(repr(warning), odd) == []


def test_empty_value_gives_no_keys_and_no_warnings():
    """An empty KTO_API_KEY parses to nothing, quietly (require_keys reports it)."""
    parsed = parse_keys(" , ,\n", "environment")
    assert parsed.keys == ()
    assert parsed.warnings == ()


@pytest.mark.parametrize(
    "make",
    [pytest.param(hex_key, id="hex"), pytest.param(base64_key, id="base64")],
)
def test_repr_and_str_show_only_index_and_ten_character_preview(make):
    """repr/str, alone or inside containers and leases, show `#index` and 10 chars, no more."""
    raw = make()
    key = parse_keys(encoded(raw), "environment").keys[0]
    texts = [
        repr(key),
        str(key),
        f"{key}",
        f"{key!r}",
        repr([key]),
        repr({"key": key}),
        repr(parse_keys(raw, "environment")),
        repr(Lease(key, "areaBasedList2")),
        str(ValueError(key)),
    ]
    for text in texts:
        assert leaks(text, raw) == [], text
    assert str(key) == f"#0 {raw[:PREVIEW_LENGTH]}..."
    assert key.preview == raw[:PREVIEW_LENGTH] + "..."


def test_fingerprint_is_stable_and_not_part_of_the_key():
    """The same key always gets the same fingerprint; it reveals no run of the key."""
    raw = hex_key()
    first = ServiceKey.from_raw(raw, 0, "environment")
    again = ServiceKey.from_raw(raw, 5, ".env")
    assert first.fingerprint == again.fingerprint == fingerprint_of(raw)
    assert first.fingerprint != fingerprint_of(hex_key())
    assert leaks(first.fingerprint, raw) == []


def test_encoding_and_decoding_forms_share_one_fingerprint():
    """The fingerprint is taken from the raw form, so both portal forms are one key."""
    raw = base64_key()
    from_decoding = parse_keys(raw, "environment").keys[0]
    from_encoding = parse_keys(encoded(raw), "environment").keys[0]
    assert from_decoding.fingerprint == from_encoding.fingerprint


@pytest.mark.parametrize(
    "make",
    [pytest.param(hex_key, id="hex"), pytest.param(base64_key, id="base64")],
)
@pytest.mark.parametrize(
    "form",
    [
        pytest.param(lambda k: k, id="raw"),
        pytest.param(encoded, id="encoded"),
        pytest.param(lambda k: quote(encoded(k), safe=""), id="encoded-twice"),
    ],
)
def test_redact_replaces_every_form_of_a_key_by_its_preview(make, form):
    """Raw, encoded and double-encoded forms in any text become the preview."""
    raw = make()
    key = ServiceKey.from_raw(raw, 0, "environment")
    text = f"error calling with {form(raw)} (again: {form(raw)})"
    cleaned = redact(text, [key])
    assert leaks(cleaned, raw) == []
    assert form(raw) not in cleaned
    assert cleaned.count(key.preview) == 2


def test_redact_masks_any_service_key_query_parameter():
    """A `serviceKey=` value in a URL is masked even for a key not in the pool."""
    stranger = base64_key()
    text = f"GET https://apis.data.go.kr/x?serviceKey={encoded(stranger)}&pageNo=1 failed"
    cleaned = redact(text, [])
    assert "serviceKey=***&pageNo=1" in cleaned
    assert leaks(cleaned, stranger) == []


def test_redact_leaves_text_without_keys_alone():
    """Redaction changes nothing when no key is present."""
    key = ServiceKey.from_raw(hex_key(), 0, "environment")
    text = "HTTP 502: Bad Gateway on areaBasedList2 page 3"
    assert redact(text, [key]) == text


@pytest.mark.parametrize(
    "make",
    [pytest.param(hex_key, id="hex"), pytest.param(base64_key, id="base64")],
)
def test_raw_key_cannot_come_out_of_asdict_vars_pickle_or_copies(make):
    """The raw key is no dataclass field: asdict, vars and pickle refuse it, copies show no more."""
    import copy
    import dataclasses
    import pickle

    raw = make()
    key = parse_keys(raw, "environment").keys[0]
    with pytest.raises(TypeError):
        dataclasses.asdict(key)
    with pytest.raises(TypeError):
        vars(key)
    with pytest.raises(TypeError):
        pickle.dumps(key)
    with pytest.raises(TypeError):
        pickle.dumps(Lease(key, "areaBasedList2"))
    shown = repr(dataclasses.asdict(Lease(key, "areaBasedList2"))) + repr(copy.deepcopy([key]))
    assert leaks(shown, raw) == []
    assert [getattr(key, name) for name in ("index", "preview")] == [0, raw[:10] + "..."]
    assert key.reveal() == raw


def test_service_key_is_immutable():
    """A key cannot be renamed or re-pointed after parsing."""
    key = parse_keys(hex_key(), "environment").keys[0]
    with pytest.raises(AttributeError):
        key.index = 5  # type: ignore[misc]
