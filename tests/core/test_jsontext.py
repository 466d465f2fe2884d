"""JSON text in and out: orjson's speed, the standard library's acceptance, one shape of text."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from kto_keys.core.jsontext import dumps, dumps_sorted, loads

SAMPLES = Path(__file__).parents[1] / "samples"


@pytest.mark.parametrize("name", sorted(path.name for path in SAMPLES.glob("*.json")))
def test_every_sample_answer_parses_as_the_standard_library_parses_it(name: str) -> None:
    """The service's answers read the same whichever parser ran."""
    raw = (SAMPLES / name).read_bytes()
    assert loads(raw) == json.loads(raw)
    assert loads(raw.decode("utf-8")) == json.loads(raw)


@pytest.mark.parametrize(
    "text",
    [
        '{"mapx": NaN}',
        '{"title": "\\ud800"}',  # a lone surrogate
    ],
)
def test_what_only_the_standard_library_accepts_is_still_accepted(text: str) -> None:
    """orjson refuses these; the answer must not turn into an 'invalid JSON' fault for it."""
    parsed, expected = loads(text), json.loads(text)
    if text.endswith("NaN}"):
        assert math.isnan(parsed["mapx"])
    else:
        assert parsed == expected


@pytest.mark.parametrize("text", ['{"response": {"header": ', "", "not json", "{'a': 1}"])
def test_what_is_not_json_raises_value_error(text: str) -> None:
    """The classifier's 'truncated or invalid JSON body' rests on ValueError."""
    with pytest.raises(ValueError):
        loads(text)


def test_equal_values_give_equal_text_with_keys_sorted_and_korean_kept() -> None:
    """The stored text of a record does not depend on the order the service sent its fields."""
    one = dumps_sorted({"title": "한밭식당", "contentid": "1", "mapx": "127.1"})
    other = dumps_sorted({"mapx": "127.1", "contentid": "1", "title": "한밭식당"})
    assert one == other == '{"contentid":"1","mapx":"127.1","title":"한밭식당"}'


def test_values_orjson_cannot_write_are_written_in_the_same_shape() -> None:
    """An integer past 64 bits (from a caller, or a document the standard library parsed) is
    written by the fallback, in the same shape."""
    assert (
        dumps_sorted({"b": 10**30, "a": "가"}) == '{"a":"가","b":1000000000000000000000000000000}'
    )


@pytest.mark.parametrize(
    "value",
    [
        {"b": 1, "a": "한밭식당", "c": [1.5, None, True]},
        {"message": "\ud800 from the gateway"},  # a lone surrogate: orjson refuses it
        {"count": 10**30},  # past 64 bits: orjson refuses it
    ],
)
def test_dumps_keeps_the_order_and_reads_back_whoever_wrote_it(value: dict[str, object]) -> None:
    """The cache writes each key's state with `dumps`: compact, in the order given, Korean
    kept, and what orjson cannot write still written (by the standard library)."""
    text = dumps(value)
    assert text == json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    assert json.loads(text) == value
