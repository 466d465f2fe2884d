"""The gateway's result codes: symbol, meaning, and what each means for a key."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class OutcomeKind(StrEnum):
    """What an answer means for the run and for the key that made the call."""

    SUCCESS = "success"
    REQUEST_ERROR = "request_error"
    CONFIG_ERROR = "config_error"
    HOST_BLOCKED = "host_blocked"
    DAILY_LIMIT = "daily_limit"
    RATE_LIMIT = "rate_limit"
    KEY_UNUSABLE = "key_unusable"
    TRANSIENT = "transient"
    # `Unexpected errors`, `API not found` or HTTP 404: the base URL or the operation is wrong
    # (a configuration error when it is the first answer of a run; a passing fault after that).
    WRONG_URL = "wrong_url"
    # The request never left this machine (no DNS answer, connection refused): nobody to blame.
    UNSENT = "unsent"


@dataclass(frozen=True, slots=True)
class GatewayCode:
    """One row of the doc's code table."""

    code: str
    symbol: str
    meaning_ko: str
    meaning_en: str
    kind: OutcomeKind


_TABLE = (
    GatewayCode(
        "01", "APPLICATION_ERROR", "게이트웨이 오류", "gateway fault", OutcomeKind.TRANSIENT
    ),
    GatewayCode(
        "02", "DB_ERROR", "서비스 DB 오류", "service database fault", OutcomeKind.TRANSIENT
    ),
    GatewayCode("03", "NODATA_ERROR", "데이터 없음", "no data", OutcomeKind.SUCCESS),
    GatewayCode("04", "HTTP_ERROR", "라우팅 오류", "routing fault", OutcomeKind.TRANSIENT),
    GatewayCode(
        "05", "SERVICETIMEOUT_ERROR", "서비스 시간 초과", "service timed out", OutcomeKind.TRANSIENT
    ),
    GatewayCode(
        "10",
        "INVALID_REQUEST_PARAMETER_ERROR",
        "잘못된 요청 파라미터",
        "our request has a wrong parameter",
        OutcomeKind.REQUEST_ERROR,
    ),
    GatewayCode(
        "11",
        "NO_MANDATORY_REQUEST_PARAMETERS_ERROR",
        "필수 파라미터 누락",
        "a required parameter is missing",
        OutcomeKind.REQUEST_ERROR,
    ),
    GatewayCode(
        "12",
        "NO_OPENAPI_SERVICE_ERROR",
        "없거나 폐지된 서비스 (KTO_API_BASE_URL 확인)",
        "service or operation does not exist or is retired (check KTO_API_BASE_URL)",
        OutcomeKind.CONFIG_ERROR,
    ),
    GatewayCode(
        "20",
        "SERVICE_ACCESS_DENIED_ERROR",
        "이 서비스에 승인되지 않은 키",
        "key not approved for this service",
        OutcomeKind.KEY_UNUSABLE,
    ),
    GatewayCode(
        "21",
        "TEMPORARILY_DISABLE_THE_SERVICEKEY_ERROR",
        "일시적으로 사용 중지된 키",
        "key disabled for now",
        OutcomeKind.KEY_UNUSABLE,
    ),
    GatewayCode(
        "22",
        "LIMITED_NUMBER_OF_SERVICE_REQUESTS_EXCEEDS_ERROR",
        "이 오퍼레이션의 일일 한도 소진",
        "daily quota for this operation is spent",
        OutcomeKind.DAILY_LIMIT,
    ),
    GatewayCode(
        "23",
        "LIMITED_NUMBER_OF_SERVICE_REQUESTS_PER_SECOND_EXCEEDS_ERROR",
        "초당 요청 한도 초과",
        "too many calls per second",
        OutcomeKind.RATE_LIMIT,
    ),
    GatewayCode(
        "29",
        "BLACKLIST_IP_ACCESS_ERROR",
        "이 컴퓨터의 IP가 차단됨",
        "this machine's IP is blocked",
        OutcomeKind.HOST_BLOCKED,
    ),
    GatewayCode(
        "30",
        "SERVICE_KEY_IS_NOT_REGISTERED_ERROR",
        "등록되지 않은 키 (이중 인코딩 또는 아직 활성화 전일 수 있음)",
        "unknown key, key encoded twice, or a new key not yet activated",
        OutcomeKind.KEY_UNUSABLE,
    ),
    GatewayCode(
        "31",
        "DEADLINE_HAS_EXPIRED_ERROR",
        "키 사용 기간 만료",
        "the key's usage period has ended",
        OutcomeKind.KEY_UNUSABLE,
    ),
    GatewayCode(
        "32",
        "UNREGISTERED_IP_ERROR",
        "다른 IP로 제한된 키",
        "key is limited to other IPs",
        OutcomeKind.KEY_UNUSABLE,
    ),
    GatewayCode(
        "33",
        "UNSIGNED_CALL_ERROR",
        "서명되지 않은 호출",
        "unsigned call",
        OutcomeKind.REQUEST_ERROR,
    ),
    GatewayCode("99", "UNKNOWN_ERROR", "알 수 없는 오류", "unknown error", OutcomeKind.TRANSIENT),
)
CODES: dict[str, GatewayCode] = {row.code: row for row in _TABLE}
KEY_MISSING = GatewayCode(
    "20",
    "SERVICE_KEY_IS_NULL",
    "서비스키가 전송되지 않음 (도구 오류)",
    "no key was sent (a bug in the tool)",
    OutcomeKind.REQUEST_ERROR,
)
SUCCESS_CODES = frozenset({"0000", "00", "0"})


def normalized_code(code: str) -> str:
    """A code as the table writes it: a number by its value, in two digits (`4`, `004` and `04`
    are one code); a code that is not a number, as it came."""
    text = code.strip()
    if text.isascii() and text.isdigit():
        return f"{int(text):02d}"
    return text


def lookup(
    code: str, symbol: str = "", status: int | None = None, message: str = ""
) -> GatewayCode | None:
    """Find a code by its number. 20 has two meanings: an HTTP 401, or "NULL" in the answer's
    texts (its symbol or message, any case), means that no key was sent; any other 20 is a key
    not approved for the service."""
    normalized = normalized_code(code)
    if normalized == "20" and (status == 401 or "NULL" in f"{symbol} {message}".upper()):
        return KEY_MISSING
    return CODES.get(normalized)
