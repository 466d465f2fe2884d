"""The command line as users meet it: exit codes, one-line errors, tables, JSON, no escape codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import GatewayFactory, base64_key, encoded, env_for, hex_key, invoke

from kto_keys import __version__
from kto_keys.core.clock import FakeClock
from kto_keys.sim import BehaviourKind, KeyBehaviour

# Every test runs in an empty folder, with no outside KTO_* setting, on the fake clock.
pytestmark = pytest.mark.usefixtures("isolated")


def test_version_prints_the_version() -> None:
    """`kto-keys --version`."""
    code, out, _ = invoke("--version")
    assert code == 0 and out.strip() == f"kto-keys {__version__}"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        pytest.param(
            "KTO_API_DAILY_LIMIT",
            "lots",
            "KTO_API_DAILY_LIMIT='lots' is not a whole number",
            id="limit",
        ),
        pytest.param(
            "KTO_ERROR_WAIT_S", "-5", "KTO_ERROR_WAIT_S=-5 must not be negative", id="negative-wait"
        ),
        pytest.param(
            "KTO_API_BASE_URL",
            "ftp://x",
            "KTO_API_BASE_URL='ftp://x' is not an http(s) URL",
            id="url",
        ),
        pytest.param("KTO_API_KEY", " , ", "KTO_API_KEY is empty", id="no-keys"),
    ],
)
def test_bad_configuration_is_one_line_naming_the_setting_and_exit_2(
    variable: str, value: str, expected: str
) -> None:
    """Never a traceback: one line on stderr, exit code 2."""
    env = env_for([hex_key()])
    env[variable] = value
    code, out, err = invoke("status", env=env)
    assert code == 2
    assert err.count("\n") == 1 and expected in err and "Traceback" not in err
    assert out == ""


def test_unreadable_env_file_is_a_configuration_error(isolated: Path) -> None:
    """`--env-file` naming a missing file: exit 2, the file named."""
    code, _, err = invoke("--lang", "en", "--env-file", "missing.env", "status")
    assert code == 2 and "cannot read env file" in err and "missing.env" in err


def test_configuration_errors_are_korean_by_default(isolated: Path) -> None:
    """Without --lang or KTO_LANG, a configuration error is Korean with no English: its line,
    and the system's reason (a file that is not there) on a detail line in Korean words."""
    code, out, err = invoke("--env-file", "missing.env", "status")
    assert code == 2 and out == ""
    assert err == (
        f"kto-keys: env 파일 {isolated / 'missing.env'}을(를) 읽을 수 없습니다\n"
        "  상세: 파일이 없습니다\n"
    )
    code, _, err = invoke("--lang", "en", "--env-file", "missing.env", "status")
    assert code == 2
    assert err == (
        f"kto-keys: cannot read env file {isolated / 'missing.env'}: No such file or directory\n"
    )


def test_env_file_option_and_precedence(isolated: Path) -> None:
    """`--env-file` is read; the environment wins over it."""
    file_key, env_key = hex_key(), hex_key()
    (isolated / "custom.env").write_text(
        f"KTO_API_KEY={file_key}\nKTO_API_DAILY_LIMIT=7\n", encoding="utf-8"
    )
    code, out, _ = invoke("--env-file", "custom.env", "status", "--json")
    data = json.loads(out)
    assert (
        code == 0
        and data["keys"][0]["preview"] == file_key[:10] + "..."
        and data["keys"][0]["limit"] == 7
    )
    assert data["keys"][0]["source"] == "custom.env"
    code, out, _ = invoke(
        "--env-file", "custom.env", "status", "--json", env={"KTO_API_KEY": env_key}
    )
    data = json.loads(out)
    assert data["keys"][0]["preview"] == env_key[:10] + "..." and data["keys"][0]["limit"] == 7
    assert data["keys"][0]["source"] == "environment"


def test_dotenv_in_the_current_folder_is_read(isolated: Path) -> None:
    """Keys in ./.env work without any option."""
    key = hex_key()
    (isolated / ".env").write_text(f"KTO_API_KEY={key}\n", encoding="utf-8")
    code, out, _ = invoke("status", "--json")
    assert code == 0 and json.loads(out)["keys"][0]["source"] == ".env"


