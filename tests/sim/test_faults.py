"""The gateway's wrong-URL answers, per-second locks and gateway-wide faults, over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from gateway_calls import get, one_key, own_session, params

from kto_keys.sim import GatewayConfig, GatewayServer, Generation, UnknownOperation


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
