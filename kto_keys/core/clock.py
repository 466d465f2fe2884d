"""The Clock seam: wall time, monotonic time and waiting, a fake for tests, and Korea time (pure)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Protocol

KST = timezone(timedelta(hours=9), "KST")


class Clock(Protocol):
    """Wall time, monotonic time and waiting: every reading of time goes through one of these."""

    def now(self) -> datetime:
        """Return the current time, timezone-aware."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never steps back, for measuring how long something took."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait this long."""
        ...

    async def heartbeat(self, seconds: float) -> None:
        """Wait for the next beat of a background task (a fake clock never beats on its own)."""
        ...


class FakeClock:
    """A clock that moves only when told to, or when something sleeps on it: tests and simulations."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = start
        self._elapsed = 0.0
        self.slept: list[float] = []

    def now(self) -> datetime:
        """Return the fake current time."""
        return self._now

    def monotonic(self) -> float:
        """Seconds the clock has moved forward since it was made."""
        return self._elapsed

    async def sleep(self, seconds: float) -> None:
        """Move the clock instead of waiting; still let other tasks run once."""
        self.slept.append(seconds)
        self.advance(seconds)
        await asyncio.sleep(0)  # a real yield, no real wait: other tasks get their turn

    async def heartbeat(self, seconds: float) -> None:
        """Never beat: fake time moves only when a test or a sleep moves it."""
        await asyncio.Event().wait()

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self._now += timedelta(seconds=seconds)
        self._elapsed += max(0.0, seconds)

    def set(self, when: datetime) -> None:
        """Jump to a given time (also backwards: a wall clock can step)."""
        self._now = when


def kst_day(now: datetime) -> date:
    """The Korea-time calendar day that usage counts for."""
    return now.astimezone(KST).date()


def next_kst_midnight(now: datetime) -> datetime:
    """When usage next resets: the coming midnight in Korea."""
    day = kst_day(now) + timedelta(days=1)
    return datetime.combine(day, time(0, 0), KST)


def format_time(when: datetime | None, tz: timezone = KST) -> str:
    """A time for people: local to the zone, with the zone's name."""
    if when is None:
        return "-"
    return when.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z")


def parse_time(text: str | None) -> datetime | None:
    """Read an ISO time written by this tool."""
    if not text:
        return None
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
