"""The local gateway over real HTTP on 127.0.0.1: data, paging, errors, key behaviours, counters."""

from __future__ import annotations

import base64
import json
import secrets
import time
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest
from conftest import hex_key
from gateway_calls import FROZEN, OWN_AGENT, Got, get, one_key, own_session, params

from kto_keys.sim import (
    DEFAULT_SIZES,
    PROVINCES,
    BehaviourKind,
    Fault,
    GatewayConfig,
    GatewayConfigError,
    GatewayServer,
    Generation,
    KeyBehaviour,
    Province,
    run_gateway,
)
from kto_keys.sim.dataset import Dataset

# The sample answers of ../shared/samples, inlined so the suite runs without that folder.
LEGACY_30 = (
    "<OpenAPI_ServiceResponse>\n\t<cmmMsgHeader>\n\t\t<errMsg>SERVICE ERROR</errMsg>\n"
    "\t\t<returnAuthMsg>SERVICE_KEY_IS_NOT_REGISTERED_ERROR</returnAuthMsg>\n"
    "\t\t<returnReasonCode>30</returnReasonCode>\n\t</cmmMsgHeader>\n</OpenAPI_ServiceResponse>"
)
MODERN_403_NOT_REGISTERED = {
    "OpenAPI_ServiceResponse": {
        "cmmMsgHeader": {
            "errMsg": "SERVICE_KEY_IS_NOT_REGISTERED_ERROR",
            "returnAuthMsg": "등록되지 않은 서비스키",
            "returnReasonCode": "30",
        }
    }
}
MODERN_401_KEY_MISSING = {
    "OpenAPI_ServiceResponse": {
        "cmmMsgHeader": {
            "errMsg": "SERVICE_KEY_IS_NULL",
            "returnAuthMsg": "서비스키 값이 없습니다",
            "returnReasonCode": "20",
        }
    }
}
MODERN_429_DAILY = {
    "OpenAPI_ServiceResponse": {
        "cmmMsgHeader": {
            "errMsg": "LIMITED_NUMBER_OF_SERVICE_REQUESTS_EXCEEDS_ERROR",
            "returnAuthMsg": "일일 서비스 요청제한 횟수 초과 에러",
            "returnReasonCode": "22",
        }
    }
}
MODERN_429_PER_SECOND_XML = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<OpenAPI_ServiceResponse>\n\t<cmmMsgHeader>\n'
    "\t\t<errMsg>LIMITED_NUMBER_OF_SERVICE_REQUESTS_PER_SECOND_EXCEEDS_ERROR</errMsg>\n"
    "\t\t<returnAuthMsg>초당 서비스 요청제한 횟수 초과 에러</returnAuthMsg>\n"
    "\t\t<returnReasonCode>23</returnReasonCode>\n\t</cmmMsgHeader>\n</OpenAPI_ServiceResponse>"
)
HTML_502 = "<html>\n<head><title>502 Bad Gateway</title></head>"


def base64_key() -> str:
    """A fake 88-character base64 key containing '+', '/' and '='."""
    while True:
        key = base64.b64encode(secrets.token_bytes(64)).decode()
        if "+" in key and "/" in key and "=" in key:
            return key


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A client with its own User-Agent and no connection reuse (so aiohttp never re-sends)."""
    async with own_session() as client:
        yield client


# -- data, paging, filters ---------------------------------------------------------------------


async def test_pages_cover_the_province_and_items_is_empty_string_past_the_end(
    session: aiohttp.ClientSession,
) -> None:
    """Pages of 3 cover Sejong's 8 records; numOfRows is what came back; past the end is ""."""
    key, keys = one_key()
    async with GatewayServer(GatewayConfig(keys=keys)) as gw:
        url = gw.base_url + "/areaBasedList2"
        seen: list[str] = []
        for page_no, expected in ((1, 3), (2, 3), (3, 2)):
            got = await get(
                session, url, params(key, lDongRegnCd="36", numOfRows=3, pageNo=page_no)
            )
            body = got.body()
            assert got.status == 200
            assert got.json()["response"]["header"] == {"resultCode": "0000", "resultMsg": "OK"}
            assert (body["numOfRows"], body["pageNo"], body["totalCount"]) == (expected, page_no, 8)
            seen += [item["contentid"] for item in got.items()]
        past = await get(session, url, params(key, lDongRegnCd="36", numOfRows=3, pageNo=4))
        assert past.body() == {"items": "", "numOfRows": 0, "pageNo": 4, "totalCount": 8}
        assert sorted(seen, key=int) == gw.dataset.contentids("36")


async def test_one_result_is_a_one_element_list_of_string_values(
    session: aiohttp.ClientSession,
) -> None:
    """A single item comes as a one-element list whose values are all strings."""
    key, keys = one_key()
    async with GatewayServer(GatewayConfig(keys=keys)) as gw:
        got = await get(session, gw.base_url + "/areaBasedList2", params(key, numOfRows=1))
        item = got.json()["response"]["body"]["items"]["item"]
        assert isinstance(item, list) and len(item) == 1
        assert all(isinstance(value, str) for value in item[0].values())
        assert item[0]["lclsSystm1"] == "FD" and item[0]["tel"] == ""
        assert got.body()["totalCount"] == sum(DEFAULT_SIZES.values()) == 1350