def test_status_shows_both_formats_and_forms_masked_without_escape_codes(isolated: Path) -> None:
    """Hex, base64 Decoding and base64 Encoding keys: one row each, duplicates merged, nothing leaked."""
    hexed, b64 = hex_key(), base64_key()
    keys = [hexed, b64, encoded(b64), "", "short-key"]
    code, out, err = invoke("--allow-odd-keys", "status", "--wide", env=env_for(keys))
    assert code == 0
    for column in (
        "#",
        "key",
        "source",
        "state",
        "usage today",
        "errors",
        "last error",
        "next usable",
    ):
        assert column in out
    assert "#0" in out and "#1" in out and "#2" in out and "#3" not in out
    assert "entry 3 duplicates key #1" in err and "short-key" not in err.replace("short-key...", "")
    assert "\x1b" not in out + err
    for secret in (hexed, b64, encoded(b64), hexed[:11], b64[:11]):
        assert secret not in out + err
    cache_path = isolated / "data" / "cache" / "api_key_cache.json"
    assert not cache_path.exists()  # status only reads: it writes no file
    assert invoke("--allow-odd-keys", "disable", "0", env=env_for(keys))[0] == 0
    cache = cache_path.read_text(encoding="utf-8")
    for secret in (hexed, b64, encoded(b64), hexed[:11], b64[:11]):
        assert secret not in cache


def test_status_json_is_machine_output_on_stdout() -> None:
    """`status --json`: one JSON document on stdout with every key."""
    keys = [hex_key(), base64_key()]
    code, out, _ = invoke("status", "--json", env=env_for(keys))
    data = json.loads(out)
    assert code == 0 and [k["index"] for k in data["keys"]] == [0, 1]
    assert {
        "preview",
        "state",
        "usage",
        "limit",
        "consecutive_errors",
        "total_errors",
        "last_error",
        "next_usable_at",
        "stats",
    } <= set(data["keys"][0])


@pytest.mark.parametrize(
    ("keys", "disabled", "expected"),
    [
        pytest.param(5, 1, 0, id="healthy-80"),
        pytest.param(4, 1, 1, id="warning-75"),
        pytest.param(2, 1, 1, id="warning-50"),
        pytest.param(3, 2, 2, id="danger-33"),
        pytest.param(2, 2, 2, id="critical"),
    ],
)
def test_health_exit_codes_follow_the_levels(keys: int, disabled: int, expected: int) -> None:
    """0 healthy, 1 warning, 2 danger or critical."""
    env = env_for([hex_key() for _ in range(keys)])
    for index in range(disabled):
        assert invoke("disable", str(index), env=env)[0] == 0
    code, out, _ = invoke("health", env=env)
    assert code == expected
    assert f"{keys - disabled}/{keys}" in out


def test_health_is_unknown_without_keys() -> None:
    """No key configured: exit 3, never the configuration code 2."""
    code, _, err = invoke("--lang", "en", "health", env={"KTO_API_KEY": ""})
    assert code == 3 and "unknown" in err


def test_health_is_unknown_when_the_cache_was_corrupt(isolated: Path) -> None:
    """A corrupt cache is set aside; the state is lost, so health says unknown."""
    cache = isolated / "data" / "cache" / "api_key_cache.json"
    cache.parent.mkdir(parents=True)
    cache.write_text("{not json", encoding="utf-8")
    code, out, _ = invoke("health", "--json", env=env_for([hex_key()]))
    assert code == 3 and json.loads(out)["level"] == "unknown"
    assert list(cache.parent.glob("api_key_cache.json.corrupt-*"))


def test_a_key_cache_the_system_will_not_read_is_said_in_korean_words(isolated: Path) -> None:
    """A folder where the key cache should be: set aside, and the line says why in Korean
    (the catalog's words for the errno), not in the system's English words."""
    cache = isolated / "data" / "cache" / "api_key_cache.json"
    cache.mkdir(parents=True)
    code, _, err = invoke("status", env={**env_for([hex_key()]), "KTO_LANG": "ko"})
    assert code == 0
    [aside] = list(cache.parent.glob("api_key_cache.json.unreadable-*"))
    assert err == (
        f"⚠️  키 캐시 {cache}: 읽을 수 없음 (파일이 아니라 폴더입니다); {aside.name}(으)로 옮기고 "
        "새 키 상태로 시작합니다\n"
    )
    assert "Is a directory" not in err


