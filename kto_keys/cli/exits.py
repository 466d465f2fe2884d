"""The one table from what happened to the exit code a command gives (the README shows it too)."""

from __future__ import annotations

from kto_keys.core.errors import (
    BudgetExhaustedError,
    CacheLockedError,
    CollectLockedError,
    FileAccessError,
    GatewayUnavailableError,
    HostBlockedError,
    HostUnreachableError,
    KtoKeysError,
    NoUsableKeyError,
    RequestError,
    ServiceConfigError,
    SettingsError,
    SettingsProblem,
    SharedStateLostError,
    Terminated,
)
from kto_keys.core.health import HealthLevel

OK = 0
FAILED = 1
USAGE = 2  # a bad setting or option, or a wrong service URL: fix the configuration
UNKNOWN = 3  # `health` and `test-keys`: unknown, including their own usage errors
STOPPED = 4  # no usable key, quota or budget left: the work is kept, the next run goes on
HOST_REFUSED = 5  # this machine cannot use the service: refused by the gateway, or cut off
STATE_LOST = 6  # the shared key pool's server (KTO_STATE_URL) cannot be reached: the work is kept
TRY_LATER = 75  # sysexits' EX_TEMPFAIL: another run holds the database or the cache; try later
INTERRUPTED = 130  # Ctrl-C
TERMINATED = 143  # SIGTERM

ERROR_EXIT_CODES: dict[type[KtoKeysError], int] = {
    SettingsError: USAGE,
    ServiceConfigError: USAGE,
    RequestError: FAILED,
    NoUsableKeyError: STOPPED,
    BudgetExhaustedError: STOPPED,
    GatewayUnavailableError: STOPPED,
    HostBlockedError: HOST_REFUSED,
    HostUnreachableError: HOST_REFUSED,
    SharedStateLostError: STATE_LOST,
    CacheLockedError: TRY_LATER,
    CollectLockedError: TRY_LATER,
    FileAccessError: FAILED,  # a path that cannot be written: one line naming it and why
    Terminated: TERMINATED,
}

# `health` follows the monitoring convention: 0 ok, 1 warning, 2 critical, 3 unknown.
HEALTH_EXIT_CODES: dict[HealthLevel, int] = {
    HealthLevel.HEALTHY: 0,
    HealthLevel.WARNING: 1,
    HealthLevel.DANGER: 2,
    HealthLevel.CRITICAL: 2,
    HealthLevel.UNKNOWN: 3,
}


# Commands whose exit code is a health level: a usage error there is "unknown" (3), never 2.
HEALTH_COMMANDS = frozenset({"health", "test-keys"})


# A key store that cannot be opened leaves no key usable: `health` calls that critical (2).
_STORE_SHUT = frozenset({SettingsProblem.KEYSTORE_WRONG_MASTER, SettingsProblem.KEYSTORE_NO_MASTER})


def health_exit_for_error(error: BaseException) -> int:
    """`health` stopped by an error: unknown (3), but critical (2) when the store stays shut."""
    if isinstance(error, SettingsError) and error.problem in _STORE_SHUT:
        return HEALTH_EXIT_CODES[HealthLevel.CRITICAL]
    return HEALTH_EXIT_CODES[HealthLevel.UNKNOWN]


def recover_exit_code(recovered: list[bool], expired_waiting: int = 0) -> int:
    """`recover`: 0 when nothing needed recovery or every key came back; 1 when some stay out,
    a probed key still refused or an expired key waiting for a new expiry date."""
    return OK if all(recovered) and not expired_waiting else FAILED


def reported_as_success(code: int, quota_as_failure: bool = False) -> bool:
    """What cron monitoring counts a success (pings, the metrics' last success): 0, and a stop
    for quota (4), which keeps the work for the next run, unless KTO_PING_QUOTA_AS_FAILURE."""
    return code == OK or (code == STOPPED and not quota_as_failure)


def exit_code_for(error: BaseException) -> int:
    """The exit code for an error that ended a command."""
    if isinstance(error, KeyboardInterrupt):
        return INTERRUPTED
    for kind in type(error).__mro__:
        if kind in ERROR_EXIT_CODES:
            return ERROR_EXIT_CODES[kind]
    return FAILED
