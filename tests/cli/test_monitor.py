"""Monitoring for cron: pings in healthchecks.io's protocol, the Prometheus metrics file read by
prometheus_client's own parser, and KTO_ON_EVENT, against the local gateway and a local monitor."""

from __future__ import annotations

import json
import os
import shlex
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import GatewayFactory, env_for, hex_key, invoke
from prometheus_client.parser import text_string_to_metric_families

from kto_keys.core.clock import FakeClock
from kto_keys.sim import BehaviourKind, KeyBehaviour

# Every test runs in an empty folder, with no outside KTO_* setting, on the fake clock.
pytestmark = pytest.mark.usefixtures("isolated")


# --- a cron monitor on 127.0.0.1 ---------------------------------------------------------------
class Monitor:
    """A healthchecks.io stand-in: keeps every request's method, path and body, answers 200."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str, bytes]] = []
        monitor = self

        class Handler(BaseHTTPRequestHandler):
            def _keep(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                monitor.received.append((self.command, self.path, self.rfile.read(length)))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"OK")

            do_GET = do_POST = _keep

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/ping/7f3a"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def signals(self) -> list[tuple[str, str]]:
        """(method, last part of the path) of each ping, in order."""
        return [(method, path.rsplit("/", 1)[1]) for method, path, _ in self.received]

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def monitor() -> Iterator[Monitor]:
    """A local cron monitor."""
    server = Monitor()
    yield server
    server.close()


def dead_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: every connection is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/ping/dead"


# --- pings -------------------------------------------------------------------------------------
def test_a_cron_run_pings_start_then_0_with_the_summary_as_body(
    gateway: GatewayFactory, monitor: Monitor, isolated: Path
) -> None:
    """The installed script, as cron runs it: /start, then /0 whose body is the very summary
    `collect --json` printed; nothing else on stdout."""
    keys = [hex_key(), hex_key()]
    gw = gateway({k: KeyBehaviour(f"k{i}") for i, k in enumerate(keys)}, sizes={"11": 6})
    script = Path(sys.executable).with_name("kto-keys")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("KTO_")},
        **env_for(keys, gw.base_url, KTO_PING_URL=monitor.url),
    }
    result = subprocess.run(
        [str(script), "collect", "--ldong", "11", "--json", "--quiet"],
        cwd=isolated, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert monitor.signals() == [("GET", "start"), ("POST", "0")]
    assert json.loads(monitor.received[1][2]) == summary
    assert summary["outcome"] == "complete"


@pytest.mark.parametrize(
    ("more", "expected"),
    [
        pytest.param({}, "0", id="quota-stop-is-success"),
        pytest.param({"KTO_PING_QUOTA_AS_FAILURE": "true"}, "4", id="quota-stop-as-failure"),
    ],
)
def test_a_stop_for_quota_pings_0_unless_told_it_is_a_failure(
    gateway: GatewayFactory, monitor: Monitor, more: dict[str, str], expected: str
) -> None:
    """--budget stops the run (exit 4, the work kept): success for the monitor by default."""
    key = hex_key()
    gw = gateway({key: KeyBehaviour("k")}, sizes={"11": 20})
    env = env_for([key], gw.base_url, KTO_PING_URL=monitor.url, **more)
    code, _, _ = invoke("collect", "--ldong", "11", "--budget", "5", env=env)
    assert code == 4
    assert monitor.signals() == [("GET", "start"), ("POST", expected)]
    body = json.loads(monitor.received[1][2])
    assert body["outcome"] == "stopped" and body["stopped_by"]["error"] == "BudgetExhaustedError"


def test_a_failed_run_pings_its_exit_code_with_what_stopped_it(
    gateway: GatewayFactory, monitor: Monitor
) -> None:
    """A gateway refusing this machine: /5, the summary naming the error; a bad option: /2 with
    the error as the body, since no run began."""
    key = hex_key()
    gw = gateway({key: KeyBehaviour("k")}, host_blocked=True)
    env = env_for([key], gw.base_url, KTO_PING_URL=monitor.url)
    assert invoke("collect", "--ldong", "11", env=env)[0] == 5
    assert monitor.signals() == [("GET", "start"), ("POST", "5")]
    assert json.loads(monitor.received[1][2])["stopped_by"]["error"] == "HostBlockedError"
    monitor.received.clear()
    assert invoke("collect", "--regions", "99", env=env)[0] == 2
    assert monitor.signals() == [("GET", "start"), ("POST", "2")]
    body = json.loads(monitor.received[1][2])
    assert body["exit_code"] == 2 and body["stopped_by"]["problem"] == "unknown_area_codes"


def test_a_dead_ping_url_changes_nothing_but_one_warning_line(gateway: GatewayFactory) -> None:
    """Connection refused at start and at the end, each tried three times: the run completes
    with exit 0, its JSON intact, and stderr has one line about the monitor."""
    key = hex_key()
    gw = gateway({key: KeyBehaviour("k")}, sizes={"11": 4})
    env = env_for([key], gw.base_url, KTO_PING_URL=dead_url())
    code, out, err = invoke("collect", "--ldong", "11", "--json", "--quiet", env=env)
    assert code == 0 and json.loads(out)["outcome"] == "complete"
    warnings = [line for line in err.splitlines() if "could not ping" in line]
    assert len(warnings) == 1 and "127.0.0.1" in warnings[0] and "/ping/dead" not in err


def test_other_commands_do_not_ping(gateway: GatewayFactory, monitor: Monitor) -> None:
    """Only a collection is a cron run: `disable` and `recover` write metrics, never ping."""
    key = hex_key()
    env = env_for([key], gateway({key: KeyBehaviour("k")}).base_url, KTO_PING_URL=monitor.url)
    assert invoke("disable", "0", env=env)[0] == 0
    assert invoke("recover", env=env)[0] == 0
    assert monitor.received == []


# --- the metrics file --------------------------------------------------------------------------
def metrics(path: Path) -> dict[str, list[tuple[dict[str, str], float]]]:
    """The file as prometheus_client's parser reads it: name -> (labels, value) samples."""
    families = text_string_to_metric_families(path.read_text(encoding="utf-8"))
    return {
        family.name: [(sample.labels, sample.value) for sample in family.samples]
        for family in families
    }


