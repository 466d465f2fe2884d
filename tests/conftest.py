"""Shared fixtures: a fake clock, fake keys, settings that point into tmp_path."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest

from kto_keys.core.clock import FakeClock

# 2026-11-24 10:00 KST: the middle of a working day in Korea.
START = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


def hex_key() -> str:
    """A fake 64-character hex key, new each call."""
    return secrets.token_hex(32)


def base64_key() -> str:
    """A fake 88-character base64 key that contains '+', '/' and '='."""
    while True:
        key = base64.b64encode(secrets.token_bytes(64)).decode()
        if "+" in key and "/" in key:
            return key


def encoded(key: str) -> str:
    """The portal's "Encoding" form of a key."""
    return quote(key, safe="")


@pytest.fixture
def clock() -> FakeClock:
    """A clock that moves only when a test says so."""
    return FakeClock(START)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """No KTO_* variables or colour forcing from the outside; the cwd is an empty folder."""
    import os

    for name in list(os.environ):
        if name.startswith("KTO_") or name in ("FORCE_COLOR", "PY_COLORS", "CI", "CLICOLOR_FORCE"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("TERM", "dumb")
    monkeypatch.chdir(tmp_path)
    yield tmp_path


# --- the local gateway and settings pointing at it -----------------------------------------
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

from kto_keys.edges.settings import Settings, settings_in  # noqa: E402
from kto_keys.sim import GatewayConfig, GatewayThread, KeyBehaviour  # noqa: E402

GatewayFactory = Callable[..., GatewayThread]


@pytest.fixture
def gateway(clock: FakeClock) -> Iterator[GatewayFactory]:
    """Start local gateways with given keys and data; their time follows the fake clock."""
    started: list[GatewayThread] = []

    def start(keys: dict[str, KeyBehaviour], **config: Any) -> GatewayThread:
        thread = GatewayThread(
            GatewayConfig(keys=keys, **config), clock=lambda: clock.now().timestamp()
        )
        thread.start()
        started.append(thread)
        return thread

    yield start
    for thread in started:
        thread.stop()


def make_settings(folder: Path, keys: list[str], base_url: str, **overrides: str) -> Settings:
    """Settings for a test: keys and URL given, every path inside `folder`, no env file."""
    return settings_in(
        folder, keys, base_url, **{"KTO_LANG": "en", "KTO_READ_TIMEOUT_S": "2", **overrides}
    )


def said(error: BaseException) -> str:
    """The one line the command line shows for an error, in English."""
    from kto_keys.cli.messages import Messages

    return Messages("en").error(error)


def exit_code(error: BaseException) -> int:
    """The exit code the command line gives an error."""
    from kto_keys.cli.exits import exit_code_for

    return exit_code_for(error)


# --- the pool's policy -------------------------------------------------------------------------
import dataclasses  # noqa: E402

from kto_keys.core.pool import Policy  # noqa: E402
from kto_keys.edges.settings import load_settings  # noqa: E402


def make_policy(**overrides: Any) -> Policy:
    """The policy the settings' defaults give, with the named thresholds changed."""
    defaults = load_settings(environ={}, read_env_file=False).policy()
    return dataclasses.replace(defaults, **overrides)
