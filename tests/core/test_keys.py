"""Service keys: parsing KTO_API_KEY, normalizing both formats and forms, masking, redaction."""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

import pytest
from conftest import base64_key, encoded, hex_key

from kto_keys.core.errors import SettingsError
from kto_keys.core.keys import (
    MIN_FRAGMENT,
    PREVIEW_LENGTH,
    KeyWarningKind,
    Redactor,
    ServiceKey,
    fingerprint_of,
    has_known_shape,
    mask_secretlike,
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
def test_odd_shaped_key_is_refused_naming_its_position(odd):
    """A key of neither shape is refused, by its position and length, never its text."""
    good = hex_key()
    with pytest.raises(SettingsError) as raised:
        parse_keys(f"{good},{odd}", "environment")
    assert raised.value.details == {"position": 2, "length": len(odd)}
    assert leaks(str(raised.value), odd) == []


@pytest.mark.parametrize(
    "odd",
    [
        pytest.param("abc123-not-a-real-key", id="short"),
        pytest.param("g" * 64, id="64-non-hex"),
        pytest.param("A" * 90, id="90-chars"),
    ],
)
def test_odd_shaped_key_is_warned_about_but_still_used_when_allowed(odd):
    """With allow_odd, a key of neither shape gets one warning and stays in the pool."""
    good = hex_key()
    parsed = parse_keys(f"{good},{odd}", "environment", allow_odd=True)
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


# --- runs of a key, in every form it can take in a text -----------------------------------------
def readable(text: str) -> str:
    """A text read the way a key could hide in it: unescaped (twice), `+` for spaces, no breaks."""
    return unquote(unquote(text)).replace(" ", "+").replace("\r", "").replace("\n", "")


def runs_of(raw: str, text: str, size: int = MIN_FRAGMENT) -> list[str]:
    """The runs of `size` characters of a raw key that can still be read in `text`."""
    seen = readable(text)
    return [part for part in windows(raw, size) if part in seen]


def plus_key() -> str:
    """A base64 key with a `+` in its first half, so that its space form differs from it."""
    while True:
        raw = base64_key()
        if "+" in raw[10:40]:
            return raw


FORMS = [
    pytest.param(lambda k: k, id="raw"),
    pytest.param(encoded, id="percent-upper"),
    pytest.param(lambda k: re.sub("%..", lambda m: m[0].lower(), encoded(k)), id="percent-lower"),
    pytest.param(lambda k: quote(encoded(k), safe=""), id="percent-twice"),
    pytest.param(lambda k: k.replace("+", " "), id="plus-read-as-space"),
    pytest.param(lambda k: k[:30] + "\n" + k[30:], id="line-break-inside"),
    pytest.param(lambda k: k[:25] + "\r\n" + k[25:50] + "\n" + k[50:], id="crlf-and-lf-inside"),
    pytest.param(lambda k: encoded(k)[:33] + "\n" + encoded(k)[33:], id="encoded-and-broken"),
]
FRAGMENTS = [
    pytest.param(lambda k: k, id="whole"),
    pytest.param(lambda k: k[:16], id="first-16"),
    pytest.param(lambda k: k[20:44], id="24-from-the-middle"),
    pytest.param(lambda k: k[-30:], id="last-30"),
    pytest.param(lambda k: k[3:47], id="44-from-the-middle"),
]


@pytest.mark.parametrize(
    "make", [pytest.param(hex_key, id="hex"), pytest.param(plus_key, id="b64")]
)
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("cut", FRAGMENTS)
def test_any_run_of_sixteen_characters_of_a_key_is_masked_in_any_form(make, form, cut):
    """Whole or in part, raw, escaped, spaced or broken across lines: no 16 characters survive."""
    raw = make()
    key = ServiceKey.from_raw(raw, 4, "environment")
    others = [ServiceKey.from_raw(hex_key(), index, "environment") for index in range(3)]
    text = f"<body>invalid key «{form(cut(raw))}» for areaBasedList2 (된장찌개)</body>"
    cleaned = redact(text, [*others, key])
    assert runs_of(raw, cleaned) == []
    assert key.preview in cleaned
    unbroken = cleaned.replace("\r", "").replace("\n", "")  # a break at a run's edge stays
    assert unbroken == f"<body>invalid key «{key.preview}» for areaBasedList2 (된장찌개)</body>"


def test_an_error_body_that_repeats_parts_of_a_key_keeps_none_of_them():
    """A gateway echo of 24- and 44-character pieces of a key, as met in the wild, is masked."""
    raw = base64_key()
    key = ServiceKey.from_raw(raw, 0, "environment")
    body = (
        f"SERVICE ERROR: key '{raw[:24]}' unknown; did you mean {encoded(raw)[10:54]}? "
        f"request was serviceKey={encoded(raw)}&pageNo=1"
    )
    cleaned = redact(body, [key])
    assert runs_of(raw, cleaned) == []
    assert leaks(cleaned, raw) == []
    assert "serviceKey=***&pageNo=1" in cleaned


def test_two_keys_side_by_side_are_masked_each_by_its_own_preview():
    """Keys next to each other (a pasted list) become two previews, the separator kept."""
    first, second = (
        ServiceKey.from_raw(hex_key(), 0, "env"),
        ServiceKey.from_raw(base64_key(), 1, "env"),
    )
    cleaned = redact(f"KTO_API_KEY={first.reveal()},{second.reveal()}", [first, second])
    assert cleaned == f"KTO_API_KEY={first.preview},{second.preview}"


def test_keys_that_share_a_long_piece_are_both_masked():
    """Two keys with the same first 40 characters: each is still found whole."""
    common = hex_key()[:40]
    raws = [common + hex_key()[:24], common + hex_key()[:24]]
    keys = [ServiceKey.from_raw(raw, index, "env") for index, raw in enumerate(raws)]
    cleaned = redact(f"a {raws[1]} b {raws[0][30:]} c", keys)
    assert all(runs_of(raw, cleaned) == [] for raw in raws)


@pytest.mark.parametrize(
    "mask",
    [
        pytest.param(lambda keys, text: Redactor(keys)(text), id="kept-redactor"),
        pytest.param(lambda keys, text: redact(text, keys), id="one-shot-redact"),
    ],
)
def test_a_thousand_keys_are_searched_at_once_for_a_run_of_any_of_them(mask):
    """One table for 1,000 keys (or, for one text, the keys that may be in it): a piece of the
    737th is found in a 2 KB text."""
    keys = [
        ServiceKey.from_raw(hex_key() if index % 2 else base64_key(), index, "env")
        for index in range(1000)
    ]
    raw = keys[737].reveal()
    text = "x" * 1000 + encoded(raw)[7:40] + "y" * 1000
    cleaned = mask(keys, text)
    assert runs_of(raw, cleaned) == []
    assert cleaned == "x" * 1000 + keys[737].preview + "y" * 1000


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("HTTP 502: Bad Gateway on areaBasedList2 page 3", id="plain"),
        pytest.param(
            "검색어=%EB%90%9C%EC%9E%A5 100%25 done\r\nnext line\n", id="escapes-and-breaks"
        ),
        pytest.param("a" * 15 + " " + "0123456789abcdef" * 3, id="long-runs"),
        pytest.param("%2", id="cut-escape"),
        pytest.param("", id="empty"),
    ],
)
def test_text_without_keys_is_left_exactly_as_it_was(text):
    """Reading escapes and line breaks to look for keys changes nothing when there are none."""
    keys = [ServiceKey.from_raw(hex_key(), 0, "env"), ServiceKey.from_raw(base64_key(), 1, "env")]
    assert redact(text, keys) == text