async def test_legacy_area_code_filter_returns_under_half_of_the_province(
    session: aiohttp.ClientSession,
) -> None:
    """areaCode=1 finds ~27 % of Seoul, and legacy codes cover ~45 % nationwide."""
    key, keys = one_key()
    async with GatewayServer(GatewayConfig(keys=keys)) as gw:
        url = gw.base_url + "/areaBasedList2"
        by_province = await get(session, url, params(key, lDongRegnCd="11", numOfRows=1))
        by_area = await get(session, url, params(key, areaCode="1", numOfRows=1000))
        seoul = by_province.body()["totalCount"]
        assert seoul == DEFAULT_SIZES["11"]
        assert by_area.body()["totalCount"] == round(seoul * 0.27)
        assert {item["lDongRegnCd"] for item in by_area.items()} == {"11"}
        everything = await get(session, url, params(key, numOfRows=5000))
        share = sum(1 for item in everything.items() if item["areacode"]) / 1350
        assert 0.40 < share < 0.50


async def test_district_filter_applies_only_with_province(session: aiohttp.ClientSession) -> None:
    """lDongSignguCd narrows lDongRegnCd, and alone it filters nothing."""
    key, keys = one_key()
    async with GatewayServer(GatewayConfig(keys=keys)) as gw:
        url = gw.base_url + "/areaBasedList2"
        gangnam = await get(session, url, params(key, lDongRegnCd="11", lDongSignguCd="680"))
        alone = await get(session, url, params(key, lDongSignguCd="680"))
        expected = sum(
            1 for r in gw.dataset.records() if r.lDongSignguCd == "680" and r.lDongRegnCd == "11"
        )
        assert gangnam.body()["totalCount"] == expected
        assert alone.body()["totalCount"] == 1350


async def test_page_cap_silently_shrinks_pages_and_page_numbers_follow_it(
    session: aiohttp.ClientSession,
) -> None:
    """With page_cap 100, asking 1000 rows gives 100 and page 2 starts at row 101."""
    key, keys = one_key()
    async with GatewayServer(GatewayConfig(keys=keys, page_cap=100)) as gw:
        url = gw.base_url + "/areaBasedList2"
        first = await get(session, url, params(key, lDongRegnCd="11", numOfRows=1000))
        second = await get(session, url, params(key, lDongRegnCd="11", numOfRows=1000, pageNo=2))
        last = await get(session, url, params(key, lDongRegnCd="11", numOfRows=1000, pageNo=3))
        assert first.status == 200 and first.body()["totalCount"] == 280
        assert [len(p.items()) for p in (first, second, last)] == [100, 100, 80]
        assert first.body()["numOfRows"] == 100
        ids = [item["contentid"] for page in (first, second, last) for item in page.items()]
        assert len(set(ids)) == 280


async def test_arrange_orders_and_image_only_variants(session: aiohttp.ClientSession) -> None:
    """arrange=C is newest change first, A by title, Q keeps only records with an image."""
    key, keys = one_key()
    async with GatewayServer(GatewayConfig(keys=keys)) as gw:
        url = gw.base_url + "/areaBasedList2"
        by_change = (await get(session, url, params(key, arrange="C", numOfRows=2000))).items()
        by_title = (await get(session, url, params(key, arrange="A", numOfRows=2000))).items()
        with_image = await get(session, url, params(key, arrange="Q", numOfRows=2000))
        stamps = [item["modifiedtime"] for item in by_change]
        assert stamps == sorted(stamps, reverse=True)
        assert [i["title"] for i in by_title] == sorted(i["title"] for i in by_title)
        assert with_image.items() and all(item["firstimage"] for item in with_image.items())
        assert with_image.body()["totalCount"] < 1350


async def test_xml_without_type_json(session: aiohttp.ClientSession) -> None:
    """Without _type=json a success is <response><header>…</header><body><items><item>…."""
    key, keys = one_key()
    async with GatewayServer(GatewayConfig(keys=keys)) as gw:
        query = params(key, numOfRows=2)
        del query["_type"]
        got = await get(session, gw.base_url + "/areaBasedList2", query)
        root = ET.fromstring(got.text)
        assert got.status == 200 and root.tag == "response"
        assert root.findtext("header/resultCode") == "0000"
        assert len(root.findall("body/items/item")) == 2
        assert root.findtext("body/totalCount") == "1350"


async def test_some_records_carry_placeholder_coordinates(session: aiohttp.ClientSession) -> None:
    """A few records have coordinates far outside Korea, still as strings."""
    key, keys = one_key()
    async with GatewayServer(GatewayConfig(keys=keys)) as gw:
        got = await get(session, gw.base_url + "/areaBasedList2", params(key, numOfRows=2000))
        outside = [i for i in got.items() if not 124 < float(i["mapx"]) < 132]
        assert 3 <= len(outside) <= 30
        assert {i["mapx"] for i in outside} <= {"0", "200.0"}


def test_same_seed_gives_the_same_data_and_another_seed_does_not() -> None:
    """The dataset is a pure function of seed and sizes."""
    sizes = {"11": 20, "36": 5}
    first, again, other = Dataset(7, sizes), Dataset(7, sizes), Dataset(8, sizes)
    assert first.records() == again.records()
    assert first.records() != other.records()
    assert len(set(first.contentids())) == 25


# -- code lists --------------------------------------------------------------------------------


