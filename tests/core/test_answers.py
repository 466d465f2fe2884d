"""The answer classifier: every real sample and every shape of the doc's section 3."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kto_keys.core.answers import Outcome, classify, transport_fault
from kto_keys.core.codes import CODES, OutcomeKind

# Real answers of the service, copied from the team's shared samples: the suite never reads outside the repo.
SAMPLES = Path(__file__).parents[1] / "samples"

S = OutcomeKind.SUCCESS
REQ = OutcomeKind.REQUEST_ERROR
CFG = OutcomeKind.CONFIG_ERROR
HOST = OutcomeKind.HOST_BLOCKED
DAILY = OutcomeKind.DAILY_LIMIT
RATE = OutcomeKind.RATE_LIMIT
KEY = OutcomeKind.KEY_UNUSABLE
TRANSIENT = OutcomeKind.TRANSIENT


def answer(status: int, body: bytes | str, headers: dict[str, str] | None = None) -> Outcome:
    """Classify an answer given as text or bytes."""
    raw = body.encode() if isinstance(body, str) else body
    return classify(status, headers or {}, raw)


# --- the samples -------------------------------------------------------------------------------
# file, HTTP status (from the samples README), kind, code, symbol, parameter, items
SAMPLE_TABLE = [
    ("areaBasedList2_page.json", 200, S, "0000", "", None, 2),
    ("areaBasedList2_one_result.json", 200, S, "0000", "", None, 1),
    ("areaBasedList2_single_item.json", 200, S, "0000", "", None, 1),
    ("areaBasedList2_empty.json", 200, S, "0000", "", None, 0),
    ("ldongCode2.json", 200, S, "0000", "", None, 17),
    ("detailIntro2_restaurant.json", 200, S, "0000", "", None, 1),
    ("detailCommon2.json", 200, S, "0000", "", None, 1),
    (
        "provider_error_missing_parameter.json",
        200,
        REQ,
        "11",
        "NO_MANDATORY_REQUEST_PARAMETERS_ERROR",
        "MobileOS",
        0,
    ),
    (
        "provider_error_invalid_parameter.json",
        200,
        REQ,
        "10",
        "INVALID_REQUEST_PARAMETER_ERROR",
        "defaultYN",
        0,
    ),
    ("service_error_nested.json", 200, REQ, "10", "INVALID_REQUEST_PARAMETER_ERROR", None, 0),
    ("gateway_error_30.xml", 200, KEY, "30", "SERVICE_KEY_IS_NOT_REGISTERED_ERROR", None, 0),
    (
        "gateway_error_22.xml",
        200,
        DAILY,
        "22",
        "LIMITED_NUMBER_OF_SERVICE_REQUESTS_EXCEEDS_ERROR",
        None,
        0,
    ),
    ("gateway_error_31.xml", 200, KEY, "31", "DEADLINE_HAS_EXPIRED_ERROR", None, 0),
    (
        "gateway2_403_not_registered.json",
        403,
        KEY,
        "30",
        "SERVICE_KEY_IS_NOT_REGISTERED_ERROR",
        None,
        0,
    ),
    ("gateway2_401_key_missing.json", 401, REQ, "20", "SERVICE_KEY_IS_NULL", None, 0),
    (
        "gateway2_429_daily_limit.json",
        429,
        DAILY,
        "22",
        "LIMITED_NUMBER_OF_SERVICE_REQUESTS_EXCEEDS_ERROR",
        None,
        0,
    ),
    (
        "gateway2_429_per_second.xml",
        429,
        RATE,
        "23",
        "LIMITED_NUMBER_OF_SERVICE_REQUESTS_PER_SECOND_EXCEEDS_ERROR",
        None,
        0,
    ),
    ("http_502.html", 502, TRANSIENT, None, "", None, 0),
]


def test_every_sample_file_has_an_expectation():
    """A new sample in shared/samples must be added to the table, not silently skipped."""
    on_disk = {path.name for path in SAMPLES.iterdir() if path.name != "README.md"}
    assert on_disk == {row[0] for row in SAMPLE_TABLE}


def test_sample_statuses_match_the_samples_readme():
    """The statuses in the table are the ones the samples README gives."""
    readme = (SAMPLES / "README.md").read_text(encoding="utf-8")
    for name, status, *_ in SAMPLE_TABLE:
        rows = [line for line in readme.splitlines() if line.startswith("|") and name in line]
        if not rows:  # gateway_error_22.xml and _31.xml share the row of _30.xml
            rows = [line for line in readme.splitlines() if "gateway_error_30.xml" in line]
        assert f"| {status} |" in rows[0], name


@pytest.mark.parametrize(
    "name, status, kind, code, symbol, parameter, items",
    [pytest.param(*row, id=row[0]) for row in SAMPLE_TABLE],
)
def test_sample_is_classified(name, status, kind, code, symbol, parameter, items):
    """Each real answer shape gets the right kind, code, symbol, parameter and item count."""
    outcome = classify(status, {}, (SAMPLES / name).read_bytes())
    assert outcome.kind is kind
    assert outcome.code == code
    assert outcome.symbol == symbol
    assert outcome.parameter == parameter
    assert len(outcome.payload.items) == items
    assert outcome.http_status == status
    assert outcome.uncoded_auth is False


def test_page_sample_keeps_strings_and_paging_figures():
    """Item values stay strings and totalCount/pageNo are read as numbers."""
    outcome = classify(200, {}, (SAMPLES / "areaBasedList2_page.json").read_bytes())
    first, second = outcome.payload.items
    assert first["contentid"] == "2869826"
    assert second["areacode"] == ""
    assert outcome.payload.total_count == 13497
    assert outcome.payload.page_no == 1


def test_bare_object_item_is_read_as_one_item():
    """`"item": {…}` (some portal services) gives the same item as a one-element list."""
    single = classify(200, {}, (SAMPLES / "areaBasedList2_single_item.json").read_bytes())
    listed = classify(200, {}, (SAMPLES / "areaBasedList2_one_result.json").read_bytes())
    assert single.payload.items[0]["contentid"] == listed.payload.items[0]["contentid"]


def test_province_list_keeps_rnum_a_number():
    """ldongCode2 answers carry `rnum` as a JSON number, which is kept as is."""
    outcome = classify(200, {}, (SAMPLES / "ldongCode2.json").read_bytes())
    assert outcome.payload.items[0] == {"rnum": 1, "code": "11", "name": "서울특별시"}


# --- the doc's shapes ------------------------------------------------------------------------
def flat_error(code: str, message: str) -> str:
    """Shape A: TourAPI's own flat error."""
    return json.dumps(
        {"responseTime": "2026-09-02T14:12:08.330", "resultCode": code, "resultMsg": message}
    )


