"""Settings: defaults, precedence option > environment > env file, and one clear line per mistake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import base64_key, encoded, exit_code, hex_key, said

from kto_keys.core.errors import SettingsError
from kto_keys.core.pool import Policy
from kto_keys.edges.settings import DEFAULT_BASE_URL, load_settings


def write_env(path: Path, **values: str) -> Path:
    """An env file with the given settings."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{name}={value}\n" for name, value in values.items()), "utf-8")
    return path


def test_defaults_match_the_documented_table(tmp_path):
    """With nothing configured, every setting has the value that issue 9's table gives."""
    settings = load_settings(environ={}, cwd=tmp_path)
    assert settings.keys == ()
    assert settings.daily_limit == 1000
    assert settings.base_url == DEFAULT_BASE_URL == "https://apis.data.go.kr/B551011/KorService2"
    assert settings.cache_path == tmp_path / "data" / "cache" / "api_key_cache.json"
    assert settings.db_path == tmp_path / "data" / "kto.db"
    assert settings.log_dir == tmp_path / "logs"
    assert settings.max_consecutive_errors == 5
    assert settings.rate_limit_cooldown_s == 3600
    assert settings.error_wait_s == 600
    assert settings.recovery_after_s == 1800
    assert settings.reserve == 0
    assert settings.lang == "ko"
    assert (settings.connect_timeout_s, settings.read_timeout_s) == (10, 30)
    assert settings.env_file is None


def test_key_rps_defaults_under_the_lowest_limit_measured_and_refuses_nonsense(tmp_path):
    """KTO_KEY_RPS is 20 by default (keys lock past 22-33 a second); it takes fractions, and a
    value that is no rate above 0 is refused with the setting and the value."""
    assert load_settings(environ={}, cwd=tmp_path).key_rps == 20
    assert load_settings(environ={"KTO_KEY_RPS": "2.5"}, cwd=tmp_path).key_rps == 2.5
    for bad in ("0", "-3", "fast", "inf", "nan"):
        with pytest.raises(SettingsError) as error:
            load_settings(environ={"KTO_KEY_RPS": bad}, cwd=tmp_path)
        assert said(error.value) == (
            f"KTO_KEY_RPS={bad!r} is not a number of calls per second (more than 0)"
        )
        assert exit_code(error.value) == 2


def test_policy_carries_the_settings(tmp_path):
    """The pool's policy takes each threshold from the settings."""
    environ = {
        "KTO_API_DAILY_LIMIT": "500",
        "KTO_RESERVE": "50",
        "KTO_MAX_CONSECUTIVE_ERRORS": "3",
        "KTO_RATE_LIMIT_COOLDOWN_S": "120",
        "KTO_ERROR_WAIT_S": "30.5",
        "KTO_RECOVERY_AFTER_S": "900",
    }
    policy = load_settings(environ=environ, cwd=tmp_path).policy()
    assert policy == Policy(
        daily_limit=500,
        reserve=50,
        max_consecutive_errors=3,
        rate_limit_cooldown=timedelta(seconds=120),
        error_wait=timedelta(seconds=30.5),
        recovery_after=timedelta(seconds=900),
    )
    assert policy.usable_limit == 450


def test_default_policy_is_the_documented_one(tmp_path):
    """Without settings: 1000 calls a day, no reserve, 5 errors, 1 h cool-down, 10 min, 30 min."""
    policy = load_settings(environ={}, cwd=tmp_path).policy()
    assert policy == Policy(
        daily_limit=1000,
        reserve=0,
        max_consecutive_errors=5,
        rate_limit_cooldown=timedelta(hours=1),
        error_wait=timedelta(minutes=10),
        recovery_after=timedelta(minutes=30),
    )


