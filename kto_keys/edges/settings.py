"""Settings: CLI options over the environment over the env file, checked into a frozen value."""

from __future__ import annotations

import math
import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values

from kto_keys.core.errors import SettingsError, SettingsProblem
from kto_keys.core.keyring import RemovedKey, merge_sources, parse_keys_file
from kto_keys.core.keys import KeyWarning, ServiceKey, parse_keys
from kto_keys.core.operations import DetailKind
from kto_keys.core.pool import Policy
from kto_keys.core.shared import mask_url
from kto_keys.edges.atomic import read_text_or_refuse, reason_of
from kto_keys.edges.keystore import default_master_file, find_master, open_keystore

DEFAULT_BASE_URL = "https://apis.data.go.kr/B551011/KorService2"
DEFAULTS: dict[str, str] = {
    "KTO_API_KEY": "",
    # A keys file: one key a line, with label=, expires=, limit= and standby after it.
    "KTO_API_KEY_FILE": "",
    # The encrypted key store, used when it exists; its master key, or a file holding it.
    "KTO_KEYSTORE_PATH": "data/keystore.db",
    "KTO_KEYSTORE_KEY": "",
    "KTO_KEYSTORE_KEY_FILE": "",
    "KTO_KEYSTORE_AUTO_IMPORT": "false",
    "KTO_API_DAILY_LIMIT": "1000",
    "KTO_API_BASE_URL": DEFAULT_BASE_URL,
    "KTO_CACHE_PATH": "data/cache/api_key_cache.json",
    "KTO_DB_PATH": "data/kto.db",
    "KTO_LOG_DIR": "logs",
    "KTO_MAX_CONSECUTIVE_ERRORS": "5",
    "KTO_RATE_LIMIT_COOLDOWN_S": "3600",
    "KTO_ERROR_WAIT_S": "600",
    "KTO_RECOVERY_AFTER_S": "1800",
    "KTO_RESERVE": "0",
    "KTO_LANG": "ko",
    "KTO_CONNECT_TIMEOUT_S": "10",
    "KTO_READ_TIMEOUT_S": "30",
    "KTO_REQUEST_DEADLINE_S": "60",
    "KTO_MAX_BODY_MB": "16",
    "KTO_OUTAGE_LIMIT_S": "300",
    "KTO_ALLOW_ODD_KEYS": "false",
    # Calls per second with one key: the gateway locks a key for about 60 s past 22-33 a second
    # (the lowest measured is 22), so the default stays safely under it.
    "KTO_KEY_RPS": "20",
    "KTO_HISTORY_DAYS": "30",
    "KTO_PING_URL": "",
    "KTO_PING_QUOTA_AS_FAILURE": "false",
    "KTO_METRICS_FILE": "",
    "KTO_ON_EVENT": "",
    # The shared key pool (redis://, rediss://, unix:// or valkey://); empty: the JSON cache.
    "KTO_STATE_URL": "",
    # How long one round trip to the shared state may take before the server counts as lost.
    "KTO_STATE_TIMEOUT_S": "5",
}
# The schemes KTO_STATE_URL takes: Redis >= 7.0 and Valkey >= 7.2 speak the same protocol.
STATE_URL_SCHEMES = ("redis", "rediss", "unix", "valkey")
LANGUAGES = ("ko", "en")
# systemd passes credentials as files in this folder; this one is read as a keys file.
CREDENTIALS_KEYS_FILE = "kto_api_keys"
# Defaults of the collect options, written once: the CLI, the menu, the jobs and the demo use them.
DEFAULT_CONCURRENCY = 4
DEFAULT_PAGE_SIZE = 1000
DEFAULT_DETAILS: tuple[DetailKind, ...] = (DetailKind.INTRO, DetailKind.COMMON)
# Days `history` shows unless told otherwise (the CLI and the menu).
DEFAULT_HISTORY_WINDOW = 14
# Longer waits overflow timedelta/datetime arithmetic in the pool; no real setting comes near.
_MAX_SECONDS = 10**9


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting of a run, checked."""

    keys: tuple[ServiceKey, ...]
    key_warnings: tuple[KeyWarning, ...]
    key_source: str
    daily_limit: int
    base_url: str
    cache_path: Path
    db_path: Path
    log_dir: Path
    max_consecutive_errors: int
    rate_limit_cooldown_s: float
    error_wait_s: float
    recovery_after_s: float
    reserve: int
    lang: str
    connect_timeout_s: float
    read_timeout_s: float
    request_deadline_s: float
    max_body_mb: float
    outage_limit_s: float
    key_rps: float
    # Days the raw call history is kept; its daily roll-ups are kept for good.
    history_days: int
    # healthchecks.io-style URL pinged at the start and end of `collect` (None: no pings).
    ping_url: str | None
    # Whether a stop for quota (exit 4) is reported to monitoring as a failure.
    ping_quota_as_failure: bool
    # Prometheus textfile written after every command that touches keys (None: none).
    metrics_file: Path | None
    # The command run, without a shell, for each event a person must act on (empty: none).
    on_event: tuple[str, ...]
    env_file: Path | None = None
    sources: Mapping[str, str] = field(default_factory=dict)
    # The encrypted key store (its keys are in `keys`, merged with the other sources').
    keystore_path: Path = Path(DEFAULTS["KTO_KEYSTORE_PATH"])
    keystore_key: str = field(default="", repr=False)  # a secret: never shown
    keystore_key_file: Path | None = None
    # Where the master key is made when none is set (the user's configuration folder).
    master_default_file: Path = field(default_factory=lambda: default_master_file(os.environ))
    keystore_auto_import: bool = False
    # KTO_API_KEY's own keys, for `keys import --from-env`.
    env_keys: tuple[ServiceKey, ...] = field(default=(), repr=False)
    # Keys the store removed that the keys file or KTO_API_KEY still holds: they stay out.
    removed_keys: tuple[RemovedKey, ...] = ()
    # The shared key pool's server (None: the JSON cache) and one round trip's time limit.
    state_url: str | None = None
    state_timeout_s: float = 5.0

    def policy(self) -> Policy:
        """The key pool's thresholds."""
        return Policy(
            daily_limit=self.daily_limit,
            reserve=self.reserve,
            max_consecutive_errors=self.max_consecutive_errors,
            rate_limit_cooldown=timedelta(seconds=self.rate_limit_cooldown_s),
            error_wait=timedelta(seconds=self.error_wait_s),
            recovery_after=timedelta(seconds=self.recovery_after_s),
        )

    def require_keys(self) -> None:
        """Fail with a clear line when no key is configured."""
        if not self.keys:
            raise SettingsError(
                SettingsProblem.KEYS_EMPTY, setting="KTO_API_KEY", path=self.env_file or ".env"
            )


