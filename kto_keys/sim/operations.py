"""TourAPI behind the gateway: the seven operations, their parameter checks, filters and paging."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from kto_keys.sim import responses as r
from kto_keys.sim.dataset import Dataset, Restaurant
from kto_keys.sim.geography import LEGACY_AREAS, Province, districts_of

COMMON_PARAMS = frozenset({"serviceKey", "MobileOS", "MobileApp", "_type", "numOfRows", "pageNo"})

Params = Mapping[str, str]
Row = TypeVar("Row")


@dataclass(frozen=True, slots=True)
class Catalogue:
    """What TourAPI answers from: the data, the province list, and an optional page-size cap."""

    dataset: Dataset
    provinces: tuple[Province, ...]
    page_cap: int | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """TourAPI's reply and its outcome for the counters: "ok", "10" or "11"."""

    outcome: str
    reply: r.Reply


class _ParameterError(Exception):
    def __init__(self, code: str, name: str) -> None:
        super().__init__(name)
        self.code = code
        self.name = name


def _missing(name: str) -> _ParameterError:
    return _ParameterError("11", name)


def _invalid(name: str) -> _ParameterError:
    return _ParameterError("10", name)


def _required(params: Params, name: str) -> str:
    value = params.get(name, "")
    if not value:
        raise _missing(name)
    return value