@pytest.mark.parametrize(
    "in_file, in_env, in_option, expected, source",
    [
        pytest.param(None, None, None, 1000, "default", id="default"),
        pytest.param("700", None, None, 700, "file", id="file-over-default"),
        pytest.param("700", "800", None, 800, "environment", id="environment-over-file"),
        pytest.param("700", "800", "900", 900, "option", id="option-over-environment"),
        pytest.param(None, None, "900", 900, "option", id="option-alone"),
        pytest.param("700", None, "900", 900, "option", id="option-over-file"),
    ],
)
def test_precedence_is_option_then_environment_then_env_file(
    tmp_path, in_file, in_env, in_option, expected, source
):
    """A CLI option beats the environment, which beats the env file, which beats the default."""
    env_file = tmp_path / ".env"
    if in_file is not None:
        write_env(env_file, KTO_API_DAILY_LIMIT=in_file)
    environ = {} if in_env is None else {"KTO_API_DAILY_LIMIT": in_env}
    overrides = {} if in_option is None else {"KTO_API_DAILY_LIMIT": in_option}
    settings = load_settings(overrides=overrides, environ=environ, cwd=tmp_path)
    assert settings.daily_limit == expected
    origin = settings.sources["KTO_API_DAILY_LIMIT"]
    assert origin == (str(env_file) if source == "file" else source)


def test_option_left_unset_falls_back_to_the_environment(tmp_path):
    """An option given as None (not on the command line) does not hide the environment."""
    settings = load_settings(overrides={"KTO_LANG": None}, environ={"KTO_LANG": "en"}, cwd=tmp_path)
    assert settings.lang == "en"


def test_environment_is_read_from_os_environ_by_default(clean_env, monkeypatch):
    """Without an explicit mapping, the process environment is used."""
    key = hex_key()
    monkeypatch.setenv("KTO_API_KEY", key)
    monkeypatch.setenv("KTO_LANG", "en")
    settings = load_settings()
    assert [k.reveal() for k in settings.keys] == [key]
    assert settings.lang == "en"
    assert settings.keys[0].source == "environment"


def test_env_file_in_the_current_folder_is_read(clean_env):
    """`.env` in the current folder is read when no --env-file is given."""
    key = base64_key()
    write_env(clean_env / ".env", KTO_API_KEY=encoded(key), KTO_RESERVE="10")
    settings = load_settings()
    assert [k.reveal() for k in settings.keys] == [key]
    assert settings.reserve == 10
    assert settings.keys[0].source == ".env"
    assert settings.env_file == clean_env / ".env"


def test_explicit_env_file_is_relative_to_the_current_folder(clean_env):
    """--env-file conf/keys.env is found under the current folder and named as the source."""
    key = hex_key()
    write_env(clean_env / "conf" / "keys.env", KTO_API_KEY=key)
    settings = load_settings(env_file=Path("conf/keys.env"))
    assert [k.reveal() for k in settings.keys] == [key]
    assert settings.keys[0].source == str(Path("conf") / "keys.env")
    assert settings.env_file == clean_env / "conf" / "keys.env"


def test_explicit_env_file_replaces_the_default_env_file(tmp_path):
    """With --env-file, the `.env` of the current folder is not read."""
    in_dotenv, in_custom = hex_key(), hex_key()
    write_env(tmp_path / ".env", KTO_API_KEY=in_dotenv, KTO_LANG="en")
    write_env(tmp_path / "custom.env", KTO_API_KEY=in_custom)
    settings = load_settings(env_file=Path("custom.env"), environ={}, cwd=tmp_path)
    assert [k.reveal() for k in settings.keys] == [in_custom]
    assert settings.lang == "ko"
    assert settings.keys[0].source == "custom.env"


def test_absolute_env_file_outside_the_folder_is_named_in_full(tmp_path):
    """An env file elsewhere is named by its full path."""
    elsewhere = write_env(tmp_path / "elsewhere" / "keys.env", KTO_API_KEY=hex_key())
    here = tmp_path / "work"
    here.mkdir()
    settings = load_settings(env_file=elsewhere, environ={}, cwd=here)
    assert settings.keys[0].source == str(elsewhere)


