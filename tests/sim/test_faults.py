"""The gateway's wrong-URL answers, per-second locks and gateway-wide faults, over real HTTP."""

from __future__ import annotations

import asyncio
import json
import tracemalloc
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator

import aiohttp
import pytest
from conftest import hex_key
from gateway_calls import FROZEN, Got, get, one_key, own_session, params

from kto_keys.sim import (
    ALL_FAULTS,
    BehaviourKind,
    ErrorRate,
    Fault,
    GatewayConfig,
    GatewayConfigError,
    GatewayServer,
    Generation,
    KeyBehaviour,
    OptInFault,
    UnknownOperation,
    WrongUrl,
)
from kto_keys.sim.streams import CHUNK_BYTES, padded_chunks


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A client with its own User-Agent and no connection reuse (so aiohttp never re-sends)."""
    async with own_session() as client:
        yield client


# -- wrong URLs (doc 3 F) --------------------------------------------------------------------------

UNKNOWN_SERVICE_PATHS = [
    pytest.param("/B551011/KorService9/areaBasedList2", id="other-service-under-B551011"),
    pytest.param("/wrong/areaBasedList2", id="other-prefix"),
    pytest.param("/areaBasedList2", id="operation-at-the-root"),
    pytest.param("/B551011", id="bare-prefix"),
]


@pytest.mark.parametrize("generation", [Generation.LEGACY, Generation.MODERN])
@pytest.mark.parametrize("path", UNKNOWN_SERVICE_PATHS)
async def test_unknown_service_path_answers_500_unexpected_errors_before_the_key_check(
    session: aiohttp.ClientSession, path: str, generation: Generation
) -> None:
    """A path outside /B551011/KorService2 is HTTP 500 `Unexpected errors`; no quota is spent."""
    key, keys = one_key()
    async with GatewayServer(GatewayConfig(keys=keys, generation=generation)) as gw:
        got = await get(session, gw.root_url + path, params(key))
        assert (got.status, got.text) == (500, "Unexpected errors")
        assert got.headers["Content-Type"].startswith("text/plain")
        assert gw.counts() == {"dev1": {path: 1}}
        assert [call.outcome for call in gw.history()] == ["unknown_service"]
        assert gw.usage() == {}


async def test_unknown_operation_answers_404_api_not_found_when_configured(
    session: aiohttp.ClientSession,
) -> None:
    """unknown_operation=api_not_found: HTTP 404 `API not found`, counted under that operation."""
    key, keys = one_key()
    config = GatewayConfig(keys=keys, unknown_operation=UnknownOperation.API_NOT_FOUND)
    async with GatewayServer(config) as gw:
        missing = await get(session, gw.base_url + "/areaBasedList1", params(key))
        empty = await get(session, gw.base_url + "/", params(key))
        known = await get(session, gw.base_url + "/areaBasedList2", params(key))
        assert (missing.status, missing.text) == (404, "API not found")
        assert (empty.status, empty.text) == (404, "API not found")
        assert known.status == 200
        assert gw.counts() == {"dev1": {"areaBasedList1": 1, "": 1, "areaBasedList2": 1}}
        outcomes = [call.outcome for call in gw.history()]
        assert outcomes == ["unknown_operation", "unknown_operation", "ok"]
        assert gw.usage() == {"dev1": {"areaBasedList2": 1}}


async def test_retired_kor_service1_keeps_code_12_with_api_not_found_on(
    session: aiohttp.ClientSession,
) -> None:
    """KorService1 is retired, not unknown: still HTTP 400 with code 12 whatever the option says."""
    key, keys = one_key()
    config = GatewayConfig(keys=keys, unknown_operation=UnknownOperation.API_NOT_FOUND)
    async with GatewayServer(config) as gw:
        got = await get(session, gw.root_url + "/B551011/KorService1/areaBasedList1", params(key))
        header = got.json()["OpenAPI_ServiceResponse"]["cmmMsgHeader"]
        assert got.status == 400
        assert (header["returnReasonCode"], header["errMsg"]) == ("12", "NO_OPENAPI_SERVICE_ERROR")
        assert gw.counts() == {"dev1": {"areaBasedList1": 1}}


# -- the per-second limit and its lock (doc "Limits per second") -----------------------------------


def reason_code(got: Got) -> str | None:
    """The gateway code of an envelope in either generation (JSON or XML)."""
    if got.text.startswith("{"):
        code: str = got.json()["OpenAPI_ServiceResponse"]["cmmMsgHeader"]["returnReasonCode"]
        return code
    return ET.fromstring(got.text).findtext("cmmMsgHeader/returnReasonCode")


async def through_a_lock(session: aiohttp.ClientSession, gw: GatewayServer, key: str) -> list[Got]:
    """Six list calls of one key past a limit of 2 a second: three at once (the third trips the
    60 s lock), then one 1 s and one 59 s later (still locked), and one at 60 s (free again)."""
    url = gw.base_url + "/areaBasedList2"
    answers = [await get(session, url, params(key)) for _ in range(3)]
    for seconds in (1, 58, 1):
        gw.advance(seconds)
        answers.append(await get(session, url, params(key)))
    return answers


@pytest.mark.parametrize(
    ("generation", "refused_status"), [(Generation.LEGACY, 200), (Generation.MODERN, 429)]
)
async def test_past_the_per_second_limit_a_key_answers_23_until_its_lock_ends(
    session: aiohttp.ClientSession, generation: Generation, refused_status: int
) -> None:
    """The third call in a second answers 23 and locks the key for 60 s; every call then is 23."""
    key, keys = one_key()
    config = GatewayConfig(keys=keys, generation=generation, per_second_limit=2)
    async with GatewayServer(config, clock=lambda: FROZEN) as gw:
        answers = await through_a_lock(session, gw, key)
        assert [a.status for a in answers] == [200, 200, *[refused_status] * 3, 200]
        assert [reason_code(a) for a in answers[2:5]] == ["23", "23", "23"]
        assert gw.per_second_refusals() == {"dev1": 3} and gw.locks() == {"dev1": 1}
        assert [call.outcome for call in gw.history()] == ["ok", "ok", "23", "23", "23", "ok"]
        assert gw.usage() == {"dev1": {"areaBasedList2": 6}}
        events = await get(session, gw.root_url + "/_admin/events", {})
        assert events.json() == {
            "per_second_refusals": {"dev1": 3},
            "locks": {"dev1": 1},
            "gateway_faults": {},
        }


async def test_locked_calls_of_any_operation_count_against_its_daily_quota(
    session: aiohttp.ClientSession,
) -> None:
    """During the lock every operation answers 23 and spends quota; after it the quota is gone."""
    key, keys = one_key(daily_limit=3)
    config = GatewayConfig(keys=keys, per_second_limit=1, per_second_lock_s=30)
    async with GatewayServer(config, clock=lambda: FROZEN) as gw:
        url = gw.base_url + "/areaBasedList2"
        first = [(await get(session, url, params(key))).status for _ in range(2)]
        gw.advance(10)
        locked_list = await get(session, url, params(key))
        locked_codes = await get(session, gw.base_url + "/ldongCode2", params(key))
        locked_again = await get(session, url, params(key))
        gw.advance(20)
        spent = await get(session, url, params(key))
        assert first == [200, 429]
        assert [reason_code(a) for a in (locked_list, locked_codes, locked_again)] == ["23"] * 3
        assert (spent.status, reason_code(spent)) == (429, "22")
        assert gw.usage() == {"dev1": {"areaBasedList2": 5, "ldongCode2": 1}}
        assert gw.per_second_refusals() == {"dev1": 4} and gw.locks() == {"dev1": 1}


async def test_a_lock_refuses_only_the_key_that_passed_the_limit(
    session: aiohttp.ClientSession,
) -> None:
    """While one key is locked, another key with its own count works in the same second."""
    fast, slow = hex_key(), hex_key()
    keys = {fast: KeyBehaviour("fast"), slow: KeyBehaviour("slow")}
    async with GatewayServer(
        GatewayConfig(keys=keys, per_second_limit=2), clock=lambda: FROZEN
    ) as gw:
        url = gw.base_url + "/areaBasedList2"
        fast_statuses = [(await get(session, url, params(fast))).status for _ in range(4)]
        slow_statuses = [(await get(session, url, params(slow))).status for _ in range(2)]
        assert fast_statuses == [200, 200, 429, 429]
        assert slow_statuses == [200, 200]
        assert gw.locks() == {"fast": 1}
        assert gw.counts() == {"fast": {"areaBasedList2": 4}, "slow": {"areaBasedList2": 2}}


async def test_without_a_per_second_limit_a_frozen_second_takes_any_number_of_calls(
    session: aiohttp.ClientSession,
) -> None:
    """per_second_limit is off by default: 15 calls in one second all succeed, no 23, no lock."""
    key, keys = one_key()
    async with GatewayServer(GatewayConfig(keys=keys), clock=lambda: FROZEN) as gw:
        url = gw.base_url + "/areaBasedList2"
        statuses = {(await get(session, url, params(key))).status for _ in range(15)}
        assert statuses == {200}
        assert gw.events() == {"per_second_refusals": {}, "locks": {}, "gateway_faults": {}}
        assert gw.total() == 15


async def test_per_second_key_kind_counts_its_23_answers_but_never_locks(
    session: aiohttp.ClientSession,
) -> None:
    """The older per_second key kind answers 23 past its rate without a lock; each 23 is counted."""
    key, keys = one_key("burst", kind=BehaviourKind.PER_SECOND, max_per_second=1)
    async with GatewayServer(GatewayConfig(keys=keys), clock=lambda: FROZEN) as gw:
        url = gw.base_url + "/areaBasedList2"
        statuses = [(await get(session, url, params(key))).status for _ in range(3)]
        gw.advance(1)
        statuses.append((await get(session, url, params(key))).status)
        assert statuses == [200, 429, 429, 200]
        assert gw.per_second_refusals() == {"burst": 2} and gw.locks() == {}


async def test_reset_counts_forgets_the_23_counts_but_not_a_lock_under_way(
    session: aiohttp.ClientSession,
) -> None:
    """reset_counts clears the event counters; the locked key stays locked until its time."""
    key, keys = one_key()
    config = GatewayConfig(keys=keys, per_second_limit=1)
    async with GatewayServer(config, clock=lambda: FROZEN) as gw:
        url = gw.base_url + "/areaBasedList2"
        for _ in range(2):
            await get(session, url, params(key))
        gw.reset_counts()
        still_locked = await get(session, url, params(key))
        assert reason_code(still_locked) == "23"
        assert gw.per_second_refusals() == {"dev1": 1} and gw.locks() == {}


@pytest.mark.parametrize("generation", [Generation.LEGACY, Generation.MODERN])
async def test_a_per_second_lock_can_answer_bare_429s_instead_of_23(
    session: aiohttp.ClientSession, generation: Generation
) -> None:
    """bare_per_second_429: the refusal and the whole 60 s lock are HTTP 429 with an empty body."""
    key, keys = one_key()
    config = GatewayConfig(
        keys=keys, generation=generation, per_second_limit=2, bare_per_second_429=True
    )
    async with GatewayServer(config, clock=lambda: FROZEN) as gw:
        answers = await through_a_lock(session, gw, key)
        assert [(a.status, a.text == "") for a in answers[2:5]] == [(429, True)] * 3
        assert [a.status for a in (*answers[:2], answers[5])] == [200, 200, 200]
        assert [call.outcome for call in gw.history()] == ["ok", "ok", *["23_bare"] * 3, "ok"]
        assert gw.per_second_refusals() == {"dev1": 3} and gw.locks() == {"dev1": 1}
        assert gw.usage() == {"dev1": {"areaBasedList2": 6}}


# -- a spent daily quota with no body (doc: the 2025+ body is unknown) ------------------------------


@pytest.mark.parametrize("generation", [Generation.LEGACY, Generation.MODERN])
async def test_spent_daily_quota_answers_a_bare_429_when_configured(
    session: aiohttp.ClientSession, generation: Generation
) -> None:
    """bare_daily_429: past daily_limit, HTTP 429 with an empty body in either generation."""
    key, keys = one_key(daily_limit=1)
    config = GatewayConfig(keys=keys, generation=generation, bare_daily_429=True)
    async with GatewayServer(config) as gw:
        url = gw.base_url + "/areaBasedList2"
        answers = [await get(session, url, params(key)) for _ in range(3)]
        assert [(a.status, a.text == "") for a in answers] == [
            (200, False),
            (429, True),
            (429, True),
        ]
        assert "Retry-After" not in answers[1].headers
        assert [call.outcome for call in gw.history()] == ["ok", "22_bare", "22_bare"]
        assert gw.usage() == {"dev1": {"areaBasedList2": 3}}
        assert gw.per_second_refusals() == {}


async def test_a_key_can_answer_its_spent_quota_bare_or_coded_against_the_gateway_default(
    session: aiohttp.ClientSession,
) -> None:
    """KeyBehaviour.bare_daily_429 wins over the gateway's: True is bare, False is code 22."""
    bare, coded = hex_key(), hex_key()
    for gateway_default in (False, True):
        keys = {
            bare: KeyBehaviour("bare", daily_limit=0, bare_daily_429=True),
            coded: KeyBehaviour("coded", daily_limit=0, bare_daily_429=False),
        }
        config = GatewayConfig(keys=keys, bare_daily_429=gateway_default)
        async with GatewayServer(config) as gw:
            url = gw.base_url + "/areaBasedList2"
            bare_answer = await get(session, url, params(bare))
            coded_answer = await get(session, url, params(coded))
            assert (bare_answer.status, bare_answer.text) == (429, "")
            assert (coded_answer.status, reason_code(coded_answer)) == (429, "22")
            assert gw.counts() == {"bare": {"areaBasedList2": 1}, "coded": {"areaBasedList2": 1}}