async def test_ldong_code_lists_provinces_districts_and_full_table(
    session: aiohttp.ClientSession,
) -> None:
    """ldongCode2 lists the 17 provinces like the sample, a province's districts, and the table."""
    key, keys = one_key()
    async with GatewayServer(GatewayConfig(keys=keys)) as gw:
        url = gw.base_url + "/ldongCode2"
        provinces = await get(session, url, params(key, numOfRows=100))
        default_page = await get(session, url, params(key))
        districts = await get(session, url, params(key, lDongRegnCd="11", numOfRows=100))
        table = await get(session, url, params(key, lDongListYn="Y", numOfRows=1000))
        assert provinces.items()[0] == {"rnum": 1, "code": "11", "name": "서울특별시"}
        assert [i["code"] for i in provinces.items()] == [p.code for p in PROVINCES]
        assert len(default_page.items()) == 10 and default_page.body()["totalCount"] == 17
        assert {"code": "680", "name": "강남구"}.items() <= districts.items()[-1].items()
        assert table.items()[0]["lDongRegnCd"] == "11" and "lDongSignguNm" in table.items()[0]


async def test_province_list_can_be_overridden_with_a_merged_code(
    session: aiohttp.ClientSession,
) -> None:
    """A config can replace 29 and 46 by a merged 12, and the data follows the list."""
    key, keys = one_key()
    merged = (
        *tuple(p for p in PROVINCES if p.code not in ("29", "46")),
        Province("12", "광주전남특별시"),
    )
    async with GatewayServer(GatewayConfig(keys=keys, provinces=merged)) as gw:
        got = await get(session, gw.base_url + "/ldongCode2", params(key, numOfRows=100))
        codes = [item["code"] for item in got.items()]
        assert len(codes) == 16 and "12" in codes and "29" not in codes
        merged_list = await get(
            session, gw.base_url + "/areaBasedList2", params(key, lDongRegnCd="12")
        )
        old_list = await get(
            session, gw.base_url + "/areaBasedList2", params(key, lDongRegnCd="29")
        )
        assert merged_list.body()["totalCount"] == 50
        assert old_list.body()["totalCount"] == 0


async def test_area_code_lists_legacy_areas(session: aiohttp.ClientSession) -> None:
    """areaCode2 lists the 17 legacy areas with numeric rnum."""
    key, keys = one_key()
    async with GatewayServer(GatewayConfig(keys=keys)) as gw:
        got = await get(session, gw.base_url + "/areaCode2", params(key, numOfRows=50))
        assert got.items()[0] == {"rnum": 1, "code": "1", "name": "서울"}
        assert [i["code"] for i in got.items()][-1] == "39"


# -- details -----------------------------------------------------------------------------------


async def test_detail_common_returns_28_fields_with_html_overview_and_homepage(
    session: aiohttp.ClientSession,
) -> None:
    """detailCommon2 answers one item with 28 string fields."""
    key, keys = one_key()
    async with GatewayServer(GatewayConfig(keys=keys)) as gw:
        contentid = gw.dataset.contentids("11")[0]
        got = await get(session, gw.base_url + "/detailCommon2", params(key, contentId=contentid))
        (item,) = got.items()
        assert len(item) == 28 and item["contentid"] == contentid
        assert "<br>\n" in item["overview"]
        homepages = [r.homepage for r in gw.dataset.records() if r.homepage]
        assert homepages and homepages[0].startswith("<a href=")


@pytest.mark.parametrize("retired", ["contentTypeId", "defaultYN", "overviewYN"])
async def test_detail_common_answers_error_10_for_any_extra_parameter(
    session: aiohttp.ClientSession, retired: str
) -> None:
    """detailCommon2 takes only contentId: anything else is flat error 10 naming it, HTTP 200."""
    key, keys = one_key()
    async with GatewayServer(GatewayConfig(keys=keys)) as gw:
        contentid = gw.dataset.contentids()[0]
        query = params(key, contentId=contentid, **{retired: "Y"})
        got = await get(session, gw.base_url + "/detailCommon2", query)
        body = got.json()
        assert got.status == 200 and set(body) == {"responseTime", "resultCode", "resultMsg"}
        assert body["resultCode"] == "10"
        assert body["resultMsg"] == f"INVALID_REQUEST_PARAMETER_ERROR({retired})"


async def test_detail_intro_needs_content_type_id(session: aiohttp.ClientSession) -> None:
    """detailIntro2 without contentTypeId is flat error 11; with it, the restaurant fields."""
    key, keys = one_key()
    async with GatewayServer(GatewayConfig(keys=keys)) as gw:
        record = next(r for r in gw.dataset.records() if r.intro is not None)
        url = gw.base_url + "/detailIntro2"
        missing = await get(session, url, params(key, contentId=record.contentid))
        found = await get(session, url, params(key, contentId=record.contentid, contentTypeId=39))
        assert missing.status == 200
        assert missing.json()["resultCode"] == "11"
        assert (
            missing.json()["resultMsg"] == "NO_MANDATORY_REQUEST_PARAMETERS_ERROR1(contentTypeId)"
        )
        (item,) = found.items()
        assert item["contenttypeid"] == "39" and "opentimefood" in item and len(item) == 18


async def test_detail_intro_of_a_record_without_intro_has_empty_items(
    session: aiohttp.ClientSession,
) -> None:
    """About 10 % of records have no intro data: items is ""."""
    key, keys = one_key()
    async with GatewayServer(GatewayConfig(keys=keys)) as gw:
        without = [r for r in gw.dataset.records() if r.intro is None]
        assert len(without) == 135
        query = params(key, contentId=without[0].contentid, contentTypeId=39)
        got = await get(session, gw.base_url + "/detailIntro2", query)
        assert got.body()["items"] == "" and got.body()["totalCount"] == 0


