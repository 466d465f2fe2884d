"""The gateway's key check: per-key behaviour, daily quota per operation, per-second limit, faults."""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from kto_keys.sim import responses as r
from kto_keys.sim.behaviours import BehaviourKind, Fault, KeyBehaviour

_REFUSING_KINDS: dict[BehaviourKind, r.GatewayError] = {
    BehaviourKind.NOT_REGISTERED: r.NOT_REGISTERED,
    BehaviourKind.EXPIRED: r.EXPIRED,
    BehaviourKind.NOT_APPROVED: r.ACCESS_DENIED,
    BehaviourKind.DISABLED: r.TEMPORARILY_DISABLED,
    BehaviourKind.IP_BLOCKED: r.UNREGISTERED_IP,
}


@dataclass(frozen=True, slots=True)
class Admission:
    """The key check's verdict: a gateway error, an injected fault, or neither (let it through)."""

    error: r.GatewayError | None = None
    fault: Fault | None = None


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

    def __init__(self, keys: Mapping[str, KeyBehaviour], started_at: float) -> None:
        self._keys = dict(keys)
        self._started_at = started_at
        self._lock = threading.Lock()
        self._usage: dict[str, dict[str, int]] = {}
        self._windows: dict[str, _SecondWindow] = {}
        self._flakiness: dict[str, _Flakiness] = {}

    def admit(self, key: str, operation: str, now: float) -> Admission:
        """Check one call of `operation` with `key` at gateway time `now`, and count it."""
        behaviour = self._keys.get(key)
        if behaviour is None:
            return Admission(error=r.NOT_REGISTERED)
        with self._lock:
            per_operation = self._usage.setdefault(behaviour.label, {})
            used = per_operation[operation] = per_operation.get(operation, 0) + 1
            refusal = _REFUSING_KINDS.get(behaviour.kind)
            if refusal is not None:
                return Admission(error=refusal)
            is_activating = behaviour.kind is BehaviourKind.ACTIVATING
            if is_activating and now - self._started_at < behaviour.activate_after_s:
                return Admission(error=r.NOT_REGISTERED)
            if behaviour.daily_limit is not None and used > behaviour.daily_limit:
                return Admission(error=r.DAILY_LIMIT)
            if behaviour.kind is BehaviourKind.PER_SECOND and self._over_second(behaviour, now):
                return Admission(error=r.PER_SECOND_LIMIT)
            if behaviour.kind is BehaviourKind.FLAKY:
                return Admission(fault=self._next_fault(behaviour))
            return Admission()

    def _over_second(self, behaviour: KeyBehaviour, now: float) -> bool:
        window = self._windows.setdefault(behaviour.label, _SecondWindow())
        second = math.floor(now)
        if window.second != second:
            window.second, window.calls = second, 0
        window.calls += 1
        return window.calls > behaviour.max_per_second

    def _next_fault(self, behaviour: KeyBehaviour) -> Fault | None:
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

    def new_day(self) -> None:
        """Reset every key's daily usage, as midnight KST does."""
        with self._lock:
            self._usage.clear()
