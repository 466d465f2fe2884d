"""The local gateway's clock: monotonic time plus an offset that tests move instead of sleeping."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

KST = timezone(timedelta(hours=9), "KST")


class GatewayClock:
    """Seconds as the gateway sees them: `base()` plus whatever `advance()` added."""

    def __init__(self, base: Callable[[], float] = time.monotonic) -> None:
        self._base = base
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        """Return the gateway's current time in seconds."""
        with self._lock:
            return self._base() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the gateway's time forward without sleeping."""
        if seconds < 0:
            raise ValueError("the gateway clock only moves forward")
        with self._lock:
            self._offset += seconds


def response_time() -> str:
    """Return TourAPI's `responseTime` stamp: Korea time with milliseconds."""
    return datetime.now(KST).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
