"""Adaptive concurrency: halve on a per-second limit, grow back one step at a time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

CALM_AFTER_S = 10.0


class AdaptiveLimit:
    """At most `limit` calls at once; the limit drops when the gateway says "too fast"."""

    def __init__(self, maximum: int) -> None:
        self.maximum = max(1, maximum)
        self.limit = self.maximum
        self._active = 0
        self._calm_since: float | None = None
        self._changed = asyncio.Condition()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the allowed concurrent calls."""
        async with self._changed:
            await self._changed.wait_for(lambda: self._active < self.limit)
            self._active += 1
        try:
            yield
        finally:
            async with self._changed:
                self._active -= 1
                self._changed.notify_all()

    def slow_down(self, now: float) -> None:
        """Halve the limit after a per-second limit."""
        self.limit = max(1, self.limit // 2)
        self._calm_since = now

    async def speed_up(self, now: float) -> None:
        """Raise the limit by one once calls have gone well for a while."""
        if self.limit >= self.maximum or self._calm_since is None:
            return
        if now - self._calm_since >= CALM_AFTER_S:
            self.limit += 1
            self._calm_since = now
            async with self._changed:
                self._changed.notify_all()