async def test_detail_image_lists_up_to_three_images(session: aiohttp.ClientSession) -> None:
    """detailImage2 lists a record's images with their fields."""
    key, keys = one_key()
    async with GatewayServer(GatewayConfig(keys=keys)) as gw:
        record = next(r for r in gw.dataset.records() if r.images)
        got = await get(
            session, gw.base_url + "/detailImage2", params(key, contentId=record.contentid)
        )
        assert 1 <= len(got.items()) <= 3
        assert set(got.items()[0]) == {
            "contentid",
            "originimgurl",
            "smallimageurl",
            "imgname",
            "serialnum",
            "cpyrhtDivCd",
        }


@pytest.mark.parametrize("left_out", ["MobileOS", "MobileApp"])
async def test_missing_common_parameter_is_flat_error_11(
    session: aiohttp.ClientSession, left_out: str
) -> None:
    """Leaving out MobileOS or MobileApp answers flat error 11 naming it, HTTP 200."""
    key, keys = one_key()
    async with GatewayServer(GatewayConfig(keys=keys)) as gw:
        query = params(key)
        del query[left_out]
        got = await get(session, gw.base_url + "/areaBasedList2", query)
        assert got.status == 200
        assert got.json()["resultMsg"] == f"NO_MANDATORY_REQUEST_PARAMETERS_ERROR1({left_out})"


async def test_parameter_names_are_case_sensitive(session: aiohttp.ClientSession) -> None:
    """`contentid` is not `contentId`: detailCommon2 rejects it as an unknown parameter."""
    key, keys = one_key()
    async with GatewayServer(GatewayConfig(keys=keys)) as gw:
        query = params(key, contentid=gw.dataset.contentids()[0])
        got = await get(session, gw.base_url + "/detailCommon2", query)
        assert got.json()["resultMsg"] == "INVALID_REQUEST_PARAMETER_ERROR(contentid)"


# -- service paths and host-level refusals --------------------------------------------------------


async def test_retired_kor_service1_answers_400_code_12(session: aiohttp.ClientSession) -> None:
    """KorService1 is retired: HTTP 400 with the 2025+ envelope, code 12, in any generation."""
    key, keys = one_key()
    async with GatewayServer(GatewayConfig(keys=keys, generation=Generation.LEGACY)) as gw:
        got = await get(session, gw.root_url + "/B551011/KorService1/areaBasedList1", params(key))
        header = got.json()["OpenAPI_ServiceResponse"]["cmmMsgHeader"]
        assert got.status == 400
        assert (header["returnReasonCode"], header["errMsg"]) == ("12", "NO_OPENAPI_SERVICE_ERROR")


async def test_unknown_operation_answers_code_12(session: aiohttp.ClientSession) -> None:
    """An operation KorService2 does not have answers code 12."""
    key, keys = one_key()
    async with GatewayServer(GatewayConfig(keys=keys)) as gw:
        got = await get(session, gw.base_url + "/areaBasedList1", params(key))
        assert got.status == 400
        assert got.json()["OpenAPI_ServiceResponse"]["cmmMsgHeader"]["returnReasonCode"] == "12"


@pytest.mark.parametrize(
    ("generation", "status"), [(Generation.LEGACY, 200), (Generation.MODERN, 403)]
)
async def test_blocked_host_answers_29_for_every_key(
    session: aiohttp.ClientSession, generation: Generation, status: int
) -> None:
    """host_blocked answers code 29 whatever the key."""
    key, keys = one_key()
    config = GatewayConfig(keys=keys, host_blocked=True, generation=generation)
    async with GatewayServer(config) as gw:
        for any_key in (key, hex_key()):
            got = await get(session, gw.base_url + "/areaBasedList2", params(any_key))
            assert got.status == status
            assert "<returnReasonCode>29</returnReasonCode>" in got.text or (
                '"returnReasonCode": "29"' in got.text
            )


async def test_default_user_agent_gets_a_bare_403() -> None:
    """With refuse_default_user_agents, aiohttp's own User-Agent gets plain "Forbidden"."""
    key, keys = one_key()
    config = GatewayConfig(keys=keys, refuse_default_user_agents=True)
    async with GatewayServer(config) as gw, aiohttp.ClientSession() as plain:
        refused = await get(plain, gw.base_url + "/areaBasedList2", params(key))
        async with aiohttp.ClientSession(headers=OWN_AGENT) as own:
            accepted = await get(own, gw.base_url + "/areaBasedList2", params(key))
        assert (refused.status, refused.text) == (403, "Forbidden")
        assert accepted.status == 200
        assert gw.history()[0].outcome == "forbidden_ua"


# -- keys ----------------------------------------------------------------------------------------

REFUSING = [
    pytest.param(
        BehaviourKind.NOT_REGISTERED, "30", "SERVICE_KEY_IS_NOT_REGISTERED_ERROR", id="30"
    ),
    pytest.param(BehaviourKind.EXPIRED, "31", "DEADLINE_HAS_EXPIRED_ERROR", id="31"),
    pytest.param(BehaviourKind.NOT_APPROVED, "20", "SERVICE_ACCESS_DENIED_ERROR", id="20"),
    pytest.param(BehaviourKind.DISABLED, "21", "TEMPORARILY_DISABLE_THE_SERVICEKEY_ERROR", id="21"),
    pytest.param(BehaviourKind.IP_BLOCKED, "32", "UNREGISTERED_IP_ERROR", id="32"),
    pytest.param(BehaviourKind.ACTIVATING, "30", "SERVICE_KEY_IS_NOT_REGISTERED_ERROR", id="act"),
]