# -- faults of the gateway itself, whatever the key (error_rate) ----------------------------------


async def failed_calls(
    session: aiohttp.ClientSession, config: GatewayConfig, keys: list[str]
) -> list[int]:
    """Make 60 list calls, cycling the keys, and return the 0-based indices that did not succeed."""
    async with GatewayServer(config) as gw:
        url = gw.base_url + "/areaBasedList2"
        answers = [await get(session, url, params(keys[n % len(keys)])) for n in range(60)]
        failed = [n for n, got in enumerate(answers) if got.status != 200]
        assert sum(gw.gateway_faults().values()) == len(failed)
        return failed


async def test_error_rate_share_fails_the_same_calls_of_any_key_for_the_same_seed(
    session: aiohttp.ClientSession,
) -> None:
    """share 0.25 with seed 7 fails about a quarter of all calls, the same ones in every run."""
    first, second = hex_key(), hex_key()
    keys = {first: KeyBehaviour("first"), second: KeyBehaviour("second")}

    def config(seed: int) -> GatewayConfig:
        return GatewayConfig(keys=keys, error_rate=ErrorRate(share=0.25, seed=seed))

    failed = await failed_calls(session, config(7), [first, second])
    again = await failed_calls(session, config(7), [first, second])
    other_seed = await failed_calls(session, config(8), [first, second])
    assert failed == again != other_seed
    assert 8 <= len(failed) <= 22
    assert {n % 2 for n in failed} == {0, 1}


