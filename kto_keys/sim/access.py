"""The gateway's key check: per-key behaviour, daily quota per operation, per-second limit, faults."""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from kto_keys.sim import responses as r
from kto_keys.sim.behaviours import AnyFault, BehaviourKind, KeyBehaviour

_REFUSING_KINDS: dict[BehaviourKind, r.GatewayError] = {
    BehaviourKind.NOT_REGISTERED: r.NOT_REGISTERED,
    BehaviourKind.EXPIRED: r.EXPIRED,
    BehaviourKind.NOT_APPROVED: r.ACCESS_DENIED,
    BehaviourKind.DISABLED: r.TEMPORARILY_DISABLED,
    BehaviourKind.IP_BLOCKED: r.UNREGISTERED_IP,
}


@dataclass(frozen=True, slots=True)
class Admission:
    """The key check's verdict: an error (`is_bare`: its status alone), a fault, or neither."""

    error: r.GatewayError | None = None
    fault: AnyFault | None = None
    is_bare: bool = False


@dataclass(slots=True)
class _SecondWindow:
    second: int = -1
    calls: int = 0


@dataclass(slots=True)
class _Flakiness:
    calls: int = 0
    failures: int = 0


def fails_on_call(call: int, share: float) -> bool:
    """Tell whether the call-th call (1-based) of a flaky key fails: spread evenly, no randomness."""
    return math.floor(call * share) > math.floor((call - 1) * share)


class KeyGate:
    """Decides, per request, what the gateway does with a key; thread-safe."""

    def __init__(
        self,
        keys: Mapping[str, KeyBehaviour],
        started_at: float,
        *,
        per_second_limit: int | None = None,
        lock_s: float = 60.0,
        bare_daily_429: bool = False,
        bare_per_second_429: bool = False,
    ) -> None:
        self._keys = dict(keys)
        self._started_at = started_at
        self._per_second_limit = per_second_limit
        self._lock_s = lock_s
        self._bare_daily_429 = bare_daily_429
        self._bare_per_second_429 = bare_per_second_429
        self._lock = threading.Lock()
        self._usage: dict[str, dict[str, int]] = {}
        self._windows: dict[str, _SecondWindow] = {}
        self._flakiness: dict[str, _Flakiness] = {}
        self._locked_until: dict[str, float] = {}
        self._per_second_refusals: dict[str, int] = {}
        self._locks: dict[str, int] = {}

    def admit(self, key: str, operation: str, now: float) -> Admission:
        """Check one call of `operation` with `key` at gateway time `now`, and count it."""
        behaviour = self._keys.get(key)
        if behaviour is None:
            return Admission(error=r.NOT_REGISTERED)
        label = behaviour.label
        with self._lock:
            # Every call counts toward the daily quota, refused ones included (locked ones too).
            per_operation = self._usage.setdefault(label, {})
            used = per_operation[operation] = per_operation.get(operation, 0) + 1
            refusal = _REFUSING_KINDS.get(behaviour.kind)
            if refusal is not None:
                return Admission(error=refusal)
            ends = behaviour.expires_after_calls
            if ends is not None and sum(per_operation.values()) > ends:
                return Admission(error=r.EXPIRED)
            is_activating = behaviour.kind is BehaviourKind.ACTIVATING
            if is_activating and now - self._started_at < behaviour.activate_after_s:
                return Admission(error=r.NOT_REGISTERED)
            calls_this_second = self._count_second(label, now)
            if self._is_locked_out(label, calls_this_second, now):
                return self._per_second_refusal(label)
            if behaviour.daily_limit is not None and used > behaviour.daily_limit:
                is_bare = behaviour.bare_daily_429
                if is_bare is None:
                    is_bare = self._bare_daily_429
                return Admission(error=r.DAILY_LIMIT, is_bare=is_bare)
            is_per_second = behaviour.kind is BehaviourKind.PER_SECOND
            if is_per_second and calls_this_second > behaviour.max_per_second:
                return self._per_second_refusal(label)
            if behaviour.kind is BehaviourKind.FLAKY:
                return Admission(fault=self._next_fault(behaviour))
            return Admission()

    def _count_second(self, label: str, now: float) -> int:
        window = self._windows.setdefault(label, _SecondWindow())
        second = math.floor(now)
        if window.second != second:
            window.second, window.calls = second, 0
        window.calls += 1
        return window.calls

    def _is_locked_out(self, label: str, calls_this_second: int, now: float) -> bool:
        """Tell whether the gateway-wide limit refuses this call; passing it starts a lock."""
        if now < self._locked_until.get(label, -math.inf):
            return True
        if self._per_second_limit is None or calls_this_second <= self._per_second_limit:
            return False
        if self._lock_s > 0:
            self._locked_until[label] = now + self._lock_s
            self._locks[label] = self._locks.get(label, 0) + 1
        return True

    def _per_second_refusal(self, label: str) -> Admission:
        self._per_second_refusals[label] = self._per_second_refusals.get(label, 0) + 1
        return Admission(error=r.PER_SECOND_LIMIT, is_bare=self._bare_per_second_429)

    def _next_fault(self, behaviour: KeyBehaviour) -> AnyFault | None:
        state = self._flakiness.setdefault(behaviour.label, _Flakiness())
        state.calls += 1
        if not fails_on_call(state.calls, behaviour.failure_share):
            return None
        fault = behaviour.faults[state.failures % len(behaviour.faults)]
        state.failures += 1
        return fault

    def usage(self) -> dict[str, dict[str, int]]:
        """Return today's calls per key label and operation, as counted toward the daily quota."""
        with self._lock:
            return {label: dict(ops) for label, ops in self._usage.items()}

    def per_second_refusals(self) -> dict[str, int]:
        """Return how many per-second refusals (code 23, or its bare 429) each key label got,
        locked calls included."""
        with self._lock:
            return dict(self._per_second_refusals)

    def locks(self) -> dict[str, int]:
        """Return how many per-second locks each key label got."""
        with self._lock:
            return dict(self._locks)

    def reset_counts(self) -> None:
        """Forget the code-23 and lock counts; a lock under way stays."""
        with self._lock:
            self._per_second_refusals.clear()
            self._locks.clear()

    def new_day(self) -> None:
        """Reset every key's daily usage, as midnight KST does."""
        with self._lock:
            self._usage.clear()