@pytest.mark.parametrize(("kind", "code", "symbol"), REFUSING)
async def test_refusing_key_answers_legacy_xml_envelope_with_200(
    session: aiohttp.ClientSession, kind: BehaviourKind, code: str, symbol: str
) -> None:
    """Legacy: the XML envelope with HTTP 200 even though JSON was asked for."""
    key, keys = one_key(kind=kind)
    async with GatewayServer(GatewayConfig(keys=keys, generation=Generation.LEGACY)) as gw:
        got = await get(session, gw.base_url + "/areaBasedList2", params(key))
        root = ET.fromstring(got.text)
        assert got.status == 200 and root.tag == "OpenAPI_ServiceResponse"
        assert root.findtext("cmmMsgHeader/errMsg") == "SERVICE ERROR"
        assert root.findtext("cmmMsgHeader/returnAuthMsg") == symbol
        assert root.findtext("cmmMsgHeader/returnReasonCode") == code


@pytest.mark.parametrize(("kind", "code", "symbol"), REFUSING)
async def test_refusing_key_answers_modern_403_json_envelope(
    session: aiohttp.ClientSession, kind: BehaviourKind, code: str, symbol: str
) -> None:
    """2025+: HTTP 403, JSON envelope with the symbol in errMsg and Korean text."""
    key, keys = one_key(kind=kind)
    async with GatewayServer(GatewayConfig(keys=keys, generation=Generation.MODERN)) as gw:
        got = await get(session, gw.base_url + "/areaBasedList2", params(key))
        header = got.json()["OpenAPI_ServiceResponse"]["cmmMsgHeader"]
        assert got.status == 403
        assert (header["errMsg"], header["returnReasonCode"]) == (symbol, code)
        assert header["returnAuthMsg"] and not header["returnAuthMsg"].isascii()


async def test_unknown_key_matches_the_samples_in_both_generations(
    session: aiohttp.ClientSession,
) -> None:
    """An unknown key answers exactly gateway_error_30.xml and gateway2_403_not_registered.json."""
    async with GatewayServer(GatewayConfig(generation=Generation.LEGACY)) as legacy:
        old = await get(session, legacy.base_url + "/areaBasedList2", params(hex_key()))
    async with GatewayServer(GatewayConfig(generation=Generation.MODERN)) as modern:
        new = await get(session, modern.base_url + "/areaBasedList2", params(hex_key()))
        query = params(hex_key())
        del query["_type"]
        new_xml = await get(session, modern.base_url + "/areaBasedList2", query)
    assert (old.status, old.text) == (200, LEGACY_30)
    assert (new.status, new.json()) == (403, MODERN_403_NOT_REGISTERED)
    assert new_xml.status == 403 and new_xml.text.startswith('<?xml version="1.0"')


@pytest.mark.parametrize(
    ("generation", "status"), [(Generation.LEGACY, 200), (Generation.MODERN, 401)]
)
async def test_missing_key_answers_code_20_key_is_null(
    session: aiohttp.ClientSession, generation: Generation, status: int
) -> None:
    """No serviceKey: code 20 SERVICE_KEY_IS_NULL (401 in 2025+ mode), label "missing"."""
    async with GatewayServer(GatewayConfig(generation=generation)) as gw:
        got = await get(session, gw.base_url + "/areaBasedList2", params(None))
        assert got.status == status
        if generation is Generation.MODERN:
            assert got.json() == MODERN_401_KEY_MISSING
        else:
            assert "<returnAuthMsg>SERVICE_KEY_IS_NULL</returnAuthMsg>" in got.text
        assert gw.counts() == {"missing": {"areaBasedList2": 1}}


async def test_base64_key_works_sent_once_encoded_and_fails_encoded_twice(
    session: aiohttp.ClientSession,
) -> None:
    """The raw base64 key works; its portal "Encoding" form sent through aiohttp answers 30."""
    key = base64_key()
    config = GatewayConfig(keys={key: KeyBehaviour("old")}, generation=Generation.MODERN)
    async with GatewayServer(config) as gw:
        url = gw.base_url + "/areaBasedList2"
        once = await get(session, url, params(key))
        twice = await get(session, url, params(quote(key, safe="")))
        newline = await get(session, url, params(key + "\n"))
        assert once.status == 200
        assert (twice.status, twice.json()) == (403, MODERN_403_NOT_REGISTERED)
        assert newline.status == 403
        assert gw.counts() == {"old": {"areaBasedList2": 1}, "unknown": {"areaBasedList2": 2}}


async def test_daily_quota_is_per_operation_and_new_day_resets_it(
    session: aiohttp.ClientSession,
) -> None:
    """After daily_limit calls of one operation it answers 22 (429); others work; new_day resets."""
    key, keys = one_key(daily_limit=2)
    async with GatewayServer(GatewayConfig(keys=keys)) as gw:
        url = gw.base_url + "/areaBasedList2"
        statuses = [(await get(session, url, params(key))).status for _ in range(3)]
        spent = await get(session, url, params(key))
        other = await get(session, gw.base_url + "/ldongCode2", params(key))
        assert statuses == [200, 200, 429]
        assert (spent.status, spent.json()) == (429, MODERN_429_DAILY)
        assert other.status == 200
        assert gw.usage() == {"dev1": {"areaBasedList2": 4, "ldongCode2": 1}}
        gw.new_day()
        assert (await get(session, url, params(key))).status == 200