async def test_error_rate_cycles_503_502_and_code_04_before_the_key_check(
    session: aiohttp.ClientSession,
) -> None:
    """The default faults, in turn: a 503 page, a 502 page, code 04; no quota spent on them."""
    key, keys = one_key()
    config = GatewayConfig(keys=keys, error_rate=ErrorRate(share=1.0))
    async with GatewayServer(config) as gw:
        url = gw.base_url + "/areaBasedList2"
        answers = [await get(session, url, params(key)) for _ in range(4)]
        assert [a.status for a in answers] == [503, 502, 502, 503]
        assert "503 Service Temporarily Unavailable" in answers[0].text
        assert "<title>502 Bad Gateway</title>" in answers[1].text
        assert reason_code(answers[2]) == "04"
        assert gw.gateway_faults() == {"http_503": 2, "http_502": 1, "code_04": 1}
        assert [c.outcome for c in gw.history()] == ["http_503", "http_502", "code_04", "http_503"]
        assert gw.counts() == {"dev1": {"areaBasedList2": 4}}
        assert gw.usage() == {}


async def test_error_rate_every_third_call_fails_whatever_the_key(
    session: aiohttp.ClientSession,
) -> None:
    """every=3: the 3rd, 6th and 9th calls fail, be they a good key, an unknown key or no key."""
    key, keys = one_key()
    rate = ErrorRate(every=3, faults=(Fault.CODE_04,))
    config = GatewayConfig(keys=keys, generation=Generation.LEGACY, error_rate=rate)
    async with GatewayServer(config) as gw:
        url = gw.base_url + "/areaBasedList2"
        callers = [key, key, hex_key(), key, None, None, key, key, key]
        answers = [await get(session, url, params(caller)) for caller in callers]
        codes = [reason_code(a) if a.text.startswith("<") else "ok" for a in answers]
        assert codes == ["ok", "ok", "04", "ok", "20", "04", "ok", "ok", "04"]
        assert all(a.status == 200 for a in answers)
        assert gw.gateway_faults() == {"code_04": 3}
        assert gw.counts() == {
            "dev1": {"areaBasedList2": 6},
            "unknown": {"areaBasedList2": 1},
            "missing": {"areaBasedList2": 2},
        }
        assert gw.usage() == {"dev1": {"areaBasedList2": 5}}


