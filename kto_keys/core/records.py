"""A restaurant record's shape: service fields, stored columns, the exported row (pure)."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from kto_keys.core.answers import Item
from kto_keys.core.jsontext import dumps_sorted

# Service field -> stored column, in the order of the table's columns.
LIST_COLUMNS: Mapping[str, str] = MappingProxyType(
    {
        "contentid": "contentid",
        "contenttypeid": "contenttypeid",
        "title": "title",
        "addr1": "addr1",
        "addr2": "addr2",
        "zipcode": "zipcode",
        "tel": "tel",
        "lDongRegnCd": "ldong_regn_cd",
        "lDongSignguCd": "ldong_signgu_cd",
        "lclsSystm1": "lcls_systm1",
        "lclsSystm2": "lcls_systm2",
        "lclsSystm3": "lcls_systm3",
        "areacode": "areacode",
        "sigungucode": "sigungucode",
        "cat1": "cat1",
        "cat2": "cat2",
        "cat3": "cat3",
        "mapx": "mapx",
        "mapy": "mapy",
        "mlevel": "mlevel",
        "firstimage": "firstimage",
        "firstimage2": "firstimage2",
        "cpyrhtDivCd": "cpyrht_div_cd",
        "createdtime": "createdtime",
        "modifiedtime": "modifiedtime",
    }
)
INTRO_FIELDS = (
    "firstmenu",
    "treatmenu",
    "opentimefood",
    "restdatefood",
    "infocenterfood",
    "parkingfood",
    "reservationfood",
    "packing",
    "seat",
    "smoking",
    "kidsfacility",
    "scalefood",
    "opendatefood",
    "discountinfofood",
    "chkcreditcardfood",
    "lcnsno",
)
COMMON_FIELDS = ("overview", "homepage", "telname", "tel")
EXPORT_FIELDS = (
    *LIST_COLUMNS,
    *INTRO_FIELDS,
    "overview",
    "overview_text",
    "homepage",
    "telname",
    "images",
    "removed",
    "first_seen_at",
    "last_seen_at",
    "removed_at",
    "intro_fetched_at",
    "common_fetched_at",
)
# Stored as REAL so that a map query can compare them; every other list column is text.
_NUMBER_COLUMNS = frozenset({"mapx", "mapy"})

_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")
_HREF = re.compile(r"""href\s*=\s*["']?([^"'\s>]+)""", re.IGNORECASE)
_URL = re.compile(r"(https?://[^\s<>\"']+|www\.[^\s<>\"']+)", re.IGNORECASE)


def list_values(item: Item) -> dict[str, Any]:
    """A list entry's column values, in LIST_COLUMNS order: text, or a number for mapx/mapy."""
    return dict(zip(LIST_COLUMNS.values(), list_row(item), strict=True))


# list_row runs for every record stored: the fields in column order, where the numbers sit,
# and the types that go into a text column as they are.
_LIST_FIELDS = tuple(LIST_COLUMNS)
_NUMBER_AT = tuple(
    at for at, column in enumerate(LIST_COLUMNS.values()) if column in _NUMBER_COLUMNS
)
_AS_IS = frozenset({str, type(None)})


def list_row(item: Item) -> list[Any]:
    """list_values' values alone, in LIST_COLUMNS order (the store's row for a list entry)."""
    row: list[Any] = list(map(item.get, _LIST_FIELDS))
    if not _AS_IS.issuperset(map(type, row)):  # the service sends text; anything else as text
        row = [value if type(value) in _AS_IS else str(value) for value in row]
    for at in _NUMBER_AT:
        row[at] = _number(row[at])
    return row


def raw_json(item: Item) -> str:
    """A list entry as stored and compared: its keys sorted, so that equal entries are equal text."""
    return dumps_sorted(item)


def intro_values(item: Item) -> dict[str, str]:
    """The intro fields kept of a detailIntro2 item, each as text ("" when absent)."""
    return {field: str(item.get(field, "")) for field in INTRO_FIELDS}


def common_values(item: Item) -> dict[str, str]:
    """The common fields kept of a detailCommon2 item, each as text ("" when absent)."""
    return {field: str(item.get(field, "")) for field in COMMON_FIELDS}


def export_row(
    row: Mapping[str, Any], images: Sequence[Mapping[str, Any]] | None
) -> dict[str, Any]:
    """A stored record (column -> value) as exported, under the service's field names.

    `images` is None when the images were never fetched. Detail columns may be missing: a file
    read without migrating it may predate them, and a missing detail exports as empty.
    """
    raw = json.loads(row["raw_json"])
    record: dict[str, Any] = {field: raw.get(field, "") for field in LIST_COLUMNS}
    intro = _json_object(row.get("intro_json"))
    common = _json_object(row.get("common_json"))
    for field in INTRO_FIELDS:
        record[field] = intro.get(field, "")
    record["overview"] = common.get("overview", "")
    record["overview_text"] = row.get("overview_text") or ""
    record["homepage"] = row.get("homepage_url") or ""
    record["telname"] = common.get("telname", "")
    # The list entry's phone wins. List answers leave `tel` empty for restaurants, though: then
    # the common details' `tel`, else the intro's `infocenterfood`, where restaurants keep it.
    if not record.get("tel"):
        record["tel"] = common.get("tel") or intro.get("infocenterfood", "")
    record["images"] = [dict(image) for image in images] if images is not None else []
    record["removed"] = row["removed_at"] is not None
    record["first_seen_at"] = row["first_seen_at"]
    record["last_seen_at"] = row["last_seen_at"]
    record["removed_at"] = row["removed_at"] or ""
    record["intro_fetched_at"] = row.get("intro_at") or ""
    record["common_fetched_at"] = row.get("common_at") or ""
    return record


def plain_text(snippet: str) -> str:
    """`overview` without `<br>` or tags: lines joined by newlines, entities decoded."""
    text = _TAG.sub("", _BREAK.sub("\n", snippet or ""))
    lines = [" ".join(line.split()) for line in html.unescape(text).splitlines()]
    return "\n".join(line for line in lines if line)


def homepage_url(snippet: str) -> str:
    """The URL inside `homepage`'s `<a href=…>` snippet, or the first URL in the text."""
    if not snippet:
        return ""
    match = _HREF.search(snippet) or _URL.search(html.unescape(snippet))
    return html.unescape(match.group(1)).strip() if match else ""


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _json_object(text: str | None) -> dict[str, Any]:
    loaded = json.loads(text) if text else {}
    return loaded if isinstance(loaded, dict) else {}