def test_key_source_is_the_environment_when_it_overrides_the_file(tmp_path):
    """Keys set in the environment are reported as coming from the environment."""
    from_env = hex_key()
    write_env(tmp_path / ".env", KTO_API_KEY=hex_key())
    settings = load_settings(environ={"KTO_API_KEY": from_env}, cwd=tmp_path)
    assert [(k.reveal(), k.source) for k in settings.keys] == [(from_env, "environment")]
    assert settings.key_source == "environment"


def test_env_file_with_both_key_formats_and_forms(tmp_path):
    """An env file may hold hex keys and base64 keys in either form; duplicates merge."""
    hex_raw, b64_raw = hex_key(), base64_key()
    write_env(
        tmp_path / ".env",
        KTO_API_KEY=f"{hex_raw}, {encoded(b64_raw)},{b64_raw},,",
    )
    settings = load_settings(environ={}, cwd=tmp_path)
    assert [k.reveal() for k in settings.keys] == [hex_raw, b64_raw]
    assert len(settings.key_warnings) == 1
    assert settings.key_warnings[0].index == 1 and settings.key_warnings[0].position == 3


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda folder: None, id="missing"),
        pytest.param(lambda folder: (folder / "keys.env").mkdir(), id="a-folder"),
        pytest.param(
            lambda folder: (folder / "keys.env").write_bytes(b"KTO_API_KEY=\xff\xfe\x00"),
            id="not-utf8",
        ),
    ],
)
def test_unreadable_explicit_env_file_names_the_file(tmp_path, make):
    """A missing or unreadable --env-file is a settings error that names the file."""
    make(tmp_path)
    with pytest.raises(SettingsError) as caught:
        load_settings(env_file=Path("keys.env"), environ={}, cwd=tmp_path)
    assert "keys.env" in said(caught.value)
    assert exit_code(caught.value) == 2
    assert "\n" not in said(caught.value)