@pytest.mark.parametrize(
    ("retry_after_s", "header"),
    [pytest.param(7, "7", id="with"), pytest.param(None, None, id="without")],
)
async def test_error_rate_can_answer_a_bare_429_to_every_call(
    session: aiohttp.ClientSession, retry_after_s: int | None, header: str | None
) -> None:
    """every=1 with bare_429: each call is HTTP 429 with no body, Retry-After only if configured."""
    key, keys = one_key()
    rate = ErrorRate(every=1, faults=(Fault.BARE_429,), retry_after_s=retry_after_s)
    async with GatewayServer(GatewayConfig(keys=keys, error_rate=rate)) as gw:
        answers = [await get(session, gw.base_url + "/ldongCode2", params(key)) for _ in range(3)]
        assert {(a.status, a.text, a.headers.get("Retry-After")) for a in answers} == {
            (429, "", header)
        }
        assert gw.gateway_faults() == {"bare_429": 3} and gw.usage() == {}


async def test_a_truncating_gateway_fault_lets_the_call_through_and_cuts_its_answer(
    session: aiohttp.ClientSession,
) -> None:
    """A truncated answer went through the key check: it spends quota, and half a body arrives."""
    key, keys = one_key()
    rate = ErrorRate(every=2, faults=(Fault.TRUNCATED,))
    async with GatewayServer(GatewayConfig(keys=keys, error_rate=rate)) as gw:
        url = gw.base_url + "/areaBasedList2"
        whole = await get(session, url, params(key, numOfRows=5))
        cut = await get(session, url, params(key, numOfRows=5))
        assert cut.status == 200 and 0 < len(cut.text) < len(whole.text)
        assert whole.text.startswith(cut.text)
        assert gw.usage() == {"dev1": {"areaBasedList2": 2}}
        assert gw.gateway_faults() == {"truncated": 1}
        assert [c.outcome for c in gw.history()] == ["ok", "truncated"]


