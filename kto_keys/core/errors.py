"""The exceptions a user can meet, each with the exit code the CLI gives it."""

from __future__ import annotations

from datetime import datetime


class KtoKeysError(Exception):
    """Base of every error that kto-keys reports to a user in one line."""

    exit_code = 1


class SettingsError(KtoKeysError):
    """Bad configuration: a setting, an env file or an option value."""

    exit_code = 2


class ServiceConfigError(KtoKeysError):
    """The base URL points at a retired or missing service (gateway code 12)."""

    exit_code = 2


class RequestError(KtoKeysError):
    """Our own request was wrong (codes 10, 11, 20 key-missing, 33): no key is to blame."""

    exit_code = 1

    def __init__(self, message: str, parameter: str | None = None) -> None:
        super().__init__(message)
        self.parameter = parameter


class NoUsableKeyError(KtoKeysError):
    """No key can make the call now; carries when one is next usable."""

    exit_code = 4

    def __init__(self, message: str, next_usable_at: datetime | None = None) -> None:
        super().__init__(message)
        self.next_usable_at = next_usable_at


class BudgetExhaustedError(KtoKeysError):
    """The run's call budget (--budget) is spent with work left."""

    exit_code = 4


class GatewayUnavailableError(KtoKeysError):
    """The gateway kept failing for every key for minutes: stop and keep the work."""

    exit_code = 4


class HostBlockedError(KtoKeysError):
    """The gateway refuses this machine (code 29, or every key refused without a code)."""

    exit_code = 5


class CacheLockedError(KtoKeysError):
    """Another process holds a lock for too long."""

    exit_code = 1


class CollectLockedError(KtoKeysError):
    """Another collection is running on the same database."""

    exit_code = 1
