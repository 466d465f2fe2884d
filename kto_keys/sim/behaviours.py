"""Configuration of the local gateway: per-key behaviours, faults, generation, and JSON loading."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from kto_keys.sim.geography import Province


class GatewayConfigError(ValueError):
    """A gateway configuration that cannot be used; the message never contains a key."""


class Generation(StrEnum):
    """Which gateway generation answers errors: legacy XML, 2025+ statuses, or alternating."""

    LEGACY = "legacy"
    MODERN = "modern"
    MIXED = "mixed"


class BehaviourKind(StrEnum):
    """What a configured key does at the gateway's key check."""

    VALID = "valid"
    NOT_REGISTERED = "not_registered"
    EXPIRED = "expired"
    NOT_APPROVED = "not_approved"
    DISABLED = "disabled"
    IP_BLOCKED = "ip_blocked"
    ACTIVATING = "activating"
    PER_SECOND = "per_second"
    FLAKY = "flaky"


class Fault(StrEnum):
    """One injected fault of a flaky key."""

    HTTP_500 = "http_500"
    HTTP_502 = "http_502"
    HTTP_503 = "http_503"
    RESET = "reset"
    TRUNCATED = "truncated"
    EMPTY = "empty"
    SLOW = "slow"
    ROUTING_TEXT = "routing_text"
    CODE_01 = "code_01"
    CODE_04 = "code_04"
    CODE_05 = "code_05"
    CODE_99 = "code_99"
    BARE_429 = "bare_429"


ALL_FAULTS: tuple[Fault, ...] = tuple(Fault)


class OptInFault(StrEnum):
    """A fault only a config names: kept out of `Fault`, which the demo and benchmarks iterate."""

    HTTP_404 = "http_404"
    TEXT_429 = "text_429"
    DRIP = "drip"
    HUGE = "huge"
    # A 429 whose envelope carries a code the doc's table does not know (24): per second or daily?
    UNKNOWN_CODE_429 = "unknown_code_429"
    # A 401 or 403 with no code: an empty body, or the plain text "Unauthorized" / "Forbidden".
    BARE_401 = "bare_401"
    BARE_403 = "bare_403"
    TEXT_401 = "text_401"
    TEXT_403 = "text_403"


AnyFault = Fault | OptInFault


def fault_named(name: str) -> AnyFault:
    """Return the fault of either kind with this JSON name; ValueError if there is none."""
    try:
        return Fault(name)
    except ValueError:
        return OptInFault(name)


class UnknownOperation(StrEnum):
    """How an operation the service does not have is answered: code 12, or `API not found`."""

    CODE_12 = "code_12"
    API_NOT_FOUND = "api_not_found"


class WrongUrl(StrEnum):
    """How a path that stopped existing is answered (doc 3 F): the gateway's 500 `Unexpected
    errors`, its `API not found`, or a proxy's 404 page."""

    UNEXPECTED_ERRORS = "unexpected_errors"
    API_NOT_FOUND = "api_not_found"
    HTTP_404 = "http_404"


@dataclass(frozen=True, slots=True)
class KeyBehaviour:
    """How one configured key behaves; `label` names it in counters and output instead of the key."""

    label: str
    kind: BehaviourKind = BehaviourKind.VALID
    daily_limit: int | None = None
    activate_after_s: float = 600.0
    max_per_second: int = 10
    failure_share: float = 0.25
    faults: tuple[AnyFault, ...] = ALL_FAULTS
    retry_after_s: int | None = None
    # A spent daily quota as HTTP 429 with no body; None follows GatewayConfig.bare_daily_429.
    bare_daily_429: bool | None = None
    # The key's period of use ends after this many calls (any operation): code 31 from then on.
    expires_after_calls: int | None = None

    def __post_init__(self) -> None:
        if not self.label or self.label in ("unknown", "missing"):
            raise GatewayConfigError(f"key label {self.label!r} is empty or reserved")
        if self.daily_limit is not None and self.daily_limit < 0:
            raise GatewayConfigError(f"key {self.label}: daily_limit must be >= 0")
        if not 0.0 <= self.failure_share <= 1.0:
            raise GatewayConfigError(f"key {self.label}: failure_share must be within 0..1")
        if self.max_per_second < 1:
            raise GatewayConfigError(f"key {self.label}: max_per_second must be >= 1")
        if not self.faults:
            raise GatewayConfigError(f"key {self.label}: faults must not be empty")


# What a gateway under load or a proxy in front of it answers most: doc 3 D and the code table.
TRANSIENT_FAULTS: tuple[Fault, ...] = (Fault.HTTP_503, Fault.HTTP_502, Fault.CODE_04)