def nested(code: str, message: str = "OK", body: object = None) -> str:
    """The `response.header` form, with an optional body."""
    response: dict[str, object] = {"header": {"resultCode": code, "resultMsg": message}}
    if body is not None:
        response["body"] = body
    return json.dumps({"response": response}, ensure_ascii=False)


def legacy_xml(code: str, symbol: str) -> str:
    """Shape B: the legacy envelope, the symbol in returnAuthMsg."""
    return (
        "<OpenAPI_ServiceResponse><cmmMsgHeader><errMsg>SERVICE ERROR</errMsg>"
        f"<returnAuthMsg>{symbol}</returnAuthMsg><returnReasonCode>{code}</returnReasonCode>"
        "</cmmMsgHeader></OpenAPI_ServiceResponse>"
    )


def new_json(code: str, symbol: str) -> str:
    """Shape C as JSON: errMsg holds the symbol, returnAuthMsg Korean text."""
    header = {"errMsg": symbol, "returnAuthMsg": "한국어 설명", "returnReasonCode": code}
    return json.dumps({"OpenAPI_ServiceResponse": {"cmmMsgHeader": header}}, ensure_ascii=False)


def new_xml(code: str, symbol: str) -> str:
    """Shape C as XML with a prolog."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<OpenAPI_ServiceResponse>\n\t<cmmMsgHeader>\n'
        f"\t\t<errMsg>{symbol}</errMsg>\n\t\t<returnAuthMsg>한국어 설명</returnAuthMsg>\n"
        f"\t\t<returnReasonCode>{code}</returnReasonCode>\n\t</cmmMsgHeader>\n"
        "</OpenAPI_ServiceResponse>"
    )


# sent code, symbol as the gateway writes it, 2025+ status, kind, code and symbol we expect
GATEWAY_CODES = [
    ("01", "APPLICATION_ERROR", 500, TRANSIENT, "01", "APPLICATION_ERROR"),
    ("02", "DB_ERROR", 500, TRANSIENT, "02", "DB_ERROR"),
    ("03", "NODATA_ERROR", 200, S, "03", "NODATA_ERROR"),
    ("04", "HTTP_ERROR", 502, TRANSIENT, "04", "HTTP_ERROR"),
    ("4", "HTTP_ERROR", 502, TRANSIENT, "04", "HTTP_ERROR"),
    ("05", "SERVICE_TIME_OUT", 504, TRANSIENT, "05", "SERVICETIMEOUT_ERROR"),
    ("10", "INVALID_REQUEST_PARAMETER_ERROR", 400, REQ, "10", "INVALID_REQUEST_PARAMETER_ERROR"),
    (
        "11",
        "NO_MANDATORY_REQUEST_PARAMETERS_ERROR",
        400,
        REQ,
        "11",
        "NO_MANDATORY_REQUEST_PARAMETERS_ERROR",
    ),
    ("12", "NO_OPENAPI_SERVICE_ERROR", 400, CFG, "12", "NO_OPENAPI_SERVICE_ERROR"),
    ("20", "SERVICE_KEY_IS_NULL", 401, REQ, "20", "SERVICE_KEY_IS_NULL"),
    ("20", "SERVICE_ACCESS_DENIED_ERROR", 403, KEY, "20", "SERVICE_ACCESS_DENIED_ERROR"),
    ("20", "PERMISSION_DENIED", 403, KEY, "20", "SERVICE_ACCESS_DENIED_ERROR"),
    (
        "21",
        "TEMPORARILY_DISABLE_THE_SERVICEKEY_ERROR",
        403,
        KEY,
        "21",
        "TEMPORARILY_DISABLE_THE_SERVICEKEY_ERROR",
    ),
    (
        "22",
        "LIMITED_NUMBER_OF_SERVICE_REQUESTS_EXCEEDS_ERROR",
        429,
        DAILY,
        "22",
        "LIMITED_NUMBER_OF_SERVICE_REQUESTS_EXCEEDS_ERROR",
    ),
    (
        "23",
        "LIMITED_NUMBER_OF_SERVICE_REQUESTS_PER_SECOND_EXCEEDS_ERROR",
        429,
        RATE,
        "23",
        "LIMITED_NUMBER_OF_SERVICE_REQUESTS_PER_SECOND_EXCEEDS_ERROR",
    ),
    ("29", "BLACKLIST_IP_ACCESS_ERROR", 403, HOST, "29", "BLACKLIST_IP_ACCESS_ERROR"),
    (
        "30",
        "SERVICE_KEY_IS_NOT_REGISTERED_ERROR",
        403,
        KEY,
        "30",
        "SERVICE_KEY_IS_NOT_REGISTERED_ERROR",
    ),
    ("31", "DEADLINE_HAS_EXPIRED_ERROR", 403, KEY, "31", "DEADLINE_HAS_EXPIRED_ERROR"),
    ("32", "UNREGISTERED_IP_ERROR", 403, KEY, "32", "UNREGISTERED_IP_ERROR"),
    ("33", "UNSIGNED_CALL_ERROR", 400, REQ, "33", "UNSIGNED_CALL_ERROR"),
    ("99", "UNKNOWN_ERROR", 500, TRANSIENT, "99", "UNKNOWN_ERROR"),
]
ENVELOPES = [
    pytest.param(legacy_xml, False, id="legacy-xml-200"),
    pytest.param(new_json, True, id="2025-json"),
    pytest.param(new_xml, True, id="2025-xml-prolog"),
]


@pytest.mark.parametrize("build, real_status", ENVELOPES)
@pytest.mark.parametrize(
    "sent, symbol, status, kind, code, expected_symbol",
    [pytest.param(*row, id=f"{row[0]}-{row[1]}") for row in GATEWAY_CODES],
)
def test_gateway_code_is_classified_by_number_in_every_envelope(
    build, real_status, sent, symbol, status, kind, code, expected_symbol
):
    """Every code of the table, in the legacy and both 2025+ envelopes, gets its outcome."""
    outcome = answer(status if real_status else 200, build(sent, symbol))
    assert outcome.kind is kind
    assert outcome.code == code
    assert outcome.symbol == expected_symbol
    assert outcome.uncoded_auth is False
    if kind is S:
        assert outcome.payload.items == ()


@pytest.mark.parametrize("build, real_status", ENVELOPES)
@pytest.mark.parametrize(
    "sent, symbol, status, kind, code",
    [
        pytest.param("004", "HTTP_ERROR", 502, TRANSIENT, "04", id="004-is-04"),
        pytest.param("0022", "", 429, DAILY, "22", id="0022-is-22"),
        pytest.param(" 23 ", "", 429, RATE, "23", id="spaced-23"),
        pytest.param("030", "", 403, KEY, "30", id="030-is-30"),
        pytest.param("000", "", 200, S, "00", id="000-is-success"),
        pytest.param("E01", "", 500, TRANSIENT, "E01", id="non-numeric-kept-as-sent"),
    ],
)
def test_a_code_is_identified_by_its_number_whatever_its_padding(
    build, real_status, sent, symbol, status, kind, code
):
    """`004`, `4` and `04` are one code; a code that is not a number is kept as it came."""
    outcome = answer(status if real_status else 200, build(sent, symbol))
    assert (outcome.kind, outcome.code) == (kind, code)


def envelope_2025(code: str, err: str, auth: str) -> str:
    """Shape C as JSON with both texts given."""
    header = {"errMsg": err, "returnAuthMsg": auth, "returnReasonCode": code}
    return json.dumps({"OpenAPI_ServiceResponse": {"cmmMsgHeader": header}}, ensure_ascii=False)


@pytest.mark.parametrize(
    "status, body, kind, symbol",
    [
        pytest.param(
            401,
            envelope_2025("20", "SERVICE_ACCESS_DENIED_ERROR", "서비스 접근거부"),
            REQ,
            "SERVICE_KEY_IS_NULL",
            id="401-means-no-key-whatever-the-symbol",
        ),
        pytest.param(
            401, envelope_2025("20", "", ""), REQ, "SERVICE_KEY_IS_NULL", id="401-bare-20"
        ),
        pytest.param(
            403,
            envelope_2025("20", "SERVICE ERROR", "Service Key is null"),
            REQ,
            "SERVICE_KEY_IS_NULL",
            id="null-in-return-auth-msg-any-case",
        ),
        pytest.param(
            200,
            legacy_xml("20", "SERVICE_KEY_IS_NULL_ERROR"),
            REQ,
            "SERVICE_KEY_IS_NULL",
            id="legacy-null",
        ),
        pytest.param(
            403,
            envelope_2025("20", "SERVICE_ACCESS_DENIED_ERROR", "서비스 접근거부"),
            KEY,
            "SERVICE_ACCESS_DENIED_ERROR",
            id="403-access-denied",
        ),
        pytest.param(
            200,
            legacy_xml("020", "SERVICE_ACCESS_DENIED_ERROR"),
            KEY,
            "SERVICE_ACCESS_DENIED_ERROR",
            id="legacy-padded-access-denied",
        ),
        pytest.param(
            403, envelope_2025("20", "", ""), KEY, "SERVICE_ACCESS_DENIED_ERROR", id="403-bare-20"
        ),
    ],
)
def test_code_20_is_no_key_sent_on_a_401_or_a_null_message_else_access_denied(
    status, body, kind, symbol
):
    """20 has two meanings: HTTP 401 or "NULL" in errMsg or returnAuthMsg is our bug (a request
    error, no key blamed); any other 20 is a key not approved for the service."""
    outcome = answer(status, body)
    assert (outcome.kind, outcome.code, outcome.symbol) == (kind, "20", symbol)


def test_legacy_envelope_keeps_both_texts_in_the_message():
    """The message carries errMsg and returnAuthMsg for people to read."""
    outcome = answer(200, legacy_xml("30", "SERVICE_KEY_IS_NOT_REGISTERED_ERROR"))
    assert "SERVICE ERROR" in outcome.message
    assert "SERVICE_KEY_IS_NOT_REGISTERED_ERROR" in outcome.message


@pytest.mark.parametrize(
    "body, code, parameter",
    [
        pytest.param(
            flat_error("11", "NO_MANDATORY_REQUEST_PARAMETERS_ERROR1(MobileOS)"),
            "11",
            "MobileOS",
            id="flat-11-mobileos",
        ),
        pytest.param(
            flat_error("11", "NO_MANDATORY_REQUEST_PARAMETERS_ERROR1(contentTypeId)"),
            "11",
            "contentTypeId",
            id="flat-11-contenttypeid",
        ),
        pytest.param(
            flat_error("10", "INVALID_REQUEST_PARAMETER_ERROR(overviewYN)"),
            "10",
            "overviewYN",
            id="flat-10-overviewyn",
        ),
        pytest.param(
            flat_error("10", "INVALID_REQUEST_PARAMETER_ERROR(contentTypeId)"),
            "10",
            "contentTypeId",
            id="flat-10-contenttypeid",
        ),
        pytest.param(
            flat_error("10", "INVALID_REQUEST_PARAMETER_ERROR"), "10", None, id="flat-10-unnamed"
        ),
        pytest.param(
            nested("11", "NO_MANDATORY_REQUEST_PARAMETERS_ERROR1(MobileApp)"),
            "11",
            "MobileApp",
            id="nested-11-mobileapp",
        ),
        pytest.param(nested("10", "INVALID_REQUEST_PARAMETER_ERROR"), "10", None, id="nested-10"),
    ],
)
def test_tourapi_request_errors_name_the_parameter(body, code, parameter):
    """Flat and nested errors 10/11 are request errors that carry the parameter name."""
    outcome = answer(200, body)
    assert outcome.kind is REQ
    assert outcome.code == code
    assert outcome.parameter == parameter


@pytest.mark.parametrize(
    "status, headers, body, retry_after",
    [
        pytest.param(429, {}, b"", None, id="bare-429"),
        pytest.param(429, {"Retry-After": "7"}, b"", 7.0, id="bare-429-retry-after"),
        pytest.param(429, {"retry-after": "2.5"}, b"", 2.5, id="bare-429-lowercase-header"),
        pytest.param(
            429,
            {
                "Retry-After": "Tue, 24 Nov 2026 01:00:30 GMT",
                "Date": "Tue, 24 Nov 2026 01:00:00 GMT",
            },
            b"",
            30.0,
            id="bare-429-retry-after-date",
        ),
        pytest.param(429, {}, b"Too Many Requests", None, id="text-429"),
        pytest.param(200, {}, b"Too Many Requests", None, id="text-too-many-on-200"),
        pytest.param(
            429,
            {"Retry-After": "3"},
            b"<html><body>Too Many Requests</body></html>",
            3.0,
            id="html-429",
        ),
        pytest.param(429, {"Retry-After": "4"}, b'{"truncated', 4.0, id="429-broken-json"),
    ],
)
def test_per_second_limit_without_a_code_honours_retry_after(status, headers, body, retry_after):
    """A 429 or "Too Many Requests" with no code is a per-second limit, with Retry-After read."""
    outcome = answer(status, body, headers)
    assert outcome.kind is RATE
    assert outcome.code is None
    assert outcome.retry_after == retry_after


@pytest.mark.parametrize("build", [new_json, new_xml])
def test_a_429_with_a_code_the_table_does_not_know_is_an_ambiguous_limit(build):
    """Code 24 on a 429: a limit like a bare 429 (per second or daily), its raw code kept; the
    same code without a 429 stays a passing fault."""
    outcome = answer(429, build("024", "SOME_NEW_LIMIT_ERROR"), {"Retry-After": "9"})
    assert (outcome.kind, outcome.code, outcome.symbol) == (RATE, "24", "SOME_NEW_LIMIT_ERROR")
    assert outcome.retry_after == 9.0
    assert answer(200, legacy_xml("24", "SOME_NEW_LIMIT_ERROR")).kind is TRANSIENT


def test_coded_per_second_limit_keeps_retry_after():
    """Code 23 with a Retry-After header keeps the header's wait."""
    outcome = answer(
        429,
        new_json("23", "LIMITED_NUMBER_OF_SERVICE_REQUESTS_PER_SECOND_EXCEEDS_ERROR"),
        {"Retry-After": "5"},
    )
    assert (outcome.kind, outcome.code, outcome.retry_after) == (RATE, "23", 5.0)