@pytest.mark.parametrize(
    "name, value",
    [
        pytest.param("KTO_API_DAILY_LIMIT", "lots", id="limit-not-a-number"),
        pytest.param("KTO_API_DAILY_LIMIT", "12.5", id="limit-not-whole"),
        pytest.param("KTO_API_DAILY_LIMIT", "", id="limit-empty"),
        pytest.param("KTO_API_DAILY_LIMIT", "0", id="limit-zero"),
        pytest.param("KTO_API_DAILY_LIMIT", "-5", id="limit-negative"),
        pytest.param("KTO_RESERVE", "some", id="reserve-not-a-number"),
        pytest.param("KTO_RESERVE", "-1", id="reserve-negative"),
        pytest.param("KTO_RESERVE", "1000", id="reserve-equals-limit"),
        pytest.param("KTO_RESERVE", "1500", id="reserve-above-limit"),
        pytest.param("KTO_MAX_CONSECUTIVE_ERRORS", "five", id="max-errors-not-a-number"),
        pytest.param("KTO_MAX_CONSECUTIVE_ERRORS", "0", id="max-errors-zero"),
        pytest.param("KTO_ERROR_WAIT_S", "-1", id="error-wait-negative"),
        pytest.param("KTO_ERROR_WAIT_S", "ten", id="error-wait-not-a-number"),
        pytest.param("KTO_ERROR_WAIT_S", "nan", id="error-wait-nan"),
        pytest.param("KTO_ERROR_WAIT_S", "inf", id="error-wait-infinite"),
        pytest.param("KTO_RECOVERY_AFTER_S", "1e30", id="recovery-absurdly-long"),
        pytest.param("KTO_RATE_LIMIT_COOLDOWN_S", "-0.5", id="cooldown-negative"),
        pytest.param("KTO_RECOVERY_AFTER_S", "-30", id="recovery-negative"),
        pytest.param("KTO_CONNECT_TIMEOUT_S", "0", id="connect-timeout-zero"),
        pytest.param("KTO_READ_TIMEOUT_S", "-3", id="read-timeout-negative"),
        pytest.param("KTO_API_BASE_URL", "ftp://apis.data.go.kr/B551011", id="url-ftp"),
        pytest.param("KTO_API_BASE_URL", "apis.data.go.kr/B551011/KorService2", id="url-no-scheme"),
        pytest.param("KTO_API_BASE_URL", "https://", id="url-no-host"),
        pytest.param("KTO_LANG", "jp", id="lang-unknown"),
        pytest.param("KTO_LANG", "", id="lang-empty"),
        pytest.param("KTO_HISTORY_DAYS", "0", id="history-days-zero"),
        pytest.param("KTO_HISTORY_DAYS", "a month", id="history-days-not-a-number"),
        pytest.param("KTO_PING_URL", "hc-ping.com/uuid", id="ping-url-no-scheme"),
        pytest.param("KTO_PING_QUOTA_AS_FAILURE", "maybe", id="ping-quota-not-a-flag"),
        pytest.param("KTO_ON_EVENT", "notify 'unclosed", id="on-event-unclosed-quote"),
    ],
)
def test_bad_setting_is_one_line_naming_the_setting(tmp_path, name, value):
    """Every bad value raises SettingsError (exit 2) with one line that names the setting."""
    with pytest.raises(SettingsError) as caught:
        load_settings(environ={name: value}, cwd=tmp_path)
    message = said(caught.value)
    assert name in message
    assert "\n" not in message
    assert exit_code(caught.value) == 2


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("KTO_ERROR_WAIT_S", id="error-wait"),
        pytest.param("KTO_RATE_LIMIT_COOLDOWN_S", id="cooldown"),
        pytest.param("KTO_RECOVERY_AFTER_S", id="recovery"),
    ],
)
@pytest.mark.parametrize(
    "value", [pytest.param("1e12", id="1e12"), pytest.param("inf", id="infinite")]
)
def test_wait_too_long_for_time_arithmetic_is_refused_at_load(tmp_path, name, value):
    """A wait the pool could not add to a date is a settings error, not a later traceback."""
    with pytest.raises(SettingsError, match=name):
        load_settings(environ={name: value}, cwd=tmp_path)


def test_longest_accepted_waits_still_work_in_the_pool(tmp_path):
    """Waits up to the accepted maximum give a policy whose times can be computed."""
    environ = {
        "KTO_ERROR_WAIT_S": "1000000000",
        "KTO_RATE_LIMIT_COOLDOWN_S": "1000000000",
        "KTO_RECOVERY_AFTER_S": "1000000000",
    }
    policy = load_settings(environ=environ, cwd=tmp_path).policy()
    now = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    assert now + policy.error_wait + policy.rate_limit_cooldown + policy.recovery_after > now


def test_bad_setting_in_the_env_file_names_the_setting(tmp_path):
    """A bad value read from the env file is reported the same way."""
    write_env(tmp_path / ".env", KTO_ERROR_WAIT_S="-10")
    with pytest.raises(SettingsError, match="KTO_ERROR_WAIT_S"):
        load_settings(environ={}, cwd=tmp_path)


def test_reserve_below_the_limit_is_accepted(tmp_path):
    """A reserve smaller than the limit leaves the difference usable."""
    settings = load_settings(
        environ={"KTO_API_DAILY_LIMIT": "100000", "KTO_RESERVE": "99999"}, cwd=tmp_path
    )
    assert settings.policy().usable_limit == 1


@pytest.mark.parametrize(
    "url, expected",
    [
        pytest.param("http://127.0.0.1:8080/B551011/KorService2", None, id="local-http"),
        pytest.param(
            "https://apis.data.go.kr/B551011/KorService2/",
            "https://apis.data.go.kr/B551011/KorService2",
            id="trailing-slash",
        ),
    ],
)
def test_http_and_https_base_urls_are_accepted(tmp_path, url, expected):
    """Both http (the local gateway) and https work; a trailing slash is dropped."""
    settings = load_settings(environ={"KTO_API_BASE_URL": url}, cwd=tmp_path)
    assert settings.base_url == (expected or url)


