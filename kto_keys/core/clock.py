"""Time, read in exactly one place: the Clock protocol, the system clock and Korea time."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Protocol

KST = timezone(timedelta(hours=9), "KST")


class Clock(Protocol):
    """Anything that tells the current time as an aware datetime."""

    def now(self) -> datetime:
        """Return the current time, timezone-aware."""
        ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> datetime:
        """Return the current UTC time."""
        return datetime.now(UTC)


class FakeClock:
    """A clock that moves only when told to: for tests and simulations."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = start

    def now(self) -> datetime:
        """Return the fake current time."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self._now += timedelta(seconds=seconds)

    def set(self, when: datetime) -> None:
        """Jump to a given time."""
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
