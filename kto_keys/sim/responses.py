"""Answer bodies of the local gateway: TourAPI successes, its flat errors, gateway envelopes, faults."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

JSON_TYPE = "application/json;charset=UTF-8"
XML_TYPE = "text/xml;charset=UTF-8"
HTML_TYPE = "text/html"
TEXT_TYPE = "text/plain;charset=UTF-8"

Item = Mapping[str, str | int]


@dataclass(frozen=True, slots=True)
class Reply:
    """One HTTP answer to send: status, body bytes, content type and extra headers."""

    status: int
    body: bytes
    content_type: str
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class GatewayError:
    """A gateway code: its symbols in both generations, Korean text, and 2025+ HTTP status."""

    code: str
    symbol: str
    modern_symbol: str
    text: str
    status: int


APPLICATION_ERROR = GatewayError(
    "01", "APPLICATION_ERROR", "APPLICATION_ERROR", "어플리케이션 에러", 500
)
HTTP_ERROR = GatewayError("04", "HTTP_ERROR", "HTTP_ERROR", "HTTP 에러", 502)
SERVICE_TIMEOUT = GatewayError(
    "05", "SERVICETIMEOUT_ERROR", "SERVICE_TIME_OUT", "서비스 연결실패 에러", 504
)
NO_OPENAPI_SERVICE = GatewayError(
    "12",
    "NO_OPENAPI_SERVICE_ERROR",
    "NO_OPENAPI_SERVICE_ERROR",
    "해당 오픈API서비스가 없거나 폐기됨",
    400,
)
KEY_IS_NULL = GatewayError(
    "20", "SERVICE_KEY_IS_NULL", "SERVICE_KEY_IS_NULL", "서비스키 값이 없습니다", 401
)
ACCESS_DENIED = GatewayError(
    "20", "SERVICE_ACCESS_DENIED_ERROR", "SERVICE_ACCESS_DENIED_ERROR", "서비스 접근거부", 403
)
TEMPORARILY_DISABLED = GatewayError(
    "21",
    "TEMPORARILY_DISABLE_THE_SERVICEKEY_ERROR",
    "TEMPORARILY_DISABLE_THE_SERVICEKEY_ERROR",
    "일시적으로 사용할 수 없는 서비스 키",
    403,
)
DAILY_LIMIT = GatewayError(
    "22",
    "LIMITED_NUMBER_OF_SERVICE_REQUESTS_EXCEEDS_ERROR",
    "LIMITED_NUMBER_OF_SERVICE_REQUESTS_EXCEEDS_ERROR",
    "일일 서비스 요청제한 횟수 초과 에러",
    429,
)
PER_SECOND_LIMIT = GatewayError(
    "23",
    "LIMITED_NUMBER_OF_SERVICE_REQUESTS_PER_SECOND_EXCEEDS_ERROR",
    "LIMITED_NUMBER_OF_SERVICE_REQUESTS_PER_SECOND_EXCEEDS_ERROR",
    "초당 서비스 요청제한 횟수 초과 에러",
    429,
)
# Not in the doc's table: a 429 with a code the client cannot recognise (doc: "ambiguous").
UNKNOWN_LIMIT = GatewayError(
    "24",
    "LIMITED_NUMBER_OF_SERVICE_REQUESTS_UNKNOWN_ERROR",
    "LIMITED_NUMBER_OF_SERVICE_REQUESTS_UNKNOWN_ERROR",
    "서비스 요청제한 에러",
    429,
)
BLACKLIST_IP = GatewayError(
    "29", "BLACKLIST_IP_ACCESS_ERROR", "BLACKLIST_IP_ACCESS_ERROR", "차단된 IP 접근 에러", 403
)
NOT_REGISTERED = GatewayError(
    "30",
    "SERVICE_KEY_IS_NOT_REGISTERED_ERROR",
    "SERVICE_KEY_IS_NOT_REGISTERED_ERROR",
    "등록되지 않은 서비스키",
    403,
)
EXPIRED = GatewayError(
    "31", "DEADLINE_HAS_EXPIRED_ERROR", "DEADLINE_HAS_EXPIRED_ERROR", "기한만료된 서비스키", 403
)
UNREGISTERED_IP = GatewayError(
    "32", "UNREGISTERED_IP_ERROR", "UNREGISTERED_IP_ERROR", "등록되지 않은 IP", 403
)
UNKNOWN_ERROR = GatewayError("99", "UNKNOWN_ERROR", "UNKNOWN_ERROR", "기타에러", 500)


def _json(payload: object) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def _xml_fields(item: Item) -> str:
    return "".join(f"<{name}>{escape(str(value))}</{name}>" for name, value in item.items())


def success(items: Sequence[Item], page_no: int, total: int, *, as_json: bool) -> Reply:
    """Render a TourAPI success: `items` "" when empty, `numOfRows` = items returned."""
    if as_json:
        body = {
            "response": {
                "header": {"resultCode": "0000", "resultMsg": "OK"},
                "body": {
                    "items": {"item": list(items)} if items else "",
                    "numOfRows": len(items),
                    "pageNo": page_no,
                    "totalCount": total,
                },
            }
        }
        return Reply(200, _json(body), JSON_TYPE)
    rendered = "".join(f"<item>{_xml_fields(item)}</item>" for item in items)
    xml = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        "<response><header><resultCode>0000</resultCode><resultMsg>OK</resultMsg></header>"
        f"<body><items>{rendered}</items><numOfRows>{len(items)}</numOfRows>"
        f"<pageNo>{page_no}</pageNo><totalCount>{total}</totalCount></body></response>"
    )
    return Reply(200, xml.encode("utf-8"), XML_TYPE)


def provider_error(code: str, message: str, response_time: str, *, as_json: bool) -> Reply:
    """Render TourAPI's own request error: flat JSON with HTTP 200 (nested XML without JSON)."""
    if as_json:
        body = {"responseTime": response_time, "resultCode": code, "resultMsg": message}
        return Reply(200, _json(body), JSON_TYPE)
    xml = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f"<response><header><resultCode>{code}</resultCode>"
        f"<resultMsg>{escape(message)}</resultMsg></header></response>"
    )
    return Reply(200, xml.encode("utf-8"), XML_TYPE)