def value(samples: list[tuple[dict[str, str], float]], **labels: str) -> float:
    """The one sample whose labels include these."""
    [found] = [v for have, v in samples if labels.items() <= have.items()]
    return found


def test_the_metrics_file_after_a_collection_and_a_disable(
    gateway: GatewayFactory, isolated: Path, clock: FakeClock
) -> None:
    """Run figures, quota left, each key's state, expiry and calls today, labelled by index and
    preview only, readable by the collector; `disable` rewrites it and keeps collect's figures."""
    good, dead, spare = hex_key(), hex_key(), hex_key()
    gw = gateway(
        {
            good: KeyBehaviour("good"),
            dead: KeyBehaviour("dead", BehaviourKind.EXPIRED),
            spare: KeyBehaviour("spare"),
        },
        sizes={"11": 12},
    )
    path = isolated / "textfile" / "kto_keys.prom"
    env = env_for(
        [good, dead, spare], gw.base_url, KTO_METRICS_FILE=str(path), KTO_API_DAILY_LIMIT="100"
    )
    code, out, _ = invoke("collect", "--ldong", "11", "--page-size", "5", "--json", env=env)
    assert code == 0
    summary = json.loads(out)
    text = path.read_text(encoding="utf-8")
    assert good not in text and dead not in text and good[:11] not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    figures = metrics(path)
    now = clock.now().timestamp()
    assert value(figures["kto_keys_last_exit_code"], command="collect") == 0
    assert value(figures["kto_keys_last_run_timestamp_seconds"], command="collect") == now
    assert value(figures["kto_keys_last_success_timestamp_seconds"], command="collect") == now
    assert value(figures["kto_keys_last_run_duration_seconds"], command="collect") >= 0
    run_calls = figures["kto_keys_last_run_calls"]
    assert sum(v for _, v in run_calls) == gw.total() == summary["total_calls"]
    assert value(run_calls, operation="detailIntro2", outcome="success") == 12
    assert value(run_calls, outcome="key_unusable") == 1
    assert (
        value(figures["kto_keys_keys_total"]) == 3 and value(figures["kto_keys_keys_working"]) == 2
    )
    assert value(figures["kto_keys_key_working"], index="1") == 0
    assert value(figures["kto_keys_key_state"], index="1", preview=dead[:10] + "...") == 1
    [(labels, _)] = [s for s in figures["kto_keys_key_state"] if s[0]["index"] == "1"]
    assert labels["state"] == "deactivated"
    assert [labels["index"] for labels, _ in figures["kto_keys_key_expiry_timestamp_seconds"]] == [
        "1"
    ]
    assert value(figures["kto_keys_key_expiry_timestamp_seconds"], index="1") == now
    today = figures["kto_keys_key_calls_today"]
    for index, label in enumerate(("good", "dead", "spare")):
        for operation, count in gw.counts().get(label, {}).items():
            assert value(today, index=str(index), operation=operation) == count
    used = {op: sum(v for labels, v in today if labels["operation"] == op and labels["index"] != "1")
            for op in ("areaBasedList2", "detailIntro2", "detailCommon2")}  # fmt: skip
    for operation, count in used.items():
        assert value(figures["kto_keys_quota_left"], operation=operation) == 2 * 100 - count
    assert invoke("disable", "0", env=env)[0] == 0
    figures = metrics(path)
    assert value(figures["kto_keys_last_exit_code"], command="disable") == 0
    assert value(figures["kto_keys_last_exit_code"], command="collect") == 0
    assert value(figures["kto_keys_keys_working"]) == 1
    [(labels, _)] = [s for s in figures["kto_keys_key_state"] if s[0]["index"] == "0"]
    assert labels["state"] == "disabled"