def test_disable_and_enable_by_hand() -> None:
    """`disable N --reason` takes a key out; `enable N` puts it back."""
    env = env_for([hex_key(), hex_key()])
    code, out, _ = invoke("disable", "1", "--reason", "shared with the web team", env=env)
    assert code == 0 and "disabled" in out
    data = json.loads(invoke("status", "--json", env=env)[1])
    assert data["keys"][1]["state"] == "disabled"
    assert invoke("enable", "1", env=env)[0] == 0
    assert json.loads(invoke("status", "--json", env=env)[1])["keys"][1]["state"] == "active"
    code, _, err = invoke("disable", "7", env=env)
    assert code == 2 and "no key #7" in err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(["--regions", "1,99"], "unknown area code 99; valid: 1 Seoul", id="area"),
        pytest.param(
            ["--mode", "everything"],
            "unknown mode 'everything'; valid: major, all, regions",
            id="mode",
        ),
        pytest.param(["--ldong", "11,99"], "unknown province code 99; valid: 11 Seoul", id="ldong"),
        pytest.param(
            ["--details", "menu"], "valid: intro, common, images, none, all", id="details"
        ),
        pytest.param(
            ["--mode", "regions"],
            '--mode regions needs --regions "1,6,31"',
            id="mode-without-codes",
        ),
    ],
)
def test_bad_collect_options_exit_2_without_calling_the_service(
    gateway: GatewayFactory, args: list[str], expected: str
) -> None:
    """One clear line listing the valid values, exit 2, and no call at all."""
    key = hex_key()
    gw = gateway({key: KeyBehaviour("k")})
    code, _, err = invoke("collect", *args, env=env_for([key], gw.base_url))
    assert code == 2 and expected in err and err.count("\n") == 1
    assert gw.total() == 0


def test_collect_summary_json_and_exit_0(gateway: GatewayFactory) -> None:
    """`collect --ldong 11 --json`: the summary as JSON on stdout."""
    keys = [hex_key(), hex_key()]
    gw = gateway({k: KeyBehaviour(f"k{i}") for i, k in enumerate(keys)}, sizes={"11": 9})
    code, out, _ = invoke("collect", "--ldong", "11", "--json", env=env_for(keys, gw.base_url))
    summary = json.loads(out)
    assert code == 0 and summary["outcome"] == "complete"
    assert summary["listing"]["records"] == 9
    assert summary["details"]["fetched"] == {"detailIntro2": 9, "detailCommon2": 9}
    assert summary["total_calls"] == gw.total() == summary["minimum_calls"]


def test_collect_summary_names_twenty_keys_and_counts_the_rest(gateway: GatewayFactory) -> None:
    """A run spread over 25 keys: 20 key lines, then one line for the other 5."""
    keys = [hex_key() for _ in range(25)]
    gw = gateway({k: KeyBehaviour(f"k{i}") for i, k in enumerate(keys)}, sizes={"11": 30})
    env = env_for(keys, gw.base_url)
    code, _, err = invoke("collect", "--ldong", "11", env=env)
    key_lines = [line for line in err.splitlines() if line.startswith("    #")]
    assert code == 0 and len(key_lines) == 20
    assert (
        err.splitlines()[-1] == "    … and 5 more keys (each of them: --json or kto-keys history)"
    )


def test_collect_without_usable_keys_exits_4_naming_the_soonest(gateway: GatewayFactory) -> None:
    """Every key out: exit 4, the soonest key and time, a hint to recover, and no call."""
    keys = [hex_key(), hex_key()]
    gw = gateway({k: KeyBehaviour(f"k{i}") for i, k in enumerate(keys)})
    env = env_for(keys, gw.base_url, KTO_RECOVERY_AFTER_S="3600")
    for index in (0, 1):
        invoke("disable", str(index), env=env)
    code, _, err = invoke("collect", env=env)
    # Every key out by hand: the advice is to enable one, not a recovery probe that skips them.
    assert code == 4 and "no usable key" in err and "kto-keys enable" in err
    assert "recover" not in err
    assert gw.total() == 0