# -- answers only a config asks for: a proxy's 404, a 429 with no code --------------------------------


async def test_a_proxy_404_can_answer_every_call_whatever_the_path(
    session: aiohttp.ClientSession,
) -> None:
    """ErrorRate.always(http_404), a wrong base path at a proxy: every call is a 404 page."""
    key, keys = one_key()
    config = GatewayConfig(keys=keys, error_rate=ErrorRate.always(OptInFault.HTTP_404))
    async with GatewayServer(config) as gw:
        right = await get(session, gw.base_url + "/areaBasedList2", params(key))
        wrong = await get(session, gw.root_url + "/wrong/areaBasedList2", params(key))
        for got in (right, wrong):
            assert got.status == 404 and "<title>404 Not Found</title>" in got.text
        assert gw.gateway_faults() == {"http_404": 2}
        assert gw.counts() == {"dev1": {"areaBasedList2": 1, "/wrong/areaBasedList2": 1}}
        assert gw.usage() == {}
        assert (await get(session, gw.root_url + "/_admin/events", {})).status == 200


@pytest.mark.parametrize(
    ("retry_after_s", "header"),
    [pytest.param(30, "30", id="with"), pytest.param(None, None, id="without")],
)
async def test_a_429_without_a_code_can_answer_every_call_of_any_key(
    session: aiohttp.ClientSession, retry_after_s: int | None, header: str | None
) -> None:
    """ErrorRate.always(text_429): "Too Many Requests" as plain text, Retry-After if configured."""
    key, keys = one_key()
    rate = ErrorRate.always(OptInFault.TEXT_429, retry_after_s=retry_after_s)
    async with GatewayServer(GatewayConfig(keys=keys, error_rate=rate)) as gw:
        url = gw.base_url + "/areaBasedList2"
        answers = [await get(session, url, params(any_key)) for any_key in (key, hex_key(), key)]
        for got in answers:
            assert (got.status, got.text) == (429, "Too Many Requests")
            assert got.headers.get("Retry-After") == header
            assert got.headers["Content-Type"].startswith("text/plain")
        assert gw.gateway_faults() == {"text_429": 3}
        assert gw.counts() == {"dev1": {"areaBasedList2": 2}, "unknown": {"areaBasedList2": 1}}


async def test_one_key_can_answer_a_429_without_a_code_to_every_call(
    session: aiohttp.ClientSession,
) -> None:
    """A flaky key with failure_share 1 and text_429: each of its calls, quota spent; others work."""
    limited, fine = hex_key(), hex_key()
    keys = {
        limited: KeyBehaviour(
            "limited",
            kind=BehaviourKind.FLAKY,
            failure_share=1.0,
            faults=(OptInFault.TEXT_429,),
            retry_after_s=5,
        ),
        fine: KeyBehaviour("fine"),
    }
    async with GatewayServer(GatewayConfig(keys=keys)) as gw:
        url = gw.base_url + "/areaBasedList2"
        refused = [await get(session, url, params(limited)) for _ in range(3)]
        served = await get(session, url, params(fine))
        assert {(a.status, a.text, a.headers["Retry-After"]) for a in refused} == {
            (429, "Too Many Requests", "5")
        }
        assert served.status == 200
        assert gw.usage() == {"limited": {"areaBasedList2": 3}, "fine": {"areaBasedList2": 1}}
        assert [c.outcome for c in gw.history()] == ["text_429"] * 3 + ["ok"]
        assert gw.gateway_faults() == {}


@pytest.mark.parametrize(
    ("as_json"), [pytest.param(True, id="json"), pytest.param(False, id="xml")]
)
async def test_one_key_can_answer_a_429_with_a_code_the_table_does_not_know(
    session: aiohttp.ClientSession, as_json: bool
) -> None:
    """unknown_code_429: HTTP 429 with the 2025+ envelope and code 24, in either generation."""
    key, keys = one_key(
        kind=BehaviourKind.FLAKY,
        failure_share=1.0,
        faults=(OptInFault.UNKNOWN_CODE_429,),
        retry_after_s=3,
    )
    config = GatewayConfig(keys=keys, generation=Generation.LEGACY)
    async with GatewayServer(config) as gw:
        query = params(key) if as_json else {**params(key), "_type": ""}
        got = await get(session, gw.base_url + "/areaBasedList2", query)
        assert (got.status, reason_code(got), got.headers["Retry-After"]) == (429, "24", "3")
        assert [c.outcome for c in gw.history()] == ["unknown_code_429"]
        assert gw.usage() == {"dev1": {"areaBasedList2": 1}}