def missing_parameter(name: str, response_time: str, *, as_json: bool) -> Reply:
    """Render error 11 for a missing required parameter (note the literal 1 before the name)."""
    message = f"NO_MANDATORY_REQUEST_PARAMETERS_ERROR1({name})"
    return provider_error("11", message, response_time, as_json=as_json)


def invalid_parameter(name: str, response_time: str, *, as_json: bool) -> Reply:
    """Render error 10 for a wrong or retired parameter."""
    message = f"INVALID_REQUEST_PARAMETER_ERROR({name})"
    return provider_error("10", message, response_time, as_json=as_json)


def legacy_envelope(error: GatewayError) -> Reply:
    """Render the legacy gateway's XML envelope: HTTP 200 even when JSON was asked for."""
    xml = (
        "<OpenAPI_ServiceResponse>\n\t<cmmMsgHeader>\n"
        "\t\t<errMsg>SERVICE ERROR</errMsg>\n"
        f"\t\t<returnAuthMsg>{error.symbol}</returnAuthMsg>\n"
        f"\t\t<returnReasonCode>{error.code}</returnReasonCode>\n"
        "\t</cmmMsgHeader>\n</OpenAPI_ServiceResponse>"
    )
    return Reply(200, xml.encode("utf-8"), XML_TYPE)


def modern_envelope(error: GatewayError, *, as_json: bool) -> Reply:
    """Render the 2025+ gateway's envelope with its real status: JSON, or XML with a prolog."""
    if as_json:
        header = {
            "errMsg": error.modern_symbol,
            "returnAuthMsg": error.text,
            "returnReasonCode": error.code,
        }
        return Reply(
            error.status, _json({"OpenAPI_ServiceResponse": {"cmmMsgHeader": header}}), JSON_TYPE
        )
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<OpenAPI_ServiceResponse>\n\t<cmmMsgHeader>\n"
        f"\t\t<errMsg>{error.modern_symbol}</errMsg>\n"
        f"\t\t<returnAuthMsg>{error.text}</returnAuthMsg>\n"
        f"\t\t<returnReasonCode>{error.code}</returnReasonCode>\n"
        "\t</cmmMsgHeader>\n</OpenAPI_ServiceResponse>\n"
    )
    return Reply(error.status, xml.encode("utf-8"), XML_TYPE)


_STATUS_TITLES = {
    404: "404 Not Found",
    500: "500 Internal Server Error",
    502: "502 Bad Gateway",
    503: "503 Service Temporarily Unavailable",
}


def html_page(status: int) -> Reply:
    """Render a proxy's HTML error page, like http_502.html."""
    title = _STATUS_TITLES[status]
    html = (
        f"<html>\n<head><title>{title}</title></head>\n<body>\n"
        f"<center><h1>{title}</h1></center>\n</body>\n</html>\n"
    )
    return Reply(status, html.encode("utf-8"), HTML_TYPE)


def plain_text(status: int, text: str, headers: Mapping[str, str] | None = None) -> Reply:
    """Render a plain-text answer, e.g. a bare 403 "Forbidden" or the routing error line."""
    return Reply(status, text.encode("utf-8"), TEXT_TYPE, dict(headers or {}))


def empty(status: int, headers: Mapping[str, str] | None = None) -> Reply:
    """Render an answer with no body at all."""
    return Reply(status, b"", TEXT_TYPE if status != 200 else JSON_TYPE, dict(headers or {}))


def truncated(reply: Reply) -> Reply:
    """Cut a body in half, as a broken upstream connection would leave it."""
    return Reply(reply.status, reply.body[: len(reply.body) // 2], reply.content_type)