def test_collect_on_a_blocked_host_exits_5(gateway: GatewayFactory) -> None:
    """Code 29: exit 5, the keys left as they were."""
    keys = [hex_key(), hex_key()]
    gw = gateway({k: KeyBehaviour(f"k{i}") for i, k in enumerate(keys)}, host_blocked=True)
    env = env_for(keys, gw.base_url)
    code, _, err = invoke("collect", "--ldong", "11", env=env)
    assert code == 5 and "refuses this machine" in err
    states = json.loads(invoke("status", "--json", env=env)[1])["keys"]
    assert all(k["state"] == "active" and k["total_errors"] == 0 for k in states)


def test_recover_and_test_keys(gateway: GatewayFactory, isolated: Path, clock: FakeClock) -> None:
    """`test-keys basic` writes its log; `recover --force` probes the dead key with its own call."""
    good, dead = hex_key(), hex_key()
    gw = gateway({good: KeyBehaviour("good"), dead: KeyBehaviour("dead", BehaviourKind.EXPIRED)})
    env = env_for([good, dead], gw.base_url)
    code, out, _ = invoke("test-keys", "basic", env=env)
    assert code == 1 and "#0" in out and "#1" in out and "31" in out
    logs = list((isolated / "logs").glob("api_key_test_*.log"))
    assert len(logs) == 1 and "#1" in logs[0].read_text(encoding="utf-8")
    gw.reset_counts()
    code, out, _ = invoke("recover", env=env)
    assert code == 1 and "no deactivated key is due" in out and gw.total() == 0
    assert f"#1 {dead[:10]}...: expired" in out  # no probe, but it stays out: exit 1
    code, out, _ = invoke("recover", "--force", env=env)
    assert code == 1 and "still unusable" in out  # a key stays out: exit 1
    assert gw.counts() == {"dead": {"ldongCode2": 1}}


def test_regions_needs_no_key() -> None:
    """`regions` prints the mapping without any key configured."""
    code, out, _ = invoke("regions", "--json", env={"KTO_API_KEY": ""})
    rows = json.loads(out)
    assert code == 0
    assert {k: v for k, v in rows[8].items() if k in ("area", "lDongRegnCd")} == {
        "area": "31",
        "lDongRegnCd": "41",
    }


def test_export_without_a_database_says_so() -> None:
    """Nothing collected yet: one line and exit 2."""
    code, _, err = invoke("--lang", "en", "export", env={"KTO_API_KEY": ""})
    assert code == 2 and "no database" in err


def test_installed_script_runs_in_a_subprocess(isolated: Path) -> None:
    """The console script itself: an odd key is refused in one line (exit 2), and used with a
    warning under --allow-odd-keys."""
    script = Path(sys.executable).with_name("kto-keys")
    env = {
        "PATH": str(script.parent),
        "KTO_API_KEY": "abc",
        "KTO_LANG": "en",
        "HOME": str(isolated),
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(script), *args], cwd=isolated, env=env, capture_output=True, text=True, timeout=60
        )

    refused = run("status")
    assert refused.returncode == 2 and refused.stdout == ""
    assert (
        refused.stderr.count("\n") == 1
        and "entry 1 (3 characters) cannot be a key" in refused.stderr
    )
    result = run("--allow-odd-keys", "status")
    assert result.returncode == 0, result.stderr
    assert "neither 64 hex nor 88 base64" in result.stderr and "#0" in result.stdout
    assert "\x1b" not in result.stdout + result.stderr


def test_programmatic_api_manages_keys(isolated: Path, clock: FakeClock) -> None:
    """From Python: summary, health, one key's status, deactivate and reactivate."""
    import kto_keys

    key = hex_key()
    settings = kto_keys.load_settings(
        environ={"KTO_API_KEY": f"{key},{hex_key()}"}, read_env_file=False
    )
    assert kto_keys.status_summary(settings, clock)["level"] == "healthy"
    row = kto_keys.deactivate_key(0, "testing", settings, clock)
    assert row.state == "disabled" and row.preview == key[:10] + "..."
    assert kto_keys.check_health(settings, clock).working == 1
    assert kto_keys.reactivate_key(0, settings, clock).state == "active"
    assert kto_keys.key_detail(1, settings, clock).index == 1
    assert kto_keys.recover(settings=settings, clock=clock) == []


