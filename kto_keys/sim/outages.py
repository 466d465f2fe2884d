"""Faults of the gateway itself: which calls fail whatever their key, and with what."""

from __future__ import annotations

import random
import threading

from kto_keys.sim.behaviours import AnyFault, ErrorRate


class Outages:
    """Decides, call by call in arrival order, whether the gateway fails it; thread-safe."""

    def __init__(self, rate: ErrorRate | None) -> None:
        self._rate = rate
        # Its own generator, seeded once: the same calls fail in every run with the same seed.
        self._random = random.Random(0 if rate is None else rate.seed)
        self._lock = threading.Lock()
        self._calls = 0
        self._failures = 0
        self._counts: dict[str, int] = {}

    def draw(self) -> AnyFault | None:
        """Take the next call in turn and return the fault it gets, or None to let it through."""
        rate = self._rate
        if rate is None:
            return None
        with self._lock:
            self._calls += 1
            if rate.every is not None:
                fails = self._calls % rate.every == 0
            else:
                fails = self._random.random() < rate.share
            if not fails:
                return None
            fault = rate.faults[self._failures % len(rate.faults)]
            self._failures += 1
            return fault

    def record(self, fault: AnyFault) -> None:
        """Count a drawn fault that the gateway did answer with."""
        with self._lock:
            self._counts[fault.value] = self._counts.get(fault.value, 0) + 1

    def counts(self) -> dict[str, int]:
        """Return how many calls each gateway fault answered, by fault name."""
        with self._lock:
            return dict(self._counts)

    def reset_counts(self) -> None:
        """Forget the counts; the draw goes on where it was, so a run stays reproducible."""
        with self._lock:
            self._counts.clear()
