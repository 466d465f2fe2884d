"""Classify one HTTP answer of the gateway or TourAPI into an Outcome (pure: no I/O)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

from kto_keys.core.codes import SUCCESS_CODES, OutcomeKind, lookup, normalized_code
from kto_keys.core.jsontext import loads

_PARAMETER = re.compile(r"\(([^()]*)\)\s*$")
_SYMBOL = re.compile(r"^[A-Z][A-Z0-9_]+$")
Item = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Payload:
    """The useful part of a successful answer: its items and the paging figures."""

    items: tuple[Item, ...] = ()
    total_count: int | None = None
    page_no: int | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one answer means: its kind, the gateway code and the words that explain it."""

    kind: OutcomeKind
    code: str | None = None
    symbol: str = ""
    message: str = ""
    http_status: int | None = None
    retry_after: float | None = None
    parameter: str | None = None
    uncoded_auth: bool = False
    payload: Payload = field(default_factory=Payload)

    @property
    def is_success(self) -> bool:
        """True when the call did what was asked."""
        return self.kind is OutcomeKind.SUCCESS


def transport_fault(description: str) -> Outcome:
    """An answer that never arrived whole: reset, timed out, truncated, too large."""
    return Outcome(OutcomeKind.TRANSIENT, message=description)


def unsent(description: str) -> Outcome:
    """A request that never left this machine: the host has no address, or refused to connect."""
    return Outcome(OutcomeKind.UNSENT, message=description)


# The gateway's answers to a path it does not know (tourapi.md, section 3 F).
_WRONG_URL_TEXTS = ("UNEXPECTED ERRORS", "API NOT FOUND")


def classify(status: int, headers: Mapping[str, str], body: bytes) -> Outcome:
    """Read the body first, then the status, and say what the answer means."""
    retry_after = _retry_after(headers)
    if body[:1] in _JSON_STARTS:
        # The usual answer, parsed as the bytes it came in: decoding 600 KB to text only for
        # the parser to encode it back cost a third of the parse. A body that is not UTF-8 (or
        # not JSON) is read as text below, its bad bytes replaced, as any other body.
        try:
            document = loads(body)
        except ValueError:
            pass
        else:
            return _classify_document(status, document, retry_after)
    text = body.decode("utf-8", errors="replace").strip().lstrip("\ufeff")
    if not text:
        return _by_status(status, retry_after, "empty body")
    if text[0] in "{[":
        return _classify_json(status, text, retry_after)
    if text[0] == "<":
        return _classify_xml(status, text, retry_after)
    return _classify_text(status, text, retry_after)


_JSON_STARTS = (b"{", b"[")


def _classify_json(status: int, text: str, retry_after: float | None) -> Outcome:
    try:
        document = loads(text)
    except ValueError:
        return _by_status(status, retry_after, "truncated or invalid JSON body")
    return _classify_document(status, document, retry_after)


def _classify_document(status: int, document: Any, retry_after: float | None) -> Outcome:
    if not isinstance(document, dict):
        return _by_status(status, retry_after, "unexpected JSON body")
    envelope = document.get("OpenAPI_ServiceResponse")
    if isinstance(envelope, dict):
        header = envelope.get("cmmMsgHeader") or {}
        return _from_envelope(status, retry_after, _strings(header))
    response = document.get("response")
    if isinstance(response, dict):
        header = response.get("header") or {}
        code = str(header.get("resultCode", "")).strip()
        message = str(header.get("resultMsg", ""))
        if code in SUCCESS_CODES:
            return Outcome(
                OutcomeKind.SUCCESS,
                code,
                http_status=status,
                payload=_payload(response.get("body")),
            )
        return _from_code(status, retry_after, code, message, message)
    if "resultCode" in document:
        code = str(document.get("resultCode", "")).strip()
        message = str(document.get("resultMsg", ""))
        if code in SUCCESS_CODES:
            return Outcome(OutcomeKind.SUCCESS, code, http_status=status)
        return _from_code(status, retry_after, code, message, message)
    return _by_status(status, retry_after, "JSON body of an unknown shape")


def _classify_xml(status: int, text: str, retry_after: float | None) -> Outcome:
    lowered = text[:400].lower()
    if "<html" in lowered or "<!doctype" in lowered:
        return _by_status(status, retry_after, _html_title(text))
    try:
        root = ET.fromstring(text.encode())
    except ET.ParseError:
        return _by_status(status, retry_after, "truncated or invalid XML body")
    if root.tag == "OpenAPI_ServiceResponse":
        header = root.find("cmmMsgHeader")
        fields = (
            {child.tag: (child.text or "").strip() for child in header}
            if header is not None
            else {}
        )
        return _from_envelope(status, retry_after, fields)
    if root.tag == "response":
        code = (root.findtext("header/resultCode") or "").strip()
        message = (root.findtext("header/resultMsg") or "").strip()
        if code in SUCCESS_CODES:
            return Outcome(
                OutcomeKind.SUCCESS,
                code,
                http_status=status,
                payload=_xml_payload(root.find("body")),
            )
        return _from_code(status, retry_after, code, message, message)
    return _by_status(status, retry_after, f"XML body of an unknown shape <{root.tag}>")


# The client masks keys in a message and then cuts it (edges/client.py MESSAGE_LIMIT): cut here
# only to bound the work, well past what is shown.
_TEXT_LIMIT = 4096


