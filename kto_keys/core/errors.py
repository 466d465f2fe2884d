"""The errors a user can meet. Each carries data; the command line's catalog words it, in Korean
or English, and its one table gives the exit code. No sentence is built here."""

from __future__ import annotations

import errno
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any


class RunOutcome(StrEnum):
    """How a run ended: set from the type of the error that ended it."""

    RUNNING = "running"
    COMPLETE = "complete"
    PLANNED = "planned"  # --plan: the list is complete, the detail plan made, no detail call
    STOPPED = "stopped"  # for lack of keys, quota or budget: the work is kept, the next run goes on
    FAILED = "failed"
    INTERRUPTED = "interrupted"


class KtoKeysError(Exception):
    """Base of every error kto-keys reports to a user in one line."""

    # What a run that meets this error has done: failed, unless a subclass says it only stopped.
    outcome = RunOutcome.FAILED

    def __init__(self, **fields: Any) -> None:
        super().__init__(*fields.values())
        self.fields = fields
        # The report of the run this error ended, when a job ran one (see jobs.collect).
        self.report: Any = None

    def __str__(self) -> str:
        shown = ", ".join(f"{name}={value!r}" for name, value in self.fields.items())
        return f"{type(self).__name__}({shown})"

    def to_json(self) -> dict[str, Any]:
        """The error as JSON-ready data: its type and fields, the same in every language."""
        data: dict[str, Any] = {"error": type(self).__name__}
        for name, value in self.fields.items():
            data[name] = _json_value(value)
        return data


def _json_value(value: Any) -> Any:
    """A field as JSON: times in ISO form, keys as `#index` and preview, paths as text."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(name): _json_value(item) for name, item in value.items()}
    if isinstance(value, tuple | list):
        return [_json_value(item) for item in value]
    if hasattr(value, "preview") and hasattr(value, "index"):
        return {"key": f"#{value.index}", "preview": value.preview}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


class SettingsProblem(StrEnum):
    """What is wrong with a setting or an option; the catalog has one line for each.

    The comment after each names the details that come with it.
    """

    KEYS_EMPTY = "keys_empty"  # path
    ENV_FILE_UNREADABLE = "env_file_unreadable"  # path, reason, code (errno name or None)
    NOT_WHOLE_NUMBER = "not_whole_number"  # setting, value
    TOO_SMALL = "too_small"  # setting, value, minimum
    NOT_SECONDS = "not_seconds"  # setting, value
    NOT_RATE = "not_rate"  # setting, value
    NOT_FINITE = "not_finite"  # setting, value
    NEGATIVE = "negative"  # setting, value
    TOO_LONG = "too_long"  # setting, value, maximum
    NOT_POSITIVE_TIMEOUT = "not_positive_timeout"
    NOT_POSITIVE = "not_positive"  # setting, value
    NOT_HTTP_URL = "not_http_url"  # setting, value
    NOT_ONE_OF = "not_one_of"  # setting, value, valid
    UNKNOWN_DETAILS = "unknown_details"  # values, valid
    UNKNOWN_FORMAT = "unknown_format"  # value, valid
    UNKNOWN_MODE = "unknown_mode"  # setting, value, valid
    UNKNOWN_AREA_CODES = "unknown_area_codes"  # values
    UNKNOWN_PROVINCE_CODES = "unknown_province_codes"  # values
    RESERVE_TOO_LARGE = "reserve_too_large"  # value, limit
    RESERVE_ABOVE_KEY_LIMIT = "reserve_above_key_limit"  # value, index, limit
    NO_SUCH_KEY = "no_such_key"  # value, last
    NO_DATABASE = "no_database"  # path
    EMPTY_CODES = "empty_codes"  # setting
    NOT_A_NUMBER = "not_a_number"  # setting, values
    LDONG_ALONE = "ldong_alone"
    REGIONS_NEEDED = "regions_needed"
    REGIONS_WITHOUT_MODE = "regions_without_mode"  # value
    NO_LONGER_LISTED = "no_longer_listed"  # values, listed
    BAD_GATEWAY_CONFIG = "bad_gateway_config"  # path, reason
    ODD_KEY = "odd_key"  # position, length
    PORT_UNAVAILABLE = "port_unavailable"  # value (host:port), reason
    NOT_A_COMMAND = "not_a_command"  # setting, value, reason
    NOT_A_DATE = "not_a_date"  # setting, value
    KEYS_FILE_LINE = "keys_file_line"  # path, line, line_problem (KeyLineProblem), [word|place]
    KEYS_FILE_UNREADABLE = "keys_file_unreadable"  # path, reason, code
    KEYSTORE_WRONG_MASTER = "keystore_wrong_master"  # path
    KEYSTORE_NO_MASTER = "keystore_no_master"  # path
    KEYSTORE_MISSING = "keystore_missing"  # path
    KEYSTORE_UNREADABLE = "keystore_unreadable"  # path, reason
    MASTER_KEY_INVALID = "master_key_invalid"  # setting
    MASTER_KEY_UNREADABLE = "master_key_unreadable"  # path, reason, code
    KEY_NOT_GIVEN = "key_not_given"
    NOT_A_KEY = "not_a_key"  # length
    NO_IMPORT_SOURCE = "no_import_source"
    ONE_KEY_AT_A_TIME = "one_key_at_a_time"  # count
    STATE_URL_NEEDED = "state_url_needed"  # command


class SettingsError(KtoKeysError):
    """Bad configuration: a setting, an env file or an option value."""

    def __init__(self, problem: SettingsProblem, **details: Any) -> None:
        super().__init__(problem=problem, **details)
        self.problem = problem
        self.details: Mapping[str, Any] = details


class ServiceConfigError(KtoKeysError):
    """The base URL points at a retired or missing service (gateway code 12)."""

    def __init__(self, base_url: str, code: str | None, symbol: str = "", answer: str = "") -> None:
        super().__init__(base_url=base_url, code=code, symbol=symbol, answer=answer)
        self.base_url, self.code, self.symbol = base_url, code, symbol
        # The gateway's own words when it gave no code (`Unexpected errors`, `API not found`).
        self.answer = answer


class RequestError(KtoKeysError):
    """Our own request was wrong (codes 10, 11, 20 key-missing, 33): no key is to blame."""

    def __init__(
        self, code: str | None, symbol: str = "", parameter: str | None = None, message: str = ""
    ) -> None:
        super().__init__(code=code, symbol=symbol, parameter=parameter, message=message)
        self.code, self.symbol, self.parameter, self.message = code, symbol, parameter, message


class NoUsableKeyError(KtoKeysError):
    """No key can make the call now; says which key is usable soonest, why not now, and when."""

    outcome = RunOutcome.STOPPED

    def __init__(
        self,
        operation: str | None,
        key: Any = None,
        reason: str | None = None,
        until: datetime | None = None,
        left: Mapping[str, int] | None = None,
    ) -> None:
        super().__init__(operation=operation, key=key, reason=reason, until=until, left=left)
        self.operation, self.key, self.reason, self.until = operation, key, reason, until
        # Details still to fetch per operation, when the detail phase stopped.
        self.left: Mapping[str, int] = left or {}

    @property
    def next_usable_at(self) -> datetime | None:
        """When a key is next usable (None: not by waiting)."""
        return self.until


class BudgetExhaustedError(KtoKeysError):
    """The run's call budget (--budget) is spent with work left."""

    outcome = RunOutcome.STOPPED

    def __init__(self, budget: int, left: Mapping[str, int] | None = None) -> None:
        super().__init__(budget=budget, left=left)
        self.budget = budget
        self.left: Mapping[str, int] = left or {}


