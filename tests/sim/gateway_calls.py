"""Calls to the local gateway over real HTTP, shared by the tests in tests/sim."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from conftest import hex_key

from kto_keys.sim import KeyBehaviour

OWN_AGENT = {"User-Agent": "kto-keys-tests/0.1"}
FROZEN = 1_000.0


@dataclass(frozen=True, slots=True)
class Got:
    """One HTTP answer as the test saw it."""

    status: int
    headers: Mapping[str, str]
    text: str

    def json(self) -> Any:
        """Parse the body as JSON."""
        return json.loads(self.text)

    def items(self) -> list[dict[str, Any]]:
        """Return `items.item` of a success, [] when `items` is ""."""
        items = self.json()["response"]["body"]["items"]
        return [] if items == "" else list(items["item"])

    def body(self) -> dict[str, Any]:
        """Return `response.body` of a success."""
        body: dict[str, Any] = self.json()["response"]["body"]
        return body


def params(key: str | None, **extra: object) -> dict[str, str]:
    """The common parameters of a well-formed JSON call, plus `extra`."""
    common = {"MobileOS": "ETC", "MobileApp": "kto-keys-tests", "_type": "json"}
    if key is not None:
        common["serviceKey"] = key
    return {**common, **{name: str(value) for name, value in extra.items()}}


async def get(session: aiohttp.ClientSession, url: str, query: Mapping[str, str]) -> Got:
    """GET one URL and read the whole answer."""
    async with session.get(url, params=query) as response:
        return Got(response.status, dict(response.headers), await response.text())


def own_session() -> aiohttp.ClientSession:
    """A client with its own User-Agent and no connection reuse (so aiohttp never re-sends)."""
    connector = aiohttp.TCPConnector(force_close=True)
    return aiohttp.ClientSession(headers=OWN_AGENT, connector=connector)


def one_key(label: str = "dev1", **behaviour: Any) -> tuple[str, dict[str, KeyBehaviour]]:
    """A fresh key and its config entry."""
    key = hex_key()
    return key, {key: KeyBehaviour(label, **behaviour)}