def test_gateway_command_serves_a_config_file(isolated: Path) -> None:
    """`kto-keys gateway --config F --port P` answers like the gateway, for a person to try."""
    import socket
    import urllib.request

    key = hex_key()
    config = isolated / "gateway.json"
    config.write_text(
        json.dumps({"keys": {key: {"label": "mine", "behaviour": "valid"}}, "sizes": {"11": 3}})
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    script = Path(sys.executable).with_name("kto-keys")
    child = subprocess.Popen(
        [str(script), "gateway", "--port", str(port), "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = child.stdout.readline() if child.stdout else ""
        assert f"127.0.0.1:{port}" in line
        url = (
            f"http://127.0.0.1:{port}/B551011/KorService2/areaBasedList2?serviceKey={key}"
            "&MobileOS=ETC&MobileApp=test&_type=json&lDongRegnCd=11"
        )
        with urllib.request.urlopen(url, timeout=10) as answer:
            body = json.loads(answer.read())
        assert body["response"]["body"]["totalCount"] == 3
    finally:
        child.terminate()
        child.wait(timeout=10)


def test_a_corrupt_cache_is_reported_in_one_line_by_every_command(isolated: Path) -> None:
    """`status` sets a corrupt cache aside and says so on stderr."""
    cache = isolated / "data" / "cache" / "api_key_cache.json"
    cache.parent.mkdir(parents=True)
    cache.write_bytes(b"\x00\xff garbage")
    code, _, err = invoke("status", env=env_for([hex_key()]))
    assert code == 0
    assert "moved to api_key_cache.json.corrupt-" in err and err.count("\n") == 1


def test_json_output_is_the_same_in_korean_and_english(gateway: GatewayFactory) -> None:
    """`status --json` and `health --json` are data: --lang changes no byte of them."""
    good, dead = hex_key(), hex_key()
    gw = gateway(
        {good: KeyBehaviour("good"), dead: KeyBehaviour("dead", BehaviourKind.NOT_REGISTERED)}
    )
    env = env_for([dead, good], gw.base_url)
    invoke("collect", "--ldong", "11", "--details", "none", env=env)
    for command in ("status", "health"):
        korean = invoke("--lang", "ko", command, "--json", env=env)
        english = invoke("--lang", "en", command, "--json", env=env)
        assert korean[0] == english[0]
        assert json.loads(korean[1]) == json.loads(english[1]), command


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_status_fits_80_columns_with_one_line_per_key(gateway: GatewayFactory, lang: str) -> None:
    """Six keys of both formats, some out: each key is one line, no line wider than 80 cells."""
    from rich.cells import cell_len

    keys = [hex_key(), base64_key(), hex_key(), base64_key(), hex_key(), hex_key()]
    behaviours = {k: KeyBehaviour(f"k{i}") for i, k in enumerate(keys)}
    behaviours[keys[0]] = KeyBehaviour("dead", BehaviourKind.EXPIRED)
    gw = gateway(behaviours, sizes={"11": 9})
    env = env_for(keys, gw.base_url)
    invoke("collect", "--ldong", "11", env=env)
    invoke("disable", "3", env=env)
    code, out, _ = invoke("--lang", lang, "status", env=env)
    lines = out.rstrip("\n").splitlines()
    assert code == 0
    assert all(cell_len(line) <= 80 for line in lines), lines
    for index, key in enumerate(keys):
        [line] = [line for line in lines if line.startswith(f"#{index} ")]
        assert key[:10] in line
        assert "…" not in line  # nothing cut short on a key's own line
    assert len(lines) <= 2 + len(keys) + 2  # title, header, keys, a legend of two lines at most


def test_status_wide_has_every_column(gateway: GatewayFactory) -> None:
    """`status --wide` shows source, errors, last error, success rate and next usable."""
    key = hex_key()
    gw = gateway({key: KeyBehaviour("k")})
    code, out, _ = invoke("status", "--wide", env=env_for([key], gw.base_url))
    assert code == 0
    for header in ("source", "last error", "success today", "next usable"):
        assert header in out


def test_summary_numbers_add_up_after_a_budget_stop_and_a_plan(gateway: GatewayFactory) -> None:
    """--budget: 'left' is needed minus fetched, no extra day while quota remains; --plan says
    it made no detail call, instead of 'complete'."""
    keys = [hex_key(), hex_key()]
    gw = gateway({k: KeyBehaviour(f"k{i}") for i, k in enumerate(keys)}, sizes={"11": 30})
    env = env_for(keys, gw.base_url)
    code, _, err = invoke("collect", "--ldong", "11", "--budget", "20", env=env)
    assert code == 4
    lines = [line for line in err.splitlines() if line.lstrip().startswith("detailIntro2:")]
    [intro] = [line for line in lines if "fetched" in line]
    fetched, needed, left = (int(word) for word in intro.replace(",", "").split() if word.isdigit())
    assert (needed, fetched + left) == (30, 30)
    assert "(~0 more day(s))" in intro
    code, out, err = invoke("collect", "--ldong", "11", "--plan", "--json", env=env)
    assert code == 0 and json.loads(out)["outcome"] == "planned"
    code, _, err = invoke("collect", "--ldong", "11", "--plan", env=env)
    assert "plan only (no detail call made)" in err and "collection complete" not in err


def test_a_lone_key_retrying_reports_no_key_switch(gateway: GatewayFactory) -> None:
    """Retries on the same key are no failovers: a one-key run says 0 key switches."""
    key = hex_key()
    gw = gateway(
        {key: KeyBehaviour("k", BehaviourKind.FLAKY, failure_share=0.3)}, sizes={"11": 5}, seed=3
    )
    code, out, _ = invoke("collect", "--ldong", "11", "--json", env=env_for([key], gw.base_url))
    summary = json.loads(out)
    assert code == 0 and summary["failovers"] == 0
    assert gw.total() > summary["minimum_calls"]  # it did retry


def test_a_retired_service_url_is_refused_in_one_line(gateway: GatewayFactory) -> None:
    """KorService1 answers code 12: exit 2 and a single line, no run summary around it."""
    key = hex_key()
    gw = gateway({key: KeyBehaviour("k")})
    retired = gw.base_url.replace("KorService2", "KorService1")
    code, out, err = invoke("collect", "--ldong", "11", env=env_for([key], retired))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "KTO_API_BASE_URL" in err


def test_quiet_shows_a_flaky_key_once_at_most(gateway: GatewayFactory) -> None:
    """--quiet: no line per failure of a flaky key; what remains is the summary."""
    keys = [hex_key(), hex_key()]
    gw = gateway(
        {
            keys[0]: KeyBehaviour("flaky", BehaviourKind.FLAKY, failure_share=0.3),
            keys[1]: KeyBehaviour("good"),
        },
        sizes={"11": 40},
        seed=4,
    )
    code, _, err = invoke("collect", "--ldong", "11", "--quiet", env=env_for(keys, gw.base_url))
    assert code == 0
    assert "call failed" not in err and "consecutive errors" not in err
    assert "collection complete" in err


def test_enable_probes_a_key_the_gateway_refused(gateway: GatewayFactory) -> None:
    """`enable N` on an expired key makes one probe and leaves it out (exit 1); --force doesn't."""
    good, dead = hex_key(), hex_key()
    gw = gateway({good: KeyBehaviour("good"), dead: KeyBehaviour("dead", BehaviourKind.EXPIRED)})
    env = env_for([good, dead], gw.base_url)
    invoke("test-keys", "basic", env=env)
    gw.reset_counts()
    code, out, err = invoke("enable", "1", env=env)
    assert code == 1 and "failed its probe" in err and "--force" in err
    assert gw.counts() == {"dead": {"ldongCode2": 1}}
    code, out, _ = invoke("enable", "1", "--force", env=env)
    assert code == 0 and "active" in out
    assert gw.total() == 1  # no second probe


def test_regions_after_the_2026_merger_follow_and_show_the_live_list(
    gateway: GatewayFactory,
) -> None:
    """`collect --regions 5` says in one line that it collects 12; `regions` lists 12 as live."""
    key = hex_key()
    gw = gateway({key: KeyBehaviour("k")}, merged_2026=True, sizes={"12": 4})
    env = env_for([key], gw.base_url)
    code, out, err = invoke("collect", "--regions", "5", "--details", "none", "--json", env=env)
    assert code == 0 and json.loads(out)["provinces"] == ["12"]
    [line] = [line for line in err.splitlines() if "no longer lists" in line]
    assert "29" in line and "12 전남광주통합특별시" in line
    code, out, _ = invoke("regions", "--json", env=env)
    rows = {row["lDongRegnCd"]: row for row in json.loads(out)}
    assert rows["12"]["listed"] is True
    assert rows["29"]["listed"] is False and rows["46"]["listed"] is False


def test_the_readmes_python_example_collects(gateway: GatewayFactory, isolated: Path) -> None:
    """`kto_keys.collect_now` from Python stores the records and returns the report."""
    import kto_keys

    keys = [hex_key(), hex_key()]
    gw = gateway({k: KeyBehaviour(f"k{i}") for i, k in enumerate(keys)}, sizes={"11": 4, "26": 3})
    settings = kto_keys.load_settings(
        environ={"KTO_API_KEY": ",".join(keys), "KTO_API_BASE_URL": gw.base_url},
        read_env_file=False,
    )
    assert kto_keys.status_summary(settings)["keys"] == 2
    report = kto_keys.collect_now(
        kto_keys.CollectOptions(kto_keys.select("regions", "1,6")), settings
    )
    assert report.to_json()["listing"]["records"] == 7


def test_gateway_on_a_busy_port_refuses_in_one_line_and_writes_nothing(isolated: Path) -> None:
    """A port already taken: exit 2 naming it and the system's reason; no gateway.env written."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = invoke("--lang", "en", "gateway", "--port", str(port))
    assert code == 2 and err.count("\n") == 1
    assert f"cannot listen on 127.0.0.1:{port}" in err
    assert not (isolated / "data" / "demo" / "gateway.env").exists()
    code, _, err = invoke("gateway", "--port", "99999")
    assert code == 2 and "Traceback" not in err


def test_help_speaks_the_chosen_language(isolated: Path) -> None:
    """`kto-keys --help` is Korean by default and English with --lang en; flags show no type."""
    script = Path(sys.executable).with_name("kto-keys")
    env = {"PATH": str(script.parent), "HOME": str(isolated), "COLUMNS": "100"}

    def run(*args: str) -> str:
        result = subprocess.run(
            [str(script), *args], cwd=isolated, env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    korean = run("--help")
    assert "서비스 키 풀로 TourAPI 음식점 데이터를 수집합니다." in korean
    assert "Collect TourAPI restaurant data" not in korean
    # typer's own --help line is its own; every flag of ours shows no type.
    assert all("<bool>" not in line for line in korean.splitlines() if "--help" not in line)
    english = run("--lang", "en", "collect", "--help")
    assert "List every restaurant of the chosen provinces" in english
    assert "고른 시도" not in english


def test_health_tells_a_code_22_key_its_quota_returns_at_midnight(gateway: GatewayFactory) -> None:
    """A key cooling after 22 is named with when it is tried again and that quotas reset at
    midnight KST; with nobody to call, the advice is that there is nothing to do."""
    keys = [hex_key(), hex_key()]
    gw = gateway(
        {keys[0]: KeyBehaviour("small", daily_limit=2), keys[1]: KeyBehaviour("big")},
        sizes={"11": 6},
    )
    env = env_for(keys, gw.base_url)
    invoke("collect", "--ldong", "11", env=env)
    code, out, _ = invoke("health", env=env)
    assert code == 0
    assert "daily limit reached (code 22)" in out and "quotas reset at midnight KST" in out
    assert "nothing to do" in out


@pytest.mark.parametrize(
    "path", [pytest.param("KorService1", id="retired"), pytest.param("KorService9", id="unknown")]
)
def test_test_keys_with_a_wrong_url_is_unknown_not_healthy(
    gateway: GatewayFactory, path: str
) -> None:
    """A retired or unknown service answers every key: exit 3 naming KTO_API_BASE_URL, no key out."""
    key = hex_key()
    gw = gateway({key: KeyBehaviour("k")})
    env = env_for([key], gw.base_url.replace("KorService2", path))
    code, out, err = invoke("test-keys", "all", env=env)
    assert code == 3 and "KTO_API_BASE_URL" in err and "healthy" not in out
    states = json.loads(invoke("status", "--json", env=env)[1])["keys"]
    assert states[0]["total_errors"] == 0 and states[0]["state"] == "active"


def test_retry_after_beyond_reason_is_bounded() -> None:
    """A gateway asking to wait 1e20 s or forever is held to a day, never an overflow."""
    from kto_keys.core.answers import classify

    for value in ("1e20", "inf", "nan"):
        outcome = classify(429, {"Retry-After": value}, b"")
        assert outcome.retry_after is None or outcome.retry_after <= 86_400