@pytest.mark.parametrize(
    "status, body",
    [
        pytest.param(401, b"", id="401-empty"),
        pytest.param(403, b"", id="403-empty"),
        pytest.param(401, b"Unauthorized", id="401-text"),
        pytest.param(403, b"Forbidden", id="403-text"),
        pytest.param(200, b"Forbidden", id="200-forbidden-text"),
        pytest.param(200, b"Unauthorized", id="200-unauthorized-text"),
        pytest.param(403, b"<html><head><title>403 Forbidden</title></head></html>", id="403-html"),
        pytest.param(403, b'{"message": "forbidden"}', id="403-json-without-code"),
    ],
)
def test_uncoded_401_or_403_is_transient_and_marked(status, body):
    """A refusal without a code is a transient error of the key, flagged as uncoded auth."""
    outcome = answer(status, body)
    assert outcome.kind is TRANSIENT
    assert outcome.code is None
    assert outcome.uncoded_auth is True


@pytest.mark.parametrize(
    "status, body, code",
    [
        pytest.param(
            500, b"<html><body>500 Internal Server Error</body></html>", None, id="500-html"
        ),
        pytest.param(502, (SAMPLES / "http_502.html").read_bytes(), None, id="502-html"),
        pytest.param(
            503,
            b"<!DOCTYPE html><html><title>Service Unavailable</title></html>",
            None,
            id="503-doctype",
        ),
        pytest.param(200, b"SERVICE ERROR - HTTP ROUTING ERROR", "04", id="routing-text-200"),
        pytest.param(502, b"SERVICE ERROR - HTTP ROUTING ERROR\n", "04", id="routing-text-502"),
        pytest.param(200, b"", None, id="empty-body"),
        pytest.param(200, b"  \r\n ", None, id="whitespace-body"),
        pytest.param(200, b'{"response": {"header": {"resultCode": "00', None, id="truncated-json"),
        pytest.param(
            200,
            (SAMPLES / "areaBasedList2_page.json").read_bytes()[:300],
            None,
            id="truncated-page-sample",
        ),
        pytest.param(200, b"<response><header><resultCode>00", None, id="truncated-xml"),
        pytest.param(200, b"[1, 2, 3]", None, id="json-list"),
        pytest.param(200, b'{"hello": "world"}', None, id="json-unknown-shape"),
        pytest.param(200, b"<foo>bar</foo>", None, id="xml-unknown-root"),
        pytest.param(200, b"just some words", None, id="plain-text"),
        pytest.param(200, b"\xff\xfe\x00garbage", None, id="binary-garbage"),
        pytest.param(503, b"", None, id="503-empty"),
    ],
)
def test_faults_without_a_usable_answer_are_transient(status, body, code):
    """5xx pages, routing errors, empty, truncated or unknown bodies are transient faults."""
    outcome = answer(status, body)
    assert outcome.kind is TRANSIENT
    assert outcome.code == code
    assert outcome.uncoded_auth is False
    assert not outcome.is_success