class GatewayUnavailableError(KtoKeysError):
    """The gateway kept failing for every key for minutes: stop and keep the work."""

    outcome = RunOutcome.STOPPED

    def __init__(self, since: datetime) -> None:
        super().__init__(since=since)
        self.since = since


class HostBlockedError(KtoKeysError):
    """The gateway refuses this machine: code 29, or (code None) every key refused without a code."""

    def __init__(self, code: str | None, symbol: str = "") -> None:
        super().__init__(code=code, symbol=symbol)
        self.code, self.symbol = code, symbol


class HostUnreachableError(KtoKeysError):
    """This machine cannot reach the gateway (no address, nothing listening): no key is to blame."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(host=host, reason=reason)
        self.host, self.reason = host, reason


class SharedStateLostError(KtoKeysError):
    """The shared key pool's server (KTO_STATE_URL) cannot be reached: at the start (no call was
    made) or during a run (no new call; the calls in flight finished and their outcomes wait in
    the local journal). `url` is shown with its password masked; the work is kept."""

    outcome = RunOutcome.STOPPED

    def __init__(self, url: str, reason: str, during_run: bool = False) -> None:
        super().__init__(url=url, reason=reason, during_run=during_run)
        self.url, self.reason, self.during_run = url, reason, during_run


class CacheLockedError(KtoKeysError):
    """Another process holds the key cache's lock for too long."""

    def __init__(self, path: Path) -> None:
        super().__init__(path=path)
        self.path = path


class CollectLockedError(KtoKeysError):
    """Another collection is running on the same database."""

    def __init__(self, path: Path) -> None:
        super().__init__(path=path)
        self.path = path


class Terminated(KtoKeysError):
    """SIGTERM arrived: the run stopped cleanly, with the work kept."""

    outcome = RunOutcome.INTERRUPTED

    def __init__(self) -> None:
        super().__init__()


class FileAccessError(KtoKeysError):
    """A file of ours (the key cache, a log, an export) cannot be written, or its folder made:
    which path, the system's reason, and its errno name (`ENOSPC`, `EACCES`, `EROFS`, ...)."""

    def __init__(self, path: Path, reason: str, code: str | None = None) -> None:
        super().__init__(path=path, reason=reason, code=code)
        self.path, self.reason, self.code = path, reason, code

    @classmethod
    def of(cls, path: Path, error: OSError) -> FileAccessError:
        """The error for `path` from what the system said."""
        number = error.errno
        code = errno.errorcode.get(number) if number is not None else None
        return cls(path, error.strerror or type(error).__name__, code)