@pytest.mark.parametrize(
    ("fault", "status", "text"),
    [
        pytest.param(OptInFault.BARE_401, 401, "", id="bare-401"),
        pytest.param(OptInFault.BARE_403, 403, "", id="bare-403"),
        pytest.param(OptInFault.TEXT_401, 401, "Unauthorized", id="unauthorized-text"),
        pytest.param(OptInFault.TEXT_403, 403, "Forbidden", id="forbidden-text"),
    ],
)
async def test_one_key_can_be_refused_with_a_401_or_403_without_a_code(
    session: aiohttp.ClientSession, fault: OptInFault, status: int, text: str
) -> None:
    """A flaky key with failure_share 1 and a bare refusal: each of its calls; others work."""
    refused, fine = hex_key(), hex_key()
    keys = {
        refused: KeyBehaviour(
            "refused", kind=BehaviourKind.FLAKY, failure_share=1.0, faults=(fault,)
        ),
        fine: KeyBehaviour("fine"),
    }
    async with GatewayServer(GatewayConfig(keys=keys)) as gw:
        url = gw.base_url + "/areaBasedList2"
        answers = [await get(session, url, params(refused)) for _ in range(2)]
        served = await get(session, url, params(fine))
        assert {(a.status, a.text) for a in answers} == {(status, text)}
        assert served.status == 200
        assert [c.outcome for c in gw.history()] == [fault.value] * 2 + ["ok"]


@pytest.mark.parametrize(
    ("answer", "status", "text", "outcome"),
    [
        pytest.param(
            WrongUrl.UNEXPECTED_ERRORS,
            500,
            "Unexpected errors",
            "unknown_service",
            id="unexpected-errors",
        ),
        pytest.param(
            WrongUrl.API_NOT_FOUND, 404, "API not found", "unknown_operation", id="api-not-found"
        ),
        pytest.param(WrongUrl.HTTP_404, 404, "404 Not Found", "http_404", id="http-404"),
    ],
)
async def test_wrong_url_answers_can_start_after_n_successful_calls(
    session: aiohttp.ClientSession, answer: WrongUrl, status: int, text: str, outcome: str
) -> None:
    """wrong_url_after=2: two calls succeed, then every call gets the wrong-URL answer, before the
    key check (no quota spent), whatever the key."""
    key, keys = one_key()
    config = GatewayConfig(keys=keys, wrong_url_after=2, wrong_url_answer=answer)
    async with GatewayServer(config) as gw:
        url = gw.base_url + "/areaBasedList2"
        answers = [await get(session, url, params(k)) for k in (key, key, key, hex_key())]
        assert [a.status for a in answers] == [200, 200, status, status]
        assert all(text in a.text for a in answers[2:])
        assert [c.outcome for c in gw.history()] == ["ok", "ok", outcome, outcome]
        assert gw.usage() == {"dev1": {"areaBasedList2": 2}}


async def test_wrong_url_answers_can_hit_only_some_operations(
    session: aiohttp.ClientSession,
) -> None:
    """wrong_url_operations=[detailIntro2] after 1 success: the list works on, the detail fails
    once anything succeeded (and from the start with wrong_url_after left out)."""
    key, keys = one_key()
    for after, first_detail in ((1, 200), (None, 500)):
        config = GatewayConfig(
            keys=keys, wrong_url_after=after, wrong_url_operations=("detailIntro2",)
        )
        async with GatewayServer(config) as gw:
            detail = params(key, contentId="2000001", contentTypeId="39")
            statuses = [(await get(session, gw.base_url + "/detailIntro2", detail)).status]
            statuses += [(await get(session, gw.base_url + "/areaBasedList2", params(key))).status]
            statuses += [(await get(session, gw.base_url + "/detailIntro2", detail)).status]
            assert statuses == [first_detail, 200, 500]


def test_opt_in_faults_stay_out_of_fault_and_of_a_flaky_keys_defaults() -> None:
    """The demo and benchmarks iterate Fault: an opt-in fault never reaches them unasked."""
    assert {f.value for f in OptInFault}.isdisjoint(f.value for f in Fault)
    assert ALL_FAULTS == tuple(Fault) == KeyBehaviour("k").faults
    assert not any(isinstance(f, OptInFault) for f in ErrorRate().faults)


# -- bodies delivered badly: drip-fed and huge ------------------------------------------------------