def test_transport_fault_is_transient():
    """A refused, reset or timed-out connection is a transient fault with its description."""
    outcome = transport_fault("connection reset")
    assert outcome.kind is TRANSIENT
    assert outcome.message == "connection reset"


ITEM = {"contentid": "2869826", "title": "한밭식당", "mapx": "127.0276368284"}


@pytest.mark.parametrize(
    "body, items, total",
    [
        pytest.param(
            nested("0000", body={"items": "", "numOfRows": 0, "pageNo": 9, "totalCount": 5}),
            0,
            5,
            id="items-empty-string",
        ),
        pytest.param(
            nested("0000", body={"items": {"item": [ITEM]}, "numOfRows": 1, "totalCount": 1}),
            1,
            1,
            id="one-element-list",
        ),
        pytest.param(
            nested("0000", body={"items": {"item": ITEM}, "numOfRows": 1, "totalCount": 1}),
            1,
            1,
            id="bare-object-item",
        ),
        pytest.param(
            nested("00", body={"items": {"item": [ITEM, ITEM]}, "totalCount": 2}),
            2,
            2,
            id="result-code-00",
        ),
        pytest.param(
            nested("0", body={"items": {"item": [ITEM]}, "totalCount": 1}), 1, 1, id="result-code-0"
        ),
        pytest.param(nested("0000"), 0, None, id="no-body"),
        pytest.param(
            "\ufeff" + nested("0000", body={"items": {"item": [ITEM]}, "totalCount": 1}),
            1,
            1,
            id="byte-order-mark",
        ),
    ],
)
def test_success_answers_are_read_with_their_items(body, items, total):
    """resultCode 0000, 00 and 0 are success; items "" / list / bare object are all read."""
    outcome = answer(200, body)
    assert outcome.kind is S
    assert outcome.is_success
    assert len(outcome.payload.items) == items
    assert outcome.payload.total_count == total
    if items:
        assert outcome.payload.items[0] == ITEM