@dataclass(frozen=True, slots=True)
class ErrorRate:
    """Faults of the gateway itself, whatever the key: a seeded share of calls, or every n-th."""

    share: float = 0.0
    every: int | None = None
    faults: tuple[AnyFault, ...] = TRANSIENT_FAULTS
    seed: int = 1
    retry_after_s: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.share <= 1.0:
            raise GatewayConfigError("error_rate: share must be within 0..1")
        if self.every is not None and self.every < 1:
            raise GatewayConfigError("error_rate: every must be >= 1")
        if self.every is not None and self.share > 0:
            raise GatewayConfigError("error_rate: give share or every, not both")
        if not self.faults:
            raise GatewayConfigError("error_rate: faults must not be empty")

    @classmethod
    def always(cls, fault: AnyFault, retry_after_s: int | None = None) -> ErrorRate:
        """Fail every call with one fault, e.g. a proxy's 404 in front of a wrong base path."""
        return cls(every=1, faults=(fault,), retry_after_s=retry_after_s)


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """Everything the local gateway is started with; `keys` maps a raw key to its behaviour."""

    keys: Mapping[str, KeyBehaviour] = field(default_factory=dict, repr=False)
    generation: Generation = Generation.MODERN
    seed: int = 1
    sizes: Mapping[str, int] | None = None
    provinces: tuple[Province, ...] | None = None
    # The geography after July 2026: Gwangju (29) and South Jeolla (46) listed as one, 12.
    merged_2026: bool = False
    page_cap: int | None = None
    latency_s: float = 0.0
    # On top of latency_s, per row asked for (numOfRows): a page of 1,000 rows takes longer.
    latency_per_row_s: float = 0.0
    host_blocked: bool = False
    refuse_default_user_agents: bool = False
    slow_s: float = 35.0
    unknown_operation: UnknownOperation = UnknownOperation.CODE_12
    # Every key's calls per second (None: no limit); past it, code 23 and a lock of that key.
    per_second_limit: int | None = None
    per_second_lock_s: float = 60.0
    # Every key's spent daily quota as HTTP 429 with an empty body (doc: its real body is unknown).
    bare_daily_429: bool = False
    # The per-second refusal and its lock answered as HTTP 429 with an empty body, not code 23
    # (doc: past the limit the gateway answers 23 "or a 429").
    bare_per_second_429: bool = False
    # A path that stops existing mid-run: once the gateway served this many successful calls
    # (0: from the start), calls of `wrong_url_operations` (none named: every operation) get the
    # wrong-URL answer `wrong_url_answer`, before any key check. Neither set: never.
    wrong_url_after: int | None = None
    wrong_url_operations: tuple[str, ...] = ()
    wrong_url_answer: WrongUrl = WrongUrl.UNEXPECTED_ERRORS
    error_rate: ErrorRate | None = None
    # The drip fault sends its answer one byte per drip_interval_s; huge pads it to this size.
    drip_interval_s: float = 1.0
    huge_body_bytes: int = 200_000_000

    def __post_init__(self) -> None:
        labels = [behaviour.label for behaviour in self.keys.values()]
        if len(set(labels)) != len(labels):
            raise GatewayConfigError("key labels must be unique")
        if self.page_cap is not None and self.page_cap < 1:
            raise GatewayConfigError("page_cap must be >= 1")
        if self.per_second_limit is not None and self.per_second_limit < 1:
            raise GatewayConfigError("per_second_limit must be >= 1")
        if self.per_second_lock_s < 0:
            raise GatewayConfigError("per_second_lock_s must be >= 0")
        if self.latency_s < 0 or self.latency_per_row_s < 0:
            raise GatewayConfigError("latency_s and latency_per_row_s must be >= 0")
        if self.drip_interval_s < 0:
            raise GatewayConfigError("drip_interval_s must be >= 0")
        if self.huge_body_bytes < 0:
            raise GatewayConfigError("huge_body_bytes must be >= 0")
        if self.wrong_url_after is not None and self.wrong_url_after < 0:
            raise GatewayConfigError("wrong_url_after must be >= 0")
        if isinstance(self.wrong_url_operations, str):
            raise GatewayConfigError("wrong_url_operations must be a list of operations")

    def is_wrong_url(self, operation: str, successes: int) -> bool:
        """Tell whether a call of `operation` gets the wrong-URL answer after `successes`
        successful calls."""
        if self.wrong_url_after is None and not self.wrong_url_operations:
            return False
        if self.wrong_url_operations and operation not in self.wrong_url_operations:
            return False
        return successes >= (self.wrong_url_after or 0)

    def label_of(self, key: str) -> str:
        """Return the label of a configured key, or "unknown"."""
        behaviour = self.keys.get(key)
        return "unknown" if behaviour is None else behaviour.label

    @classmethod
    def from_json(cls, source: str | os.PathLike[str] | Mapping[str, Any]) -> GatewayConfig:
        """Load a configuration from a JSON file path or an already parsed dict."""
        if isinstance(source, Mapping):
            raw: Any = source
        else:
            try:
                raw = json.loads(Path(source).read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as error:
                raise GatewayConfigError(f"cannot read gateway config {source}: {error}") from None
        if not isinstance(raw, Mapping):
            raise GatewayConfigError("gateway config must be a JSON object")
        return _config_from_mapping(raw)


_KEY_PARAMS = (
    "daily_limit",
    "activate_after_s",
    "max_per_second",
    "failure_share",
    "retry_after_s",
    "bare_daily_429",
    "expires_after_calls",
)


def _behaviour_from_mapping(position: int, raw: Any) -> KeyBehaviour:
    if not isinstance(raw, Mapping) or "label" not in raw:
        raise GatewayConfigError(f"key #{position}: expected an object with a label")
    try:
        kind = BehaviourKind(raw.get("behaviour", "valid"))
        faults = tuple(fault_named(name) for name in raw.get("faults", ALL_FAULTS))
    except ValueError as error:
        raise GatewayConfigError(f"key #{position} ({raw['label']}): {error}") from None
    params = {name: raw[name] for name in _KEY_PARAMS if name in raw}
    return KeyBehaviour(label=str(raw["label"]), kind=kind, faults=faults, **params)


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _names(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise GatewayConfigError("wrong_url_operations must be a list of operations")
    return tuple(str(name) for name in value)


def _error_rate_from_mapping(raw: Any) -> ErrorRate | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise GatewayConfigError("error_rate must be an object")
    return ErrorRate(
        share=float(raw.get("share", 0.0)),
        every=_optional_int(raw.get("every")),
        faults=tuple(fault_named(name) for name in raw.get("faults", TRANSIENT_FAULTS)),
        seed=int(raw.get("seed", 1)),
        retry_after_s=_optional_int(raw.get("retry_after_s")),
    )


def _config_from_mapping(raw: Mapping[str, Any]) -> GatewayConfig:
    keys_raw = raw.get("keys", {})
    if not isinstance(keys_raw, Mapping):
        raise GatewayConfigError("keys must map each key to an object")
    keys = {
        str(key): _behaviour_from_mapping(position, value)
        for position, (key, value) in enumerate(keys_raw.items())
    }
    provinces = raw.get("provinces")
    try:
        return GatewayConfig(
            keys=keys,
            generation=Generation(raw.get("generation", "modern")),
            seed=int(raw.get("seed", 1)),
            sizes=None
            if raw.get("sizes") is None
            else {str(code): int(n) for code, n in raw["sizes"].items()},
            provinces=None
            if provinces is None
            else tuple(Province(str(p["code"]), str(p["name"])) for p in provinces),
            merged_2026=bool(raw.get("merged_2026", False)),
            page_cap=_optional_int(raw.get("page_cap")),
            latency_s=float(raw.get("latency_s", 0.0)),
            latency_per_row_s=float(raw.get("latency_per_row_s", 0.0)),
            host_blocked=bool(raw.get("host_blocked", False)),
            refuse_default_user_agents=bool(raw.get("refuse_default_user_agents", False)),
            slow_s=float(raw.get("slow_s", 35.0)),
            unknown_operation=UnknownOperation(raw.get("unknown_operation", "code_12")),
            per_second_limit=_optional_int(raw.get("per_second_limit")),
            per_second_lock_s=float(raw.get("per_second_lock_s", 60.0)),
            bare_daily_429=bool(raw.get("bare_daily_429", False)),
            bare_per_second_429=bool(raw.get("bare_per_second_429", False)),
            wrong_url_after=_optional_int(raw.get("wrong_url_after")),
            wrong_url_operations=_names(raw.get("wrong_url_operations", ())),
            wrong_url_answer=WrongUrl(raw.get("wrong_url_answer", "unexpected_errors")),
            error_rate=_error_rate_from_mapping(raw.get("error_rate")),
            drip_interval_s=float(raw.get("drip_interval_s", 1.0)),
            huge_body_bytes=int(raw.get("huge_body_bytes", 200_000_000)),
        )
    except (ValueError, TypeError, KeyError) as error:
        raise GatewayConfigError(f"bad gateway config: {error}") from None