def _positive(params: Params, name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise _invalid(name)
    return int(raw)


def _paged(
    rows: Sequence[Row],
    render: Callable[[Row], r.Item],
    params: Params,
    catalogue: Catalogue,
    as_json: bool,
) -> Answer:
    """Render one page; a capped page size also drives the page offsets, as a capping server does."""
    asked = _positive(params, "numOfRows", 10)
    page_no = _positive(params, "pageNo", 1)
    size = asked if catalogue.page_cap is None else min(asked, catalogue.page_cap)
    start = (page_no - 1) * size
    page = [render(row) for row in rows[start : start + size]]
    return Answer("ok", r.success(page, page_no, len(rows), as_json=as_json))


def _as_is(item: r.Item) -> r.Item:
    return item


_ORDERS: dict[str, tuple[Callable[[Restaurant], tuple[str, int]], bool]] = {
    "A": (lambda rec: (rec.title, int(rec.contentid)), False),
    "C": (lambda rec: (rec.modifiedtime, int(rec.contentid)), True),
    "D": (lambda rec: (rec.createdtime, int(rec.contentid)), True),
}
_WITH_IMAGE = {"O": "A", "Q": "C", "R": "D"}

_EQUAL_FILTERS: tuple[tuple[str, str], ...] = (
    ("contentTypeId", "contenttypeid"),
    ("lDongRegnCd", "lDongRegnCd"),
    ("areaCode", "areacode"),
    ("cat1", "cat1"),
    ("cat2", "cat2"),
    ("cat3", "cat3"),
    ("lclsSystm1", "lclsSystm1"),
    ("lclsSystm2", "lclsSystm2"),
    ("lclsSystm3", "lclsSystm3"),
)
# Narrower codes that count only together with their wider one.
_NESTED_FILTERS: tuple[tuple[str, str, str], ...] = (
    ("lDongSignguCd", "lDongSignguCd", "lDongRegnCd"),
    ("sigunguCode", "sigungucode", "areaCode"),
)
_DAY = re.compile(r"\d{8}")


def _selected(dataset: Dataset, params: Params, include_hidden: bool) -> tuple[Restaurant, ...]:
    """Filter and order records as `areaBasedList2` does; legacy filters miss records without codes."""
    wanted = [(field, params[name]) for name, field in _EQUAL_FILTERS if params.get(name)]
    wanted += [
        (field, params[name])
        for name, field, wider in _NESTED_FILTERS
        if params.get(name) and params.get(wider)
    ]
    arrange = params.get("arrange") or "C"
    if arrange not in _ORDERS and arrange not in _WITH_IMAGE:
        raise _invalid("arrange")

    def select() -> tuple[Restaurant, ...]:
        records = dataset.records(include_hidden=include_hidden)
        chosen = [rec for rec in records if all(getattr(rec, f) == v for f, v in wanted)]
        order = arrange
        if order in _WITH_IMAGE:
            chosen = [rec for rec in chosen if rec.firstimage]
            order = _WITH_IMAGE[order]
        key, newest_first = _ORDERS[order]
        return tuple(sorted(chosen, key=key, reverse=newest_first))

    return dataset.remembered(("selected", include_hidden, tuple(wanted), arrange), select)


def _area_based_list(params: Params, catalogue: Catalogue, as_json: bool) -> Answer:
    records = _selected(catalogue.dataset, params, include_hidden=False)
    return _paged(records, Restaurant.list_item, params, catalogue, as_json)


def _area_based_sync_list(params: Params, catalogue: Catalogue, as_json: bool) -> Answer:
    records: Sequence[Restaurant] = _selected(catalogue.dataset, params, include_hidden=True)
    day = params.get("modifiedtime")
    if day:
        if not _DAY.fullmatch(day):
            raise _invalid("modifiedtime")
        records = [rec for rec in records if rec.modifiedtime[:8] == day]
    showflag = params.get("showflag")
    if showflag:
        if showflag not in ("0", "1"):
            raise _invalid("showflag")
        records = [rec for rec in records if rec.hidden == (showflag == "0")]
    return _paged(records, Restaurant.sync_item, params, catalogue, as_json)


def _ldong_code(params: Params, catalogue: Catalogue, as_json: bool) -> Answer:
    items: list[r.Item]
    if params.get("lDongListYn") == "Y":
        rows = [
            {
                "lDongRegnCd": province.code,
                "lDongRegnNm": province.name,
                "lDongSignguCd": district.code,
                "lDongSignguNm": district.name,
            }
            for province in catalogue.provinces
            for district in districts_of(province.code)
        ]
        items = [{"rnum": n, **row} for n, row in enumerate(rows, start=1)]
    elif params.get("lDongRegnCd"):
        known = {province.code for province in catalogue.provinces}
        code = params["lDongRegnCd"]
        districts = districts_of(code) if code in known else ()
        items = [
            {"rnum": n, "code": d.code, "name": d.name} for n, d in enumerate(districts, start=1)
        ]
    else:
        items = [
            {"rnum": n, "code": p.code, "name": p.name}
            for n, p in enumerate(catalogue.provinces, start=1)
        ]
    return _paged(items, _as_is, params, catalogue, as_json)


def _area_code(params: Params, catalogue: Catalogue, as_json: bool) -> Answer:
    items: list[r.Item]
    area = params.get("areaCode")
    if area:
        provinces = [a.province for a in LEGACY_AREAS if a.code == area]
        districts = districts_of(provinces[0]) if provinces else ()
        items = [
            {"rnum": n, "code": d.legacy_code, "name": d.name}
            for n, d in enumerate(districts, start=1)
        ]
    else:
        items = [
            {"rnum": n, "code": a.code, "name": a.name} for n, a in enumerate(LEGACY_AREAS, start=1)
        ]
    return _paged(items, _as_is, params, catalogue, as_json)


def _visible(catalogue: Catalogue, contentid: str) -> Restaurant | None:
    record = catalogue.dataset.record(contentid)
    return None if record is None or record.hidden else record


def _detail_common(params: Params, catalogue: Catalogue, as_json: bool) -> Answer:
    # detailCommon2 lost its ...YN flags and contentTypeId in v4.4: anything extra is error 10.
    for name in params:
        if name not in COMMON_PARAMS and name != "contentId":
            raise _invalid(name)
    record = _visible(catalogue, _required(params, "contentId"))
    items = [] if record is None else [record.common_item()]
    return _paged(items, _as_is, params, catalogue, as_json)


def _detail_intro(params: Params, catalogue: Catalogue, as_json: bool) -> Answer:
    contentid = _required(params, "contentId")
    content_type = _required(params, "contentTypeId")
    record = _visible(catalogue, contentid)
    intro = None if record is None or content_type != record.contenttypeid else record.intro_item()
    return _paged([] if intro is None else [intro], _as_is, params, catalogue, as_json)


def _detail_image(params: Params, catalogue: Catalogue, as_json: bool) -> Answer:
    record = _visible(catalogue, _required(params, "contentId"))
    items = [] if record is None else record.image_items()
    return _paged(items, _as_is, params, catalogue, as_json)


_HANDLERS: dict[str, Callable[[Params, Catalogue, bool], Answer]] = {
    "areaBasedList2": _area_based_list,
    "areaBasedSyncList2": _area_based_sync_list,
    "ldongCode2": _ldong_code,
    "areaCode2": _area_code,
    "detailCommon2": _detail_common,
    "detailIntro2": _detail_intro,
    "detailImage2": _detail_image,
}

OPERATIONS = frozenset(_HANDLERS)


def answer(operation: str, params: Params, catalogue: Catalogue, response_time: str) -> Answer:
    """Answer one call that passed the gateway, as TourAPI would."""
    as_json = params.get("_type", "").lower() == "json"
    try:
        _required(params, "MobileOS")
        _required(params, "MobileApp")
        return _HANDLERS[operation](params, catalogue, as_json)
    except _ParameterError as error:
        if error.code == "11":
            reply = r.missing_parameter(error.name, response_time, as_json=as_json)
        else:
            reply = r.invalid_parameter(error.name, response_time, as_json=as_json)
        return Answer(error.code, reply)