def test_status_and_health_write_no_metrics(isolated: Path) -> None:
    """Commands that only read touch no key: no metrics file, no database."""
    path = isolated / "kto_keys.prom"
    env = {"KTO_API_KEY": hex_key(), "KTO_METRICS_FILE": str(path), "KTO_LANG": "en"}
    assert invoke("status", env=env)[0] == 0 and invoke("health", env=env)[0] == 0
    assert not path.exists() and not (isolated / "data").exists()


def test_a_metrics_file_that_cannot_be_written_is_one_line_and_the_exit_code_stands(
    isolated: Path,
) -> None:
    """A file where the metrics' folder should be: `disable` still exits 0, one warning line."""
    (isolated / "blocked").write_text("a file, not a folder")
    env = {"KTO_API_KEY": hex_key(), "KTO_METRICS_FILE": str(isolated / "blocked" / "m.prom"),
           "KTO_LANG": "en"}  # fmt: skip
    code, _, err = invoke("disable", "0", env=env)
    assert code == 0
    assert err.count("cannot write the metrics file") == 1 and err.count("\n") == 1


# --- KTO_ON_EVENT ------------------------------------------------------------------------------
def hook_command(tmp_path: Path, exit_code: int = 0) -> tuple[str, Path]:
    """A command that appends its stdin to a file (and ends with `exit_code`)."""
    script = tmp_path / "on_event.py"
    received = tmp_path / "events.jsonl"
    script.write_text(
        "import sys\n"
        f"with open(sys.argv[1], 'a', encoding='utf-8') as out:\n"
        "    out.write(sys.stdin.read())\n"
        f"sys.stderr.write('hook says no\\n')\nsys.exit({exit_code})\n",
        encoding="utf-8",
    )
    return shlex.join([sys.executable, str(script), str(received)]), received