def test_a_success_with_a_broken_utf8_byte_is_read_with_the_byte_replaced():
    """A body that is JSON but not valid UTF-8 keeps its items; the bad byte becomes U+FFFD."""
    text = nested("0000", body={"items": {"item": [{**ITEM, "title": "식당X"}]}, "totalCount": 1})
    body = text.encode("utf-8").replace(b"X", b"\xff")
    outcome = classify(200, {}, body)
    assert outcome.kind is S and outcome.payload.total_count == 1
    assert outcome.payload.items[0]["title"] == "식당\ufffd"


def test_xml_success_body_is_read():
    """The XML form of a success (no `_type`) gives its items as string dictionaries."""
    body = (
        "<response><header><resultCode>0000</resultCode><resultMsg>OK</resultMsg></header>"
        "<body><items>"
        "<item><contentid>2869826</contentid><title>한밭식당</title></item>"
        "<item><contentid>133459</contentid><title /></item>"
        "</items><numOfRows>2</numOfRows><pageNo>3</pageNo><totalCount>41</totalCount></body>"
        "</response>"
    )
    outcome = answer(200, body)
    assert outcome.kind is S
    assert outcome.payload.items == (
        {"contentid": "2869826", "title": "한밭식당"},
        {"contentid": "133459", "title": ""},
    )
    assert (outcome.payload.total_count, outcome.payload.page_no) == (41, 3)


def test_xml_nested_error_is_classified_by_code():
    """An XML `response` whose resultCode is not success is classified by that code."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?><response><header><resultCode>11</resultCode>'
        "<resultMsg>NO_MANDATORY_REQUEST_PARAMETERS_ERROR1(MobileOS)</resultMsg></header>"
        "</response>"
    )
    outcome = answer(200, body)
    assert (outcome.kind, outcome.code, outcome.parameter) == (REQ, "11", "MobileOS")


def test_every_code_of_the_doc_table_is_known():
    """The code table holds every code that the doc's table lists."""
    expected = {"01", "02", "03", "04", "05", "10", "11", "12", "20", "21", "22", "23"}
    expected |= {"29", "30", "31", "32", "33", "99"}
    assert set(CODES) == expected