def load_settings(
    env_file: Path | None = None,
    overrides: Mapping[str, str | None] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    read_env_file: bool = True,
) -> Settings:
    """Read settings with the precedence CLI options > environment > env file > defaults."""
    here = cwd or Path.cwd()
    env = os.environ if environ is None else environ
    file_path, file_values = _read_env_file(env_file, here) if read_env_file else (None, {})
    values: dict[str, str] = dict(DEFAULTS)
    sources = dict.fromkeys(DEFAULTS, "default")
    for name in DEFAULTS:
        for origin, layer in (
            (str(file_path), file_values),
            ("environment", env),
            ("option", overrides or {}),
        ):
            value = layer.get(name)
            if value is not None:
                values[name] = value
                sources[name] = origin
    allow_odd = _flag(values, "KTO_ALLOW_ODD_KEYS")
    parsed = parse_keys(
        values["KTO_API_KEY"], _key_source(sources["KTO_API_KEY"], here), allow_odd=allow_odd
    )
    keys_file = _keys_file(values, env, here)
    file_keys = read_keys_file(keys_file, here, allow_odd) if keys_file is not None else ()
    keystore_path = _path(values["KTO_KEYSTORE_PATH"], here)
    master_file = values["KTO_KEYSTORE_KEY_FILE"].strip()
    keystore_key_file = _path(master_file, here) if master_file else None
    store_keys: tuple[ServiceKey, ...] = ()
    removed: frozenset[str] = frozenset()
    master_default = default_master_file(env)
    if keystore_path.is_file():
        master = find_master(values["KTO_KEYSTORE_KEY"], keystore_key_file, master_default)
        with open_keystore(keystore_path, master) as store:
            store_keys, removed = store.service_keys(), store.removed()
    ring = merge_sources(
        [layer for layer in (store_keys, file_keys, parsed.keys) if layer], removed
    )
    daily_limit = _integer(values, "KTO_API_DAILY_LIMIT", minimum=1)
    reserve = _integer(values, "KTO_RESERVE", minimum=0)
    if reserve >= daily_limit:
        raise SettingsError(
            SettingsProblem.RESERVE_TOO_LARGE,
            setting="KTO_RESERVE",
            value=reserve,
            limit=daily_limit,
        )
    for key in ring.keys:
        own = key.attributes.limit
        if own is not None and reserve >= own:
            raise SettingsError(
                SettingsProblem.RESERVE_ABOVE_KEY_LIMIT, value=reserve, index=key.index, limit=own
            )
    connect_timeout = _seconds(values, "KTO_CONNECT_TIMEOUT_S")
    read_timeout = _seconds(values, "KTO_READ_TIMEOUT_S")
    if connect_timeout <= 0 or read_timeout <= 0:
        raise SettingsError(SettingsProblem.NOT_POSITIVE_TIMEOUT)
    return Settings(
        keys=ring.keys,
        key_warnings=parsed.warnings,
        key_source=sources["KTO_API_KEY"],
        daily_limit=daily_limit,
        base_url=_base_url(values["KTO_API_BASE_URL"]),
        cache_path=_path(values["KTO_CACHE_PATH"], here),
        db_path=_path(values["KTO_DB_PATH"], here),
        log_dir=_path(values["KTO_LOG_DIR"], here),
        max_consecutive_errors=_integer(values, "KTO_MAX_CONSECUTIVE_ERRORS", minimum=1),
        rate_limit_cooldown_s=_seconds(values, "KTO_RATE_LIMIT_COOLDOWN_S"),
        error_wait_s=_seconds(values, "KTO_ERROR_WAIT_S"),
        recovery_after_s=_seconds(values, "KTO_RECOVERY_AFTER_S"),
        reserve=reserve,
        lang=_language(values["KTO_LANG"]),
        connect_timeout_s=connect_timeout,
        read_timeout_s=read_timeout,
        request_deadline_s=_positive_seconds(values, "KTO_REQUEST_DEADLINE_S"),
        max_body_mb=_positive_seconds(values, "KTO_MAX_BODY_MB"),
        outage_limit_s=_positive_seconds(values, "KTO_OUTAGE_LIMIT_S"),
        key_rps=_rate(values, "KTO_KEY_RPS"),
        history_days=_integer(values, "KTO_HISTORY_DAYS", minimum=1),
        ping_url=_optional_url(values, "KTO_PING_URL"),
        ping_quota_as_failure=_flag(values, "KTO_PING_QUOTA_AS_FAILURE"),
        metrics_file=_path(values["KTO_METRICS_FILE"], here)
        if values["KTO_METRICS_FILE"].strip()
        else None,
        on_event=_command(values, "KTO_ON_EVENT"),
        env_file=file_path,
        sources=sources,
        keystore_path=keystore_path,
        keystore_key=values["KTO_KEYSTORE_KEY"],
        keystore_key_file=keystore_key_file,
        master_default_file=master_default,
        keystore_auto_import=_flag(values, "KTO_KEYSTORE_AUTO_IMPORT"),
        env_keys=parsed.keys,
        removed_keys=ring.removed,
        state_url=_state_url(values, "KTO_STATE_URL"),
        state_timeout_s=_positive_seconds(values, "KTO_STATE_TIMEOUT_S"),
    )


