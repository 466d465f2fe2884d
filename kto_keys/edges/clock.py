"""The real clock: the one place that reads the system's time or waits on it."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime


class SystemClock:
    """The machine's wall clock, monotonic clock and event-loop sleep."""

    def now(self) -> datetime:
        """Return the current UTC time."""
        return datetime.now(UTC)

    def monotonic(self) -> float:
        """Seconds on the monotonic clock."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """Wait on the event loop."""
        await asyncio.sleep(seconds)

    async def heartbeat(self, seconds: float) -> None:
        """Wait for the next beat of a background task: real time."""
        await asyncio.sleep(seconds)