def test_language_is_case_insensitive(tmp_path):
    """KTO_LANG=EN means English."""
    assert load_settings(environ={"KTO_LANG": " EN "}, cwd=tmp_path).lang == "en"


def test_paths_are_relative_to_the_current_folder(tmp_path):
    """Relative paths resolve against the current folder; absolute ones stay."""
    absolute = tmp_path / "elsewhere" / "kto.db"
    settings = load_settings(
        environ={"KTO_CACHE_PATH": "state/cache.json", "KTO_DB_PATH": str(absolute)},
        cwd=tmp_path,
    )
    assert settings.cache_path == tmp_path / "state" / "cache.json"
    assert settings.db_path == absolute


@pytest.mark.parametrize(
    "env_file, where",
    [pytest.param(None, ".env", id="default"), pytest.param("my.env", "my.env", id="explicit")],
)
def test_no_keys_fails_require_keys_naming_kto_api_key(tmp_path, env_file, where):
    """A command that needs keys fails with a line naming KTO_API_KEY and where to put it."""
    if env_file:
        write_env(tmp_path / env_file, KTO_LANG="en")
    settings = load_settings(
        env_file=Path(env_file) if env_file else None, environ={}, cwd=tmp_path
    )
    with pytest.raises(SettingsError) as caught:
        settings.require_keys()
    assert "KTO_API_KEY" in said(caught.value)
    assert where in said(caught.value)
    assert exit_code(caught.value) == 2


def test_blank_keys_only_count_as_no_keys(tmp_path):
    """KTO_API_KEY of commas and spaces is as empty as no KTO_API_KEY."""
    settings = load_settings(environ={"KTO_API_KEY": " , ,"}, cwd=tmp_path)
    with pytest.raises(SettingsError, match="KTO_API_KEY"):
        settings.require_keys()


def test_require_keys_passes_with_keys(tmp_path):
    """With a key configured, require_keys is silent."""
    settings = load_settings(environ={"KTO_API_KEY": hex_key()}, cwd=tmp_path)
    settings.require_keys()
    assert len(settings.keys) == 1


def test_settings_repr_shows_no_key(tmp_path):
    """Printing the settings (e.g. in a traceback) shows only masked keys."""
    raw = base64_key()
    settings = load_settings(environ={"KTO_API_KEY": encoded(raw)}, cwd=tmp_path)
    text = repr(settings) + str(settings)
    for form in (raw, encoded(raw)):
        assert all(form[i : i + 11] not in text for i in range(len(form) - 10))


def test_monitoring_is_off_until_asked_for(tmp_path):
    """No ping, no metrics file, no event command by default; raw calls kept 30 days."""
    settings = load_settings(environ={}, cwd=tmp_path)
    assert settings.history_days == 30
    assert settings.ping_url is None and settings.ping_quota_as_failure is False
    assert settings.metrics_file is None and settings.on_event == ()


def test_monitoring_settings_are_read_as_given(tmp_path):
    """The ping URL loses a trailing slash; the metrics path is relative to the current folder;
    the event command is split as a shell would, but no shell will run it."""
    settings = load_settings(
        environ={
            "KTO_HISTORY_DAYS": "90",
            "KTO_PING_URL": "https://hc-ping.com/5f1c/",
            "KTO_PING_QUOTA_AS_FAILURE": "true",
            "KTO_METRICS_FILE": "textfile/kto_keys.prom",
            "KTO_ON_EVENT": "notify-send --urgency critical 'key out: $KEY'",
        },
        cwd=tmp_path,
    )
    assert settings.history_days == 90
    assert settings.ping_url == "https://hc-ping.com/5f1c" and settings.ping_quota_as_failure
    assert settings.metrics_file == tmp_path / "textfile" / "kto_keys.prom"
    assert settings.on_event == ("notify-send", "--urgency", "critical", "key out: $KEY")