async def test_daily_quota_in_legacy_generation_is_xml_code_22(
    session: aiohttp.ClientSession,
) -> None:
    """Legacy: a spent quota is the XML envelope with code 22 and HTTP 200."""
    key, keys = one_key(daily_limit=0)
    async with GatewayServer(GatewayConfig(keys=keys, generation=Generation.LEGACY)) as gw:
        got = await get(session, gw.base_url + "/areaBasedList2", params(key))
        assert got.status == 200
        assert ET.fromstring(got.text).findtext("cmmMsgHeader/returnReasonCode") == "22"


async def test_activating_key_answers_30_until_the_clock_passes_activation(
    session: aiohttp.ClientSession,
) -> None:
    """An activating key answers 30, then works once advance() passes activate_after_s."""
    key, keys = one_key(kind=BehaviourKind.ACTIVATING, activate_after_s=600)
    async with GatewayServer(GatewayConfig(keys=keys)) as gw:
        url = gw.base_url + "/areaBasedList2"
        before = await get(session, url, params(key))
        gw.advance(599)
        still = await get(session, url, params(key))
        gw.advance(2)
        after = await get(session, url, params(key))
        assert [before.status, still.status, after.status] == [403, 403, 200]


@pytest.mark.parametrize(
    ("generation", "status"), [(Generation.LEGACY, 200), (Generation.MODERN, 429)]
)
async def test_per_second_key_answers_23_past_its_rate_until_the_next_second(
    session: aiohttp.ClientSession, generation: Generation, status: int
) -> None:
    """With a frozen clock, the third call in one second answers 23; the next second is fine."""
    key, keys = one_key(kind=BehaviourKind.PER_SECOND, max_per_second=2)
    config = GatewayConfig(keys=keys, generation=generation)
    async with GatewayServer(config, clock=lambda: FROZEN) as gw:
        url = gw.base_url + "/areaBasedList2"
        first = [(await get(session, url, params(key))).status for _ in range(2)]
        query = params(key)
        del query["_type"]
        limited = await get(session, url, query)
        gw.advance(1)
        later = await get(session, url, params(key))
        assert first == [200, 200] and later.status == 200
        assert limited.status == status
        if generation is Generation.MODERN:
            assert limited.text == MODERN_429_PER_SECOND_XML + "\n"
        else:
            assert "<returnReasonCode>23</returnReasonCode>" in limited.text


async def test_mixed_generation_alternates_legacy_and_modern(
    session: aiohttp.ClientSession,
) -> None:
    """mixed: even calls answer the legacy envelope, odd calls the 2025+ one."""
    async with GatewayServer(GatewayConfig(generation=Generation.MIXED)) as gw:
        url = gw.base_url + "/areaBasedList2"
        answers = [await get(session, url, params(hex_key())) for _ in range(4)]
        assert [a.status for a in answers] == [200, 403, 200, 403]
        assert answers[0].text == LEGACY_30
        assert answers[1].json() == MODERN_403_NOT_REGISTERED


# -- faults --------------------------------------------------------------------------------------


async def test_flaky_key_cycles_through_its_faults(session: aiohttp.ClientSession) -> None:
    """failure_share 0.5 fails every second call, cycling the configured faults in order."""
    faults = (
        Fault.HTTP_502,
        Fault.EMPTY,
        Fault.CODE_04,
        Fault.BARE_429,
        Fault.ROUTING_TEXT,
        Fault.TRUNCATED,
        Fault.HTTP_503,
    )
    key, keys = one_key(
        "flaky", kind=BehaviourKind.FLAKY, failure_share=0.5, faults=faults, retry_after_s=3
    )
    async with GatewayServer(GatewayConfig(keys=keys)) as gw:
        url = gw.base_url + "/areaBasedList2"
        got: list[Got | None] = []
        for _ in range(2 * len(faults)):
            try:
                got.append(await get(session, url, params(key, numOfRows=5)))
            except aiohttp.ClientError:
                got.append(None)
        outcomes = [call.outcome for call in gw.history()]
        assert outcomes[0::2] == ["ok"] * len(faults)
        assert outcomes[1::2] == [fault.value for fault in faults]
        failed = got[1::2]
        assert failed[0] is not None and failed[0].status == 502 and HTML_502 in failed[0].text
        assert failed[1] is not None and (failed[1].status, failed[1].text) == (200, "")
        assert failed[2] is not None and failed[2].status == 502
        assert (
            failed[2].json()["OpenAPI_ServiceResponse"]["cmmMsgHeader"]["returnReasonCode"] == "04"
        )
        assert failed[3] is not None and (failed[3].status, failed[3].text) == (429, "")
        assert failed[3].headers["Retry-After"] == "3"
        assert failed[4] is not None and failed[4].text == "SERVICE ERROR - HTTP ROUTING ERROR"
        assert failed[5] is not None and failed[5].status == 200
        with pytest.raises(json.JSONDecodeError):
            failed[5].json()
        assert failed[6] is not None and failed[6].status == 503
        assert gw.total(label="flaky") == 2 * len(faults)


async def test_reset_drops_the_connection_and_aiohttp_retries_it_once(
    session: aiohttp.ClientSession,
) -> None:
    """A reset closes the connection unanswered; aiohttp re-sends a GET once, so two are counted."""
    key, keys = one_key(kind=BehaviourKind.FLAKY, failure_share=1.0, faults=(Fault.RESET,))
    async with GatewayServer(GatewayConfig(keys=keys)) as gw:
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await get(session, gw.base_url + "/areaBasedList2", params(key))
        assert [call.outcome for call in gw.history()] == ["reset", "reset"]


