"""Shared fixtures: a fake clock, fake keys, settings that point into tmp_path."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest

from kto_keys.clock import FakeClock

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
