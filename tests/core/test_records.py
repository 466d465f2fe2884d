"""Record shaping: the service's HTML cleaned, list entries as columns, stored rows as exported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kto_keys.core.answers import Item
from kto_keys.core.records import (
    COMMON_FIELDS,
    EXPORT_FIELDS,
    INTRO_FIELDS,
    LIST_COLUMNS,
    common_values,
    export_row,
    homepage_url,
    intro_values,
    list_values,
    plain_text,
)

SAMPLES = Path(__file__).parents[1] / "samples"


def sample_item(name: str) -> Item:
    """The first item of a sample answer."""
    items = json.loads((SAMPLES / name).read_text(encoding="utf-8"))["response"]["body"]["items"]
    item = items["item"]
    return dict(item[0] if isinstance(item, list) else item)


def stored_row(**columns: Any) -> dict[str, Any]:
    """A stored record as the store reads it: list columns only, nothing fetched in detail."""
    row: dict[str, Any] = {
        "raw_json": json.dumps({"contentid": "1", "title": "한밭식당", "tel": "02-1"}),
        "first_seen_at": "2025-01-01T00:00:00+00:00",
        "last_seen_at": "2025-01-02T00:00:00+00:00",
        "removed_at": None,
    }
    row.update(columns)
    return row


# --- plain_text --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "snippet, text",
    [
        pytest.param("", "", id="empty"),
        pytest.param("칼국수 집", "칼국수 집", id="plain-stays"),
        pytest.param("첫 줄<br>둘째 줄", "첫 줄\n둘째 줄", id="br"),
        pytest.param(
            "첫 줄<BR/>둘째 줄<br />셋째", "첫 줄\n둘째 줄\n셋째", id="br-any-case-self-closing"
        ),
        pytest.param("<b>굵게</b> <i>기울임</i>", "굵게 기울임", id="tags-dropped"),
        pytest.param("A &amp; B &lt;3&gt;", "A & B <3>", id="entities-decoded"),
        pytest.param("  많은    공백\t\t탭  ", "많은 공백 탭", id="spaces-collapsed"),
        pytest.param("위<br><br>\n\n<br>아래", "위\n아래", id="blank-lines-dropped"),
        pytest.param(
            "30년 된 칼국수 집.<br>\n직접 뽑은 면을 쓴다.",
            "30년 된 칼국수 집.\n직접 뽑은 면을 쓴다.",
            id="sample-overview",
        ),
    ],
)
def test_plain_text_drops_markup_and_keeps_lines(snippet: str, text: str) -> None:
    """`overview` becomes text: <br> is a line break, tags go, entities decode, blank lines go."""
    assert plain_text(snippet) == text


# --- homepage_url ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "snippet, url",
    [
        pytest.param("", "", id="empty"),
        pytest.param("홈페이지 없음", "", id="no-url"),
        pytest.param(
            '<a href="https://example.invalid" target="_blank">example.invalid</a>',
            "https://example.invalid",
            id="anchor-double-quotes",
        ),
        pytest.param(
            "<a href='http://example.invalid/a?b=1&amp;c=2'>홈</a>",
            "http://example.invalid/a?b=1&c=2",
            id="anchor-single-quotes-entity",
        ),
        pytest.param(
            "<a href=http://example.invalid/x>홈</a>", "http://example.invalid/x", id="anchor-bare"
        ),
        pytest.param("www.example.invalid", "www.example.invalid", id="bare-www"),
        pytest.param(
            "홈페이지: https://example.invalid/menu 참고",
            "https://example.invalid/menu",
            id="url-in-text",
        ),
        pytest.param(
            "&lt;https://example.invalid/q&gt;",
            "https://example.invalid/q",
            id="url-inside-escaped-brackets",
        ),
    ],
)
def test_homepage_url_finds_the_link(snippet: str, url: str) -> None:
    """`homepage` becomes one URL: the anchor's href first, else the first URL in the text."""
    assert homepage_url(snippet) == url


# --- list_values -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "given, column, value",
    [
        pytest.param({"mapx": "127.0276368284"}, "mapx", 127.0276368284, id="mapx-text-to-number"),
        pytest.param({"mapy": "37.4979502831"}, "mapy", 37.4979502831, id="mapy-text-to-number"),
        pytest.param({"mapx": 127}, "mapx", 127.0, id="mapx-int-to-float"),
        pytest.param({"mapx": ""}, "mapx", None, id="mapx-empty-is-none"),
        pytest.param({"mapy": "not a number"}, "mapy", None, id="mapy-garbage-is-none"),
        pytest.param({}, "mapx", None, id="mapx-missing-is-none"),
        pytest.param({"mapx": None}, "mapx", None, id="mapx-null-is-none"),
        pytest.param({"title": "한밭식당"}, "title", "한밭식당", id="text-stays-text"),
        pytest.param({"zipcode": 6236}, "zipcode", "6236", id="number-in-text-column-is-text"),
        pytest.param({"tel": ""}, "tel", "", id="empty-text-stays-empty"),
        pytest.param({}, "tel", None, id="missing-text-is-none"),
        pytest.param({"lDongRegnCd": "11"}, "ldong_regn_cd", "11", id="field-renamed-to-column"),
        pytest.param({"cpyrhtDivCd": "Type3"}, "cpyrht_div_cd", "Type3", id="camel-to-snake"),
    ],
)
def test_list_values_gives_text_columns_and_numeric_coordinates(
    given: Item, column: str, value: Any
) -> None:
    """Every list column is text or None, except mapx/mapy, which are numbers or None."""
    values = list_values(given)
    assert values[column] == value
    assert type(values[column]) is type(value)