def received_events(path: Path) -> list[dict[str, Any]]:
    """One JSON object per line, as the command read them."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_on_event_receives_one_json_event_per_deactivation(
    gateway: GatewayFactory, isolated: Path
) -> None:
    """Two keys refused (31, 30) among three: the command runs twice, one event each, with the
    key named by index and preview; a 22 or a success runs nothing."""
    dead, unknown, good, small = hex_key(), hex_key(), hex_key(), hex_key()
    gw = gateway(
        {
            dead: KeyBehaviour("dead", BehaviourKind.EXPIRED),
            unknown: KeyBehaviour("unregistered", BehaviourKind.NOT_REGISTERED),
            good: KeyBehaviour("good"),
            small: KeyBehaviour("small", daily_limit=2),
        },
        sizes={"11": 20},
    )
    command, received = hook_command(isolated)
    env = env_for([dead, unknown, good, small], gw.base_url, KTO_ON_EVENT=command)
    code, _, err = invoke("collect", "--ldong", "11", "--page-size", "5", env=env)
    assert code == 0 and "KTO_ON_EVENT" not in err
    events = received_events(received)
    assert sorted((e["event"], e["key"], e["code"]) for e in events) == [
        ("deactivated", "#0", "31"),
        ("deactivated", "#1", "30"),
    ]
    assert {e["preview"] for e in events} == {dead[:10] + "...", unknown[:10] + "..."}
    assert all(e["run_id"] == 1 and e["at"].endswith("+09:00") for e in events)
    assert dead not in received.read_text(encoding="utf-8")


def test_on_event_hears_the_pool_turn_critical_once(
    gateway: GatewayFactory, isolated: Path
) -> None:
    """Every key refused: a deactivation each, then one `pool_critical`; the run stops (4)."""
    keys = [hex_key(), hex_key()]
    gw = gateway({k: KeyBehaviour(f"d{i}", BehaviourKind.EXPIRED) for i, k in enumerate(keys)})
    command, received = hook_command(isolated)
    env = env_for(keys, gw.base_url, KTO_ON_EVENT=command)
    assert invoke("collect", "--ldong", "11", env=env)[0] == 4
    events = received_events(received)
    assert [e["event"] for e in events] == ["deactivated", "deactivated", "pool_critical"]
    assert events[-1]["working"] == 0 and events[-1]["total"] == 2


def test_a_failing_event_command_never_fails_the_run(
    gateway: GatewayFactory, isolated: Path
) -> None:
    """The command exits 3: the run still exits 0, and stderr says so in one line with the
    command's name, its exit code and its last line, not its arguments."""
    dead, good = hex_key(), hex_key()
    gw = gateway({dead: KeyBehaviour("dead", BehaviourKind.EXPIRED), good: KeyBehaviour("good")})
    command, received = hook_command(isolated, exit_code=3)
    env = env_for([dead, good], gw.base_url, KTO_ON_EVENT=command)
    code, _, err = invoke("collect", "--ldong", "11", "--details", "none", "--quiet", env=env)
    assert code == 0 and len(received_events(received)) == 1
    [line] = [line for line in err.splitlines() if "KTO_ON_EVENT" in line]
    assert "failed (exit code 3): hook says no" in line and str(received) not in line


def test_an_event_command_that_cannot_start_is_one_line(gateway: GatewayFactory) -> None:
    """A program that does not exist: exit 0, one line naming it."""
    dead, good = hex_key(), hex_key()
    gw = gateway({dead: KeyBehaviour("dead", BehaviourKind.EXPIRED), good: KeyBehaviour("good")})
    env = env_for([dead, good], gw.base_url, KTO_ON_EVENT="/nonexistent/notify --urgent")
    code, _, err = invoke("collect", "--ldong", "11", "--details", "none", env=env)
    assert code == 0
    [line] = [line for line in err.splitlines() if "KTO_ON_EVENT" in line]
    assert "cannot run the KTO_ON_EVENT command notify" in line and "--urgent" not in line