def _keys_file(values: Mapping[str, str], env: Mapping[str, str], here: Path) -> Path | None:
    """KTO_API_KEY_FILE (or --keys-file), else systemd's credential, else none."""
    named = values["KTO_API_KEY_FILE"].strip()
    if named:
        return _path(named, here)
    credentials = env.get("CREDENTIALS_DIRECTORY", "").strip()
    if credentials:
        candidate = Path(credentials) / CREDENTIALS_KEYS_FILE
        if candidate.is_file():
            return candidate
    return None


def read_keys_file(path: Path, here: Path, allow_odd: bool = False) -> tuple[ServiceKey, ...]:
    """The keys of a keys file, named by its path relative to `here` where it can be."""
    shown = _key_source(str(path), here)
    text = read_text_or_refuse(path, SettingsProblem.KEYS_FILE_UNREADABLE, shown)
    return parse_keys_file(text, shown, allow_odd=allow_odd)


def _read_env_file(env_file: Path | None, here: Path) -> tuple[Path | None, dict[str, str]]:
    path = (here / env_file) if env_file is not None and not env_file.is_absolute() else env_file
    if path is None:
        path = here / ".env"
        if not path.exists():
            return None, {}
    try:
        with path.open(encoding="utf-8") as handle:
            values = dotenv_values(stream=handle)
    except (OSError, UnicodeDecodeError) as error:
        reason, code = reason_of(error)
        raise SettingsError(
            SettingsProblem.ENV_FILE_UNREADABLE, path=path, reason=reason, code=code
        ) from None
    return path, {name: value for name, value in values.items() if value is not None}