def test_fifteen_characters_of_a_key_are_below_the_threshold():
    """The line is drawn at 16: a shorter piece is no secret of its own (the preview shows 10)."""
    raw = hex_key()
    key = ServiceKey.from_raw(raw, 0, "env")
    assert redact(f"[{raw[30:45]}]", [key]) == f"[{raw[30:45]}]"
    assert redact(f"[{raw[30:46]}]", [key]) == f"[{key.preview}]"


def test_masking_before_cutting_leaves_no_piece_at_the_cut():
    """Cut after masking, a message keeps nothing of a key; cut first, 15 characters are left."""
    raw = base64_key()
    key = ServiceKey.from_raw(raw, 0, "env")
    message = "x" * 105 + raw + " tail"
    assert leaks(redact(message, [key])[:120], raw) == []
    assert redact(message[:120], [key]).endswith(raw[:15])


def test_a_key_too_short_for_a_run_is_masked_where_it_appears_whole():
    """An odd 13-character key is still replaced when written whole, raw or encoded."""
    key = ServiceKey.from_raw("short+key/123", 0, "env")
    cleaned = redact(f"a short+key/123 b {encoded('short+key/123')} c", [key])
    assert cleaned == f"a {key.preview} b {key.preview} c"


@pytest.mark.parametrize(
    "value, shown",
    [
        pytest.param("lots", "lots", id="a-word"),
        pytest.param("-5", "-5", id="a-number"),
        pytest.param("ftp://x", "ftp://x", id="a-short-url"),
        pytest.param("1,6,31", "1,6,31", id="codes"),
        pytest.param("abcdefghijklmno", "abcdefghijklmno", id="15-characters"),
        pytest.param("abcdefghijklmnop", "abcdefghij...", id="16-characters"),
        pytest.param("x " + "0123456789abcdef" * 4 + " y", "x 0123456789... y", id="a-hex-key"),
        pytest.param("a%2Bb" * 10, "a%2Bba%2Bb...", id="an-encoded-run"),
    ],
)
def test_mask_secretlike_cuts_every_long_run_of_key_characters_to_ten(value, shown):
    """Any 16 or more key characters in a row become their first 10 and `...`; others stay."""
    assert mask_secretlike(value) == shown