def _classify_text(status: int, text: str, retry_after: float | None) -> Outcome:
    upper = text.upper()
    if upper.startswith(_WRONG_URL_TEXTS):
        return Outcome(OutcomeKind.WRONG_URL, http_status=status, message=text[:_TEXT_LIMIT])
    if "ROUTING ERROR" in upper:
        return _from_code(status, retry_after, "04", "HTTP_ERROR", text[:_TEXT_LIMIT])
    if "TOO MANY REQUESTS" in upper:
        return Outcome(
            OutcomeKind.RATE_LIMIT,
            http_status=status,
            retry_after=retry_after,
            message=text[:_TEXT_LIMIT],
        )
    if status == 200 and upper.startswith(("UNAUTHORIZED", "FORBIDDEN")):
        return _by_status(403, retry_after, text[:_TEXT_LIMIT])
    return _by_status(status, retry_after, text[:_TEXT_LIMIT])


def _from_envelope(status: int, retry_after: float | None, fields: Mapping[str, str]) -> Outcome:
    code = fields.get("returnReasonCode", "").strip()
    err, auth = fields.get("errMsg", ""), fields.get("returnAuthMsg", "")
    symbol = err if _SYMBOL.match(err) and err != "SERVICE_ERROR" else auth
    if not _SYMBOL.match(symbol):
        symbol = ""
    message = " / ".join(part for part in (err, auth) if part)
    if not code:
        return _by_status(status, retry_after, message or "gateway envelope without a code")
    return _from_code(status, retry_after, code, symbol, message)


def _from_code(
    status: int, retry_after: float | None, code: str, symbol: str, message: str
) -> Outcome:
    row = lookup(code, symbol, status, message)
    code = normalized_code(code)
    if row is None:
        if code == "00":
            return Outcome(OutcomeKind.SUCCESS, code, http_status=status)
        # A 429 without a recognised code: per second or daily, as ambiguous as a bare 429 (the
        # pool tells them apart over time); its code stays, for people to read.
        kind = OutcomeKind.RATE_LIMIT if status == 429 else OutcomeKind.TRANSIENT
        return Outcome(
            kind,
            code,
            _symbol_of(symbol),
            message,
            http_status=status,
            retry_after=retry_after,
        )
    if row.code == "03":
        return Outcome(OutcomeKind.SUCCESS, row.code, row.symbol, message, http_status=status)
    parameter = _parameter_of(message)
    return Outcome(
        row.kind,
        row.code,
        row.symbol,
        message,
        http_status=status,
        retry_after=retry_after,
        parameter=parameter,
    )


def _by_status(status: int, retry_after: float | None, message: str) -> Outcome:
    """An answer without a code: the HTTP status decides."""
    if status == 429:
        return Outcome(
            OutcomeKind.RATE_LIMIT,
            http_status=status,
            retry_after=retry_after,
            message=message or "HTTP 429",
        )
    if status == 404:
        return Outcome(
            OutcomeKind.WRONG_URL,
            http_status=status,
            message=f"HTTP 404: {message}" if message else "HTTP 404",
        )
    uncoded = status in (401, 403)
    return Outcome(
        OutcomeKind.TRANSIENT,
        http_status=status,
        retry_after=retry_after,
        message=f"HTTP {status}: {message}" if message else f"HTTP {status}",
        uncoded_auth=uncoded,
    )


def _payload(body: Any) -> Payload:
    if not isinstance(body, dict):
        return Payload()
    items = body.get("items")
    found: list[Item] = []
    if isinstance(items, dict):
        item = items.get("item")
        if isinstance(item, list):
            found = [entry for entry in item if isinstance(entry, dict)]
        elif isinstance(item, dict):
            found = [item]
    return Payload(
        tuple(found), _int_or_none(body.get("totalCount")), _int_or_none(body.get("pageNo"))
    )


def _xml_payload(body: ET.Element | None) -> Payload:
    if body is None:
        return Payload()
    items = [
        {child.tag: child.text or "" for child in item} for item in body.iterfind("items/item")
    ]
    return Payload(
        tuple(items),
        _int_or_none(body.findtext("totalCount")),
        _int_or_none(body.findtext("pageNo")),
    )


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _strings(mapping: Any) -> dict[str, str]:
    if not isinstance(mapping, dict):
        return {}
    return {str(name): str(value) for name, value in mapping.items()}


def _symbol_of(text: str) -> str:
    return text if _SYMBOL.match(text) else ""


def _parameter_of(message: str) -> str | None:
    match = _PARAMETER.search(message)
    return match.group(1) or None if match else None


def _html_title(text: str) -> str:
    match = re.search(r"<title>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
    return match.group(1).strip() if match else "HTML page"


# No honest Retry-After asks for more than a day; `1e20` or `inf` would overflow a datetime.
MAX_RETRY_AFTER_S = 86_400.0


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After") or headers.get("retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return min(MAX_RETRY_AFTER_S, max(0.0, seconds)) if seconds == seconds else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    date_header = headers.get("Date")
    if date_header:
        try:
            seconds = (when - parsedate_to_datetime(date_header)).total_seconds()
            return min(MAX_RETRY_AFTER_S, max(0.0, seconds))
        except (TypeError, ValueError):
            return None
    return None