def dripping_key(label: str = "drip") -> tuple[str, dict[str, KeyBehaviour]]:
    """A key whose every second call drip-feeds its answer."""
    return one_key(label, kind=BehaviourKind.FLAKY, failure_share=0.5, faults=(OptInFault.DRIP,))


async def test_a_drip_fed_answer_arrives_whole_with_its_length_declared(
    session: aiohttp.ClientSession,
) -> None:
    """With drip_interval_s 0 the bytes come one by one, and the answer is the same as undripped."""
    key, keys = dripping_key()
    config = GatewayConfig(keys=keys, sizes={"11": 3}, drip_interval_s=0.0)
    async with GatewayServer(config) as gw:
        url = gw.base_url + "/areaBasedList2"
        plain = await get(session, url, params(key, numOfRows=1))
        dripped = await get(session, url, params(key, numOfRows=1))
        assert dripped.status == 200 and dripped.text == plain.text
        assert dripped.headers["Content-Length"] == str(len(plain.text.encode()))
        assert [c.outcome for c in gw.history()] == ["ok", "drip"]
        assert gw.usage() == {"drip": {"areaBasedList2": 2}}


async def test_a_drip_fed_answer_outlasts_a_total_deadline_but_no_read_timeout(
    session: aiohttp.ClientSession,
) -> None:
    """A byte every 50 ms never trips a 200 ms read timeout; only the 300 ms total deadline ends it."""
    key, keys = dripping_key()
    async with GatewayServer(GatewayConfig(keys=keys, drip_interval_s=0.05)) as gw:
        url = gw.base_url + "/areaBasedList2"
        await get(session, url, params(key))
        received = bytearray()
        deadline = aiohttp.ClientTimeout(total=0.3, sock_read=0.2)
        started = asyncio.get_running_loop().time()
        with pytest.raises(TimeoutError):
            async with session.get(url, params=params(key), timeout=deadline) as response:
                while chunk := await response.content.read(1):
                    received += chunk
        waited = asyncio.get_running_loop().time() - started
        assert 1 <= len(received) <= 8 and received.startswith(b'{"')
        assert 0.25 <= waited < 2.0
        assert [c.outcome for c in gw.history()] == ["ok", "drip"]


async def test_a_huge_answer_streams_its_configured_size_as_valid_json(
    session: aiohttp.ClientSession,
) -> None:
    """huge pads the answer with whitespace to huge_body_bytes, chunked with no length declared."""
    key, keys = one_key()
    size = 3_000_000
    rate = ErrorRate(every=2, faults=(OptInFault.HUGE,))
    config = GatewayConfig(keys=keys, error_rate=rate, huge_body_bytes=size)
    async with GatewayServer(config) as gw:
        url = gw.base_url + "/areaBasedList2"
        plain = await get(session, url, params(key, numOfRows=2))
        body = bytearray()
        async with session.get(url, params=params(key, numOfRows=2)) as response:
            assert response.status == 200 and response.content_length is None
            assert response.headers["Transfer-Encoding"] == "chunked"
            async for chunk in response.content.iter_chunked(256 * 1024):
                body += chunk
        assert len(body) == size
        assert json.loads(body) == plain.json()
        assert gw.gateway_faults() == {"huge": 1}
        assert gw.usage() == {"dev1": {"areaBasedList2": 2}}


async def test_a_huge_answer_is_streamed_without_being_held_in_memory(
    session: aiohttp.ClientSession,
) -> None:
    """Sending and reading 20 MB of huge answer never holds more than a few chunks in memory."""
    key, keys = one_key()
    size = 20_000_000
    config = GatewayConfig(
        keys=keys, error_rate=ErrorRate.always(OptInFault.HUGE), huge_body_bytes=size
    )
    async with GatewayServer(config) as gw:
        received = 0
        tracemalloc.start()
        try:
            async with session.get(gw.base_url + "/ldongCode2", params=params(key)) as response:
                async for chunk in response.content.iter_chunked(CHUNK_BYTES):
                    received += len(chunk)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert received == size
        assert peak < size // 10


def test_huge_padding_is_generated_a_chunk_at_a_time() -> None:
    """200 MB of padding is yielded lazily in chunks of at most 64 KiB, adding up exactly."""
    chunks = padded_chunks(b'{"a": 1}', 200_000_000)
    first = [next(chunks) for _ in range(3)]
    assert first[0] == b'{"a": 1}' and first[1] == b" " * CHUNK_BYTES
    small = list(padded_chunks(b"x" * 100_000, 300_001))
    assert max(len(c) for c in small) <= CHUNK_BYTES
    assert sum(len(c) for c in small) == 300_001
    assert b"".join(small).rstrip(b" ") == b"x" * 100_000
    assert b"".join(padded_chunks(b"whole", 2)) == b"whole"


# -- configuration -------------------------------------------------------------------------------