def test_list_values_follow_the_column_order() -> None:
    """The values line up with LIST_COLUMNS, which is the order of the store's INSERT."""
    item = sample_item("areaBasedList2_single_item.json")
    values = list_values({**item, "unknown_field": "ignored"})
    assert list(values) == list(LIST_COLUMNS.values())
    assert values["contentid"] == "2869826"
    assert values["mapx"] == pytest.approx(127.0276368284)


@pytest.mark.parametrize(
    "shape, fields",
    [
        pytest.param(intro_values, INTRO_FIELDS, id="intro"),
        pytest.param(common_values, COMMON_FIELDS, id="common"),
    ],
)
def test_detail_values_keep_every_field_as_text(shape: Any, fields: tuple[str, ...]) -> None:
    """A detail keeps exactly its fields, each as text, and "" for one the service left out."""
    item: Item = {fields[0]: 3, "not_kept": "x"}
    values = shape(item)
    assert list(values) == list(fields)
    assert values[fields[0]] == "3"
    assert all(values[field] == "" for field in fields[1:])


# --- export_row --------------------------------------------------------------------------------
def test_export_row_has_every_export_field_in_order() -> None:
    """A stored record exports under the service's field names, in EXPORT_FIELDS order."""
    assert tuple(export_row(stored_row(), None)) == EXPORT_FIELDS


@pytest.mark.parametrize(
    "columns, images, expected",
    [
        pytest.param({}, None, {"title": "한밭식당", "addr1": "", "images": []}, id="list-only"),
        pytest.param(
            {},
            [{"originimgurl": "http://a/1.jpg", "serialnum": "1"}],
            {"images": [{"originimgurl": "http://a/1.jpg", "serialnum": "1"}]},
            id="images-kept",
        ),
        pytest.param(
            {"removed_at": "2025-01-03T00:00:00+00:00"},
            None,
            {"removed": True, "removed_at": "2025-01-03T00:00:00+00:00"},
            id="removed",
        ),
        pytest.param({}, None, {"removed": False, "removed_at": ""}, id="not-removed"),
        pytest.param(
            {"intro_json": json.dumps({"firstmenu": "칼국수"}), "intro_at": "2025-01-02"},
            None,
            {"firstmenu": "칼국수", "treatmenu": "", "intro_fetched_at": "2025-01-02"},
            id="intro",
        ),
        pytest.param(
            {
                "common_json": json.dumps({"overview": "a<br>b", "telname": "사장", "tel": "02-9"}),
                "overview_text": "a\nb",
                "homepage_url": "https://example.invalid",
                "common_at": "2025-01-02",
            },
            None,
            {
                "overview": "a<br>b",
                "overview_text": "a\nb",
                "homepage": "https://example.invalid",
                "telname": "사장",
                "tel": "02-1",
                "common_fetched_at": "2025-01-02",
            },
            id="common-list-phone-wins",
        ),
        pytest.param(
            {
                "raw_json": json.dumps({"contentid": "1", "tel": ""}),
                "common_json": json.dumps({"tel": "02-9"}),
            },
            None,
            {"tel": "02-9"},
            id="common-phone-fills-an-empty-one",
        ),
        pytest.param(
            {
                "raw_json": json.dumps({"contentid": "1", "tel": ""}),
                "intro_json": json.dumps({"infocenterfood": "064-700-1234"}),
                "common_json": json.dumps({"tel": ""}),
            },
            None,
            {"tel": "064-700-1234", "infocenterfood": "064-700-1234"},
            id="intro-infocenterfood-is-a-restaurants-phone",
        ),
        pytest.param(
            {"intro_json": None, "common_json": None, "overview_text": None, "homepage_url": None},
            None,
            {"firstmenu": "", "overview": "", "overview_text": "", "homepage": ""},
            id="details-never-fetched",
        ),
    ],
)
def test_export_row_shapes_a_stored_record(
    columns: dict[str, Any], images: list[dict[str, str]] | None, expected: dict[str, Any]
) -> None:
    """Details fill their fields, absent ones export as "", the list's phone wins over common."""
    record = export_row(stored_row(**columns), images)
    assert {field: record[field] for field in expected} == expected


def test_export_row_is_plain_json() -> None:
    """An exported record survives a JSON round trip unchanged."""
    record = export_row(stored_row(), [{"originimgurl": "http://a/1.jpg"}])
    assert json.loads(json.dumps(record, ensure_ascii=False)) == record
