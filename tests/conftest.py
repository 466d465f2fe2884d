"""Shared fixtures and helpers: a fake clock, fake keys, settings in tmp_path, the local gateway,
a collection run, and the CLI's words and exit code for an error."""

from __future__ import annotations

import base64
import dataclasses
import os
import secrets
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from shared_server import StateServer
from typer.testing import CliRunner

from kto_keys.cli.app import app
from kto_keys.cli.commands import CliOptions
from kto_keys.cli.exits import exit_code_for
from kto_keys.cli.messages import Messages
from kto_keys.core.clock import FakeClock
from kto_keys.core.pool import Policy
from kto_keys.core.regions import Selection
from kto_keys.edges.settings import Settings, load_settings, settings_in
from kto_keys.jobs.collect import CollectOptions, CollectReport, collect
from kto_keys.jobs.session import open_session
from kto_keys.sim import GatewayConfig, GatewayThread, KeyBehaviour

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
    """No KTO_* variables, proxies or colour forcing from the outside; the cwd is an empty folder."""

    for name in list(os.environ):
        outside = ("FORCE_COLOR", "PY_COLORS", "CI", "CLICOLOR_FORCE")
        if name.startswith("KTO_") or name in outside or name.lower().endswith("_proxy"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("TERM", "dumb")
    # The master key file a first `keys add` makes goes into the test's folder, never the user's.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / ".config"))
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.chdir(tmp_path)
    yield tmp_path


# --- the command line, in-process -------------------------------------------------------------

_RUNNER = CliRunner()
# The options each invocation starts from: the fake clock of the running test.
_CLI_OPTIONS: dict[str, CliOptions] = {}


@pytest.fixture
def isolated(clean_env: Path, clock: FakeClock) -> Path:
    """A CLI test runs in an empty folder, with no outside KTO_* setting, on the fake clock."""
    _CLI_OPTIONS["start"] = CliOptions(clock=clock)
    return clean_env


def invoke(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> tuple[int, str, str]:
    """Run the app (under the `isolated` fixture); return the exit code, stdout and stderr."""
    result = _RUNNER.invoke(
        app, list(args), env=env, input=stdin, catch_exceptions=False, obj=_CLI_OPTIONS["start"]
    )
    return result.exit_code, result.stdout, result.stderr


def env_for(
    keys: list[str], base_url: str = "http://127.0.0.1:9/B551011/KorService2", **more: str
) -> dict[str, str]:
    """Settings in the environment, as cron would set them."""
    return {"KTO_API_KEY": ",".join(keys), "KTO_API_BASE_URL": base_url, "KTO_LANG": "en", **more}


# --- the local gateway and settings pointing at it -----------------------------------------


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


# Tests of other things than pacing call as fast as the local gateway answers; the pacing tests
# (tests/edges/test_pacing.py) set KTO_KEY_RPS themselves.
UNPACED = "1000"


def make_settings(folder: Path, keys: list[str], base_url: str, **overrides: str) -> Settings:
    """Settings for a test: keys and URL given, every path inside `folder`, no env file."""
    return settings_in(
        folder,
        keys,
        base_url,
        **{"KTO_LANG": "en", "KTO_READ_TIMEOUT_S": "2", "KTO_KEY_RPS": UNPACED, **overrides},
    )


def said(error: BaseException) -> str:
    """The one line the command line shows for an error, in English."""
    return Messages("en").error(error)


def exit_code(error: BaseException) -> int:
    """The exit code the command line gives an error."""
    return exit_code_for(error)


# --- the pool's policy -------------------------------------------------------------------------


def make_policy(**overrides: Any) -> Policy:
    """The policy the settings' defaults give, with the named thresholds changed."""
    defaults = load_settings(environ={}, read_env_file=False).policy()
    return dataclasses.replace(defaults, **overrides)


# --- a collection run against the local gateway -------------------------------------------
class Silent:
    """An observer that only remembers what it heard."""

    def __init__(self) -> None:
        self.pages = 0

    def province_planned(self, province: str, pages: int, total: int, done: int) -> None:
        """Ignore."""

    def page_stored(self, province: str, new: int, updated: int) -> None:
        """Count pages."""
        self.pages += 1

    def province_done(self, province: str, records: int, removed: int) -> None:
        """Ignore."""

    def details_planned(self, plan: Any) -> None:
        """Ignore."""

    def detail_stored(self, operation: str) -> None:
        """Ignore."""

    def keys_skipped(self, keys: Any, pool: Any) -> None:
        """Ignore."""

    def provinces_followed(self, followed: Any, listed: Any) -> None:
        """Ignore."""

    def run_finished(self, report: Any) -> None:
        """Ignore."""


async def run_collect(
    settings: Settings,
    clock: FakeClock,
    provinces: tuple[str, ...],
    observer: Any = None,
    **options: Any,
) -> CollectReport:
    """One collection run with the list phase only unless `kinds` is given."""
    session = open_session(settings, clock)
    options.setdefault("kinds", ())
    chosen = CollectOptions(Selection("ldong", provinces), **options)
    return await collect(session, chosen, observer or Silent())


def stored_ids(settings: Settings, province: str | None = None, removed: bool = False) -> list[str]:
    """contentids in the database, as a sorted list (duplicates would show)."""
    with sqlite3.connect(settings.db_path) as db:
        query = "SELECT contentid FROM restaurants WHERE (? IS NULL OR ldong_regn_cd = ?)"
        if not removed:
            query += " AND removed_at IS NULL"
        return sorted(row[0] for row in db.execute(query, (province, province)))


@pytest.fixture
def keys() -> list[str]:
    """Two fresh good keys."""
    return [hex_key(), hex_key()]


def good(keys: list[str]) -> dict[str, KeyBehaviour]:
    """Gateway behaviours: every key valid."""
    return {key: KeyBehaviour(f"good{i}") for i, key in enumerate(keys)}


# --- the shared state: a real Redis-protocol server -------------------------------------------


@pytest.fixture(scope="session")
def state_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StateServer]:
    """One server for the session's shared-state tests (see tests/shared_server.py)."""
    server = StateServer(tmp_path_factory.mktemp("state-server")).start()
    yield server
    server.stop()


@pytest.fixture
def state_url(state_server: StateServer) -> str:
    """KTO_STATE_URL of an empty shared state: the session's server, flushed for this test."""
    state_server.client().flushall()
    return state_server.url