def test_new_options_load_from_json_and_default_to_the_old_behaviour() -> None:
    """from_json reads every option of this module by its JSON name; left out, each is off."""
    raw = {
        "unknown_operation": "api_not_found",
        "per_second_limit": 25,
        "per_second_lock_s": 45,
        "bare_daily_429": True,
        "bare_per_second_429": True,
        "wrong_url_after": 3,
        "wrong_url_operations": ["detailIntro2"],
        "wrong_url_answer": "api_not_found",
        "keys": {
            hex_key(): {"label": "coded", "daily_limit": 5, "bare_daily_429": False},
            hex_key(): {"label": "limited", "behaviour": "flaky", "faults": ["text_429", "reset"]},
            hex_key(): {
                "label": "odd",
                "behaviour": "flaky",
                "faults": ["unknown_code_429", "bare_401", "bare_403", "text_401", "text_403"],
            },
        },
        "drip_interval_s": 0.25,
        "huge_body_bytes": 1000,
        "error_rate": {
            "share": 0.1,
            "faults": ["http_503", "reset"],
            "seed": 9,
            "retry_after_s": 2,
        },
    }
    config = GatewayConfig.from_json(raw)
    assert config.unknown_operation is UnknownOperation.API_NOT_FOUND
    assert (config.per_second_limit, config.per_second_lock_s) == (25, 45.0)
    assert config.bare_daily_429 is True and config.bare_per_second_429 is True
    assert (config.wrong_url_after, config.wrong_url_operations) == (3, ("detailIntro2",))
    assert config.wrong_url_answer is WrongUrl.API_NOT_FOUND
    assert [k.faults for k in config.keys.values()][2] == (
        OptInFault.UNKNOWN_CODE_429,
        OptInFault.BARE_401,
        OptInFault.BARE_403,
        OptInFault.TEXT_401,
        OptInFault.TEXT_403,
    )
    assert (config.drip_interval_s, config.huge_body_bytes) == (0.25, 1000)
    assert [k.bare_daily_429 for k in config.keys.values()] == [False, None, None]
    assert [k.faults for k in config.keys.values()][1] == (OptInFault.TEXT_429, Fault.RESET)
    assert config.error_rate == ErrorRate(0.1, None, (Fault.HTTP_503, Fault.RESET), 9, 2)
    assert GatewayConfig.from_json({"error_rate": {"every": 4}}).error_rate == ErrorRate(every=4)
    proxy = {"error_rate": {"every": 1, "faults": ["http_404"]}}
    assert GatewayConfig.from_json(proxy).error_rate == ErrorRate.always(OptInFault.HTTP_404)
    assert GatewayConfig.from_json({}) == GatewayConfig()
    defaults = GatewayConfig()
    assert defaults.unknown_operation is UnknownOperation.CODE_12
    assert (defaults.per_second_limit, defaults.per_second_lock_s) == (None, 60.0)
    assert defaults.bare_daily_429 is False and KeyBehaviour("k").bare_daily_429 is None
    assert defaults.bare_per_second_429 is False
    assert (defaults.wrong_url_after, defaults.wrong_url_operations) == (None, ())
    assert defaults.wrong_url_answer is WrongUrl.UNEXPECTED_ERRORS
    assert defaults.error_rate is None
    assert (defaults.drip_interval_s, defaults.huge_body_bytes) == (1.0, 200_000_000)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param({"unknown_operation": "teapot"}, id="unknown-operation-answer"),
        pytest.param({"per_second_limit": 0}, id="per-second-limit-zero"),
        pytest.param({"per_second_lock_s": -1}, id="negative-lock"),
        pytest.param({"error_rate": {"share": 0.1, "every": 3}}, id="share-and-every"),
        pytest.param({"error_rate": {"share": 1.5}}, id="share-above-one"),
        pytest.param({"error_rate": {"every": 0}}, id="every-zero"),
        pytest.param({"error_rate": {"faults": []}}, id="no-faults"),
        pytest.param({"error_rate": {"faults": ["meteor"]}}, id="unknown-fault"),
        pytest.param({"error_rate": [0.1]}, id="not-an-object"),
        pytest.param({"drip_interval_s": -0.1}, id="negative-drip"),
        pytest.param({"huge_body_bytes": -1}, id="negative-size"),
        pytest.param({"wrong_url_after": -1}, id="negative-wrong-url-after"),
        pytest.param({"wrong_url_operations": "detailIntro2"}, id="operations-not-a-list"),
        pytest.param({"wrong_url_answer": "teapot"}, id="unknown-wrong-url-answer"),
    ],
)
def test_bad_new_options_are_config_errors(raw: dict[str, object]) -> None:
    """Each new option refuses a value it cannot use, as a GatewayConfigError."""
    with pytest.raises(GatewayConfigError):
        GatewayConfig.from_json(raw)
