"""Call counters of the local gateway: every request per (key label, operation), plus a history."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

# Request parameters worth keeping in the history; never the key.
SELECTED_PARAMS: tuple[str, ...] = (
    "contentId",
    "contentTypeId",
    "lDongRegnCd",
    "lDongSignguCd",
    "areaCode",
    "sigunguCode",
    "arrange",
    "modifiedtime",
    "showflag",
    "lDongListYn",
    "pageNo",
    "numOfRows",
)


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One request as the gateway saw it: key label, operation, selected params, outcome."""

    label: str
    operation: str
    params: Mapping[str, str] = field(default_factory=dict)
    outcome: str = "ok"

    def as_dict(self) -> dict[str, object]:
        """Return the record as plain JSON-ready data."""
        return {
            "label": self.label,
            "operation": self.operation,
            "params": dict(self.params),
            "outcome": self.outcome,
        }


class CallLog:
    """Thread-safe counts and history of every request the gateway answered or dropped."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._history: list[CallRecord] = []
        self._counts: dict[str, dict[str, int]] = {}

    def record(self, call: CallRecord) -> None:
        """Count one request."""
        with self._lock:
            self._history.append(call)
            per_operation = self._counts.setdefault(call.label, {})
            per_operation[call.operation] = per_operation.get(call.operation, 0) + 1

    def counts(self) -> dict[str, dict[str, int]]:
        """Return {label: {operation: calls}}."""
        with self._lock:
            return {label: dict(ops) for label, ops in self._counts.items()}

    def total(self, operation: str | None = None, label: str | None = None) -> int:
        """Return the number of requests, optionally of one operation and/or one label."""
        with self._lock:
            return sum(
                n
                for each_label, ops in self._counts.items()
                if label is None or each_label == label
                for each_operation, n in ops.items()
                if operation is None or each_operation == operation
            )

    def history(self) -> list[CallRecord]:
        """Return every request so far, oldest first."""
        with self._lock:
            return list(self._history)

    def reset(self) -> None:
        """Forget all counts and history."""
        with self._lock:
            self._history.clear()
            self._counts.clear()