@pytest.mark.parametrize(
    "make", [pytest.param(hex_key, id="hex"), pytest.param(base64_key, id="b64")]
)
@pytest.mark.parametrize("lang", ["ko", "en"])
def test_a_key_typed_into_a_number_setting_is_echoed_masked(make, lang):
    """`KTO_RESERVE=<key>` is refused with the value shown as a preview, never whole."""
    from kto_keys.cli.messages import Messages
    from kto_keys.core.errors import SettingsError
    from kto_keys.edges.settings import load_settings

    raw = make()
    with pytest.raises(SettingsError) as caught:
        load_settings(environ={"KTO_RESERVE": raw}, read_env_file=False)
    line = Messages(lang).error(caught.value)
    assert "KTO_RESERVE" in line and raw[:PREVIEW_LENGTH] + "..." in line
    assert leaks(line, raw) == []


@pytest.mark.parametrize(
    "separator",
    [
        pytest.param(" ", id="space"),
        pytest.param("\n", id="newline"),
        pytest.param(";", id="semicolon"),
        pytest.param(" ,\n ; ", id="mixed"),
        pytest.param("\t", id="tab"),
        pytest.param("\r\n", id="crlf"),
        pytest.param("\u00a0", id="no-break-space"),
        pytest.param("\u3000", id="ideographic-space"),
        pytest.param(",,", id="empty-entry"),
    ],
)
def test_keys_separated_by_spaces_newlines_or_semicolons_are_split(separator):
    """Pasted lists are split on commas, semicolons, spaces and line breaks alike."""
    first, second = hex_key(), base64_key()
    parsed = parse_keys(f"{first}{separator}{second}", "environment")
    assert [key.reveal() for key in parsed.keys] == [first, second]
    assert parsed.warnings == ()


def test_quoted_keys_lose_their_quotes():
    """A key quoted inside the variable is used without its quotes."""
    first, second = hex_key(), base64_key()
    parsed = parse_keys(f"\"{first}\", '{second}'", "environment")
    assert [key.reveal() for key in parsed.keys] == [first, second]


def test_a_key_wrapped_over_lines_is_put_back_together():
    """An 88-character key broken at 76 characters by a mail client is one key, not two."""
    key = base64_key()
    parsed = parse_keys(f"{hex_key()},{key[:76]}\n{key[76:]}", "environment")
    assert parsed.keys[1].reveal() == key and len(parsed.keys) == 2