async def test_flaky_gateway_codes_use_the_legacy_envelope_in_legacy_mode(
    session: aiohttp.ClientSession,
) -> None:
    """Codes 01/05/99 from a flaky key come in the current generation's envelope."""
    faults = (Fault.CODE_01, Fault.CODE_05, Fault.CODE_99)
    key, keys = one_key(kind=BehaviourKind.FLAKY, failure_share=1.0, faults=faults)
    async with GatewayServer(GatewayConfig(keys=keys, generation=Generation.LEGACY)) as gw:
        url = gw.base_url + "/areaBasedList2"
        codes = []
        for _ in faults:
            got = await get(session, url, params(key))
            assert got.status == 200
            codes.append(ET.fromstring(got.text).findtext("cmmMsgHeader/returnReasonCode"))
        assert codes == ["01", "05", "99"]


async def test_slow_fault_outlasts_the_client_timeout(session: aiohttp.ClientSession) -> None:
    """A slow fault answers after slow_s, so a client with a shorter timeout gives up."""
    key, keys = one_key(kind=BehaviourKind.FLAKY, failure_share=1.0, faults=(Fault.SLOW,))
    async with GatewayServer(GatewayConfig(keys=keys, slow_s=5.0)) as gw:
        with pytest.raises(TimeoutError):
            async with session.get(
                gw.base_url + "/areaBasedList2",
                params=params(key),
                timeout=aiohttp.ClientTimeout(sock_read=0.2),
            ) as response:
                await response.read()
        assert gw.history()[0].outcome == "slow"


async def test_latency_grows_with_the_rows_a_page_asks_for(
    session: aiohttp.ClientSession,
) -> None:
    """latency_s plus latency_per_row_s per numOfRows: a page of 100 takes ten times one of 10."""
    key, keys = one_key()
    config = GatewayConfig(keys=keys, latency_s=0.01, latency_per_row_s=0.002)
    async with GatewayServer(config) as gw:
        url = gw.base_url + "/areaBasedList2"
        took: dict[int, float] = {}
        for rows in (10, 100):
            started = time.perf_counter()
            await get(session, url, params(key, lDongRegnCd="36", numOfRows=rows))
            took[rows] = time.perf_counter() - started
    assert 0.03 <= took[10] < 0.2
    assert 0.21 <= took[100] < 0.6
    with pytest.raises(GatewayConfigError):
        GatewayConfig(latency_per_row_s=-1.0)


# -- mutations -----------------------------------------------------------------------------------


async def test_modified_records_show_in_the_sync_list_of_that_day(
    session: aiohttp.ClientSession,
) -> None:
    """modify(n) changes title and modifiedtime; the sync list of that day returns exactly them."""
    key, keys = one_key()
    async with GatewayServer(GatewayConfig(keys=keys)) as gw:
        before = gw.dataset.record(gw.dataset.contentids()[0])
        changed = gw.modify(3)
        day = gw.dataset.today().strftime("%Y%m%d")
        url = gw.base_url + "/areaBasedSyncList2"
        got = await get(session, url, params(key, modifiedtime=day, numOfRows=100))
        assert sorted((i["contentid"] for i in got.items()), key=int) == changed
        assert {i["showflag"] for i in got.items()} == {"1"}
        record = gw.dataset.record(changed[0])
        assert record is not None and before is not None
        assert record.modifiedtime.startswith(day) and record.title != record.base_title
        detail = await get(
            session, gw.base_url + "/detailCommon2", params(key, contentId=changed[0])
        )
        assert detail.items()[0]["title"] == record.title


async def test_hidden_records_leave_the_list_and_details_but_stay_in_sync_list(
    session: aiohttp.ClientSession,
) -> None:
    """hide(n): out of areaBasedList2, details answer "", sync list shows them with showflag 0."""
    key, keys = one_key()
    async with GatewayServer(GatewayConfig(keys=keys)) as gw:
        hidden = gw.hide(2, province="36")
        listed = await get(session, gw.base_url + "/areaBasedList2", params(key, lDongRegnCd="36"))
        gone = await get(session, gw.base_url + "/detailCommon2", params(key, contentId=hidden[0]))
        sync = await get(
            session, gw.base_url + "/areaBasedSyncList2", params(key, lDongRegnCd="36", showflag=0)
        )
        both = await get(
            session, gw.base_url + "/areaBasedSyncList2", params(key, lDongRegnCd="36")
        )
        assert listed.body()["totalCount"] == 6
        assert not {i["contentid"] for i in listed.items()} & set(hidden)
        assert gone.body()["items"] == ""
        assert sorted((i["contentid"] for i in sync.items()), key=int) == hidden
        assert {i["showflag"] for i in sync.items()} == {"0"}
        assert both.body()["totalCount"] == 8
        assert gw.dataset.contentids("36", include_hidden=True) != gw.dataset.contentids("36")


async def test_inserted_records_join_their_province(session: aiohttp.ClientSession) -> None:
    """insert(province, n) adds n new contentids that the list then returns."""
    key, keys = one_key()
    async with GatewayServer(GatewayConfig(keys=keys)) as gw:
        added = gw.insert("36", 4)
        got = await get(session, gw.base_url + "/areaBasedList2", params(key, lDongRegnCd="36"))
        assert got.body()["totalCount"] == 12 and len(set(added)) == 4
        assert set(added) <= {i["contentid"] for i in got.items()}
        assert set(added).isdisjoint(Dataset().contentids())