def _key_source(origin: str, here: Path) -> str:
    if origin in ("environment", "option", "default"):
        return origin
    try:
        return str(Path(origin).relative_to(here))
    except ValueError:
        return origin


def _integer(values: Mapping[str, str], name: str, minimum: int) -> int:
    text = values[name].strip()
    try:
        number = int(text)
    except ValueError:
        raise SettingsError(SettingsProblem.NOT_WHOLE_NUMBER, setting=name, value=text) from None
    if number < minimum:
        raise SettingsError(SettingsProblem.TOO_SMALL, setting=name, value=number, minimum=minimum)
    return number


def _seconds(values: Mapping[str, str], name: str) -> float:
    text = values[name].strip()
    try:
        number = float(text)
    except ValueError:
        raise SettingsError(SettingsProblem.NOT_SECONDS, setting=name, value=text) from None
    if not math.isfinite(number):
        raise SettingsError(SettingsProblem.NOT_FINITE, setting=name, value=text)
    if number < 0:
        raise SettingsError(SettingsProblem.NEGATIVE, setting=name, value=text)
    if number > _MAX_SECONDS:
        raise SettingsError(
            SettingsProblem.TOO_LONG, setting=name, value=text, maximum=_MAX_SECONDS
        )
    return number


def _flag(values: Mapping[str, str], name: str) -> bool:
    text = values[name].strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("", "0", "false", "no", "off"):
        return False
    raise SettingsError(
        SettingsProblem.NOT_ONE_OF, setting=name, value=text, valid=("true", "false")
    )


def _positive_seconds(values: Mapping[str, str], name: str) -> float:
    number = _seconds(values, name)
    if number <= 0:
        raise SettingsError(SettingsProblem.NOT_POSITIVE, setting=name, value=number)
    return number


def _rate(values: Mapping[str, str], name: str) -> float:
    """A finite number of calls per second, more than 0."""
    text = values[name].strip()
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not (math.isfinite(number) and number > 0):
        raise SettingsError(SettingsProblem.NOT_RATE, setting=name, value=text)
    return number


def _base_url(text: str) -> str:
    url = text.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(SettingsProblem.NOT_HTTP_URL, setting="KTO_API_BASE_URL", value=text)
    return url


def _optional_url(values: Mapping[str, str], name: str) -> str | None:
    text = values[name].strip()
    if not text:
        return None
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(SettingsProblem.NOT_HTTP_URL, setting=name, value=text)
    return text.rstrip("/")


def _state_url(values: Mapping[str, str], name: str) -> str | None:
    """A Redis or Valkey URL, or None for the JSON cache."""
    text = values[name].strip()
    if not text:
        return None
    parts = urlsplit(text)
    try:
        well_formed = parts.port is None or parts.port > 0
    except ValueError:  # a port that is no number, or out of range
        well_formed = False
    if not well_formed or parts.scheme not in STATE_URL_SCHEMES or not (parts.netloc or parts.path):
        raise SettingsError(
            SettingsProblem.NOT_ONE_OF,
            setting=name,
            value=mask_url(text),
            valid=tuple(f"{scheme}://" for scheme in STATE_URL_SCHEMES),
        )
    return text


def _command(values: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A command line split as a POSIX shell would, but run without one: no expansion."""
    try:
        return tuple(shlex.split(values[name]))
    except ValueError as error:
        raise SettingsError(
            SettingsProblem.NOT_A_COMMAND, setting=name, value=values[name], reason=str(error)
        ) from None


def _path(text: str, here: Path) -> Path:
    path = Path(text.strip()).expanduser()
    return path if path.is_absolute() else here / path


def _language(text: str) -> str:
    lang = text.strip().lower()
    if lang not in LANGUAGES:
        raise SettingsError(
            SettingsProblem.NOT_ONE_OF, setting="KTO_LANG", value=text, valid=LANGUAGES
        )
    return lang


def settings_in(folder: Path, keys: list[str], base_url: str, **overrides: str) -> Settings:
    """Settings with every file inside `folder` and no env file: the demo, tests and benchmarks."""
    environ = {
        "KTO_API_KEY": ",".join(keys),
        "KTO_API_BASE_URL": base_url,
        "KTO_CACHE_PATH": str(folder / "cache" / "api_key_cache.json"),
        "KTO_DB_PATH": str(folder / "kto.db"),
        "KTO_LOG_DIR": str(folder / "logs"),
        "KTO_KEYSTORE_PATH": str(folder / "keystore.db"),
        **overrides,
    }
    return load_settings(environ=environ, read_env_file=False)