async def test_a_list_asked_again_after_a_change_shows_the_change(
    session: aiohttp.ClientSession,
) -> None:
    """The gateway keeps a province's ordered records between pages, never across a change."""
    key, keys = one_key()
    async with GatewayServer(GatewayConfig(keys=keys)) as gw:
        url, ask = gw.base_url + "/areaBasedList2", params(key, lDongRegnCd="36", arrange="C")
        assert (await get(session, url, ask)).body()["totalCount"] == 8
        added = gw.insert("36", 4)
        assert (await get(session, url, ask)).body()["totalCount"] == 12
        hidden = gw.hide(2, province="36")
        listed = await get(session, url, ask)
        assert listed.body()["totalCount"] == 10
        assert not {i["contentid"] for i in listed.items()} & set(hidden)
        (changed,) = gw.dataset.modify(1, province="36")
        newest = (await get(session, url, ask)).items()[0]
        assert newest["contentid"] == changed and changed not in hidden
        assert len(set(added)) == 4


def test_mutations_are_deterministic() -> None:
    """The same sequence of mutations on the same seed touches the same records."""
    first, again = Dataset(3, {"11": 50}), Dataset(3, {"11": 50})
    assert first.modify(5) == again.modify(5)
    assert first.hide(2) == again.hide(2)
    assert first.insert("11", 2) == again.insert("11", 2)


# -- counters ------------------------------------------------------------------------------------


async def test_counters_count_every_request_by_label_and_operation(
    session: aiohttp.ClientSession,
) -> None:
    """Successes, errors, unknown and missing keys are all counted, with a history of params."""
    key, keys = one_key()
    expired, expired_keys = one_key("old", kind=BehaviourKind.EXPIRED)
    async with GatewayServer(GatewayConfig(keys={**keys, **expired_keys})) as gw:
        url = gw.base_url
        await get(session, url + "/areaBasedList2", params(key, lDongRegnCd="11", pageNo=2))
        await get(session, url + "/areaBasedList2", params(key))
        await get(session, url + "/detailIntro2", params(key, contentId="1"))
        await get(session, url + "/detailIntro2", params(expired, contentId="1"))
        await get(session, url + "/areaBasedList2", params(hex_key()))
        await get(session, url + "/ldongCode2", params(None))
        assert gw.counts() == {
            "dev1": {"areaBasedList2": 2, "detailIntro2": 1},
            "old": {"detailIntro2": 1},
            "unknown": {"areaBasedList2": 1},
            "missing": {"ldongCode2": 1},
        }
        assert gw.total() == 6
        assert gw.total(operation="areaBasedList2") == 3
        assert gw.total(operation="detailIntro2", label="dev1") == 1
        first, *_, last = gw.history()
        assert first.params == {"lDongRegnCd": "11", "pageNo": "2"}
        assert [call.outcome for call in gw.history()] == ["ok", "ok", "11", "31", "30", "20"]
        assert last.label == "missing"
        assert key not in repr(gw.history()) and key not in repr(gw.gateway.config)
        gw.reset_counts()
        assert gw.counts() == {} and gw.history() == []


# -- config, thread harness, admin -----------------------------------------------------------------


def test_config_loads_from_json_file(tmp_path: Path) -> None:
    """GatewayConfig.from_json reads keys, behaviours and options; bad input names no key."""
    key = hex_key()
    raw = {
        "generation": "legacy",
        "seed": 5,
        "sizes": {"11": 10, "36": 2},
        "page_cap": 1000,
        "slow_s": 1.5,
        "keys": {
            key: {"label": "dev1", "behaviour": "valid", "daily_limit": 1000},
            hex_key(): {
                "label": "f",
                "behaviour": "flaky",
                "failure_share": 0.2,
                "faults": ["reset"],
            },
        },
    }
    path = tmp_path / "gateway.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    config = GatewayConfig.from_json(path)
    assert config.generation is Generation.LEGACY and config.page_cap == 1000
    assert config.keys[key] == KeyBehaviour("dev1", daily_limit=1000)
    assert config == GatewayConfig.from_json(raw)
    bad_key = hex_key()
    with pytest.raises(GatewayConfigError) as error:
        GatewayConfig.from_json({"keys": {bad_key: {"label": "x", "behaviour": "nonsense"}}})
    assert bad_key not in str(error.value)


def test_thread_harness_serves_sync_callers_and_admin_endpoints() -> None:
    """run_gateway runs in a thread; /_admin/ reads counts and drives mutations and the clock."""
    key, keys = one_key(kind=BehaviourKind.ACTIVATING, activate_after_s=60)

    def fetch(url: str, method: str = "GET") -> tuple[int, str]:
        request = urllib.request.Request(url, method=method, headers=OWN_AGENT)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    with run_gateway(GatewayConfig(keys=keys, sizes={"11": 5})) as gw:
        call = gw.base_url + "/areaBasedList2?" + urllib.parse.urlencode(params(key))
        assert fetch(call)[0] == 403
        assert fetch(gw.root_url + "/_admin/advance?s=61", "POST")[0] == 200
        assert fetch(call)[0] == 200
        status, text = fetch(gw.root_url + "/_admin/mutate?action=hide&n=2", "POST")
        assert status == 200 and len(json.loads(text)["contentids"]) == 2
        assert json.loads(fetch(gw.root_url + "/_admin/counts")[1]) == {
            "dev1": {"areaBasedList2": 2}
        }
        assert json.loads(fetch(gw.root_url + "/_admin/history")[1])[1]["outcome"] == "ok"
        assert fetch(gw.root_url + "/_admin/reset", "POST")[0] == 200
        assert gw.total() == 0
        assert len(gw.dataset.contentids()) == 3
