"""The local gateway in a process of its own, so that its work never shares the tool's GIL."""

from __future__ import annotations

import json
import os
import selectors
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 5.0
ADMIN_TIMEOUT_S = 10.0


def kto_keys_command() -> list[str]:
    """The installed `kto-keys` script next to this interpreter (the project's venv)."""
    script = Path(sys.executable).with_name("kto-keys")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "kto_keys.cli.app"]


def child_environment() -> dict[str, str]:
    """The environment for child processes: no KTO_* setting or colour forcing from outside,
    and bytecode cached as on a person's install (with PYTHONDONTWRITEBYTECODE, set on some
    machines, every child compiles every module again: the figure measured the compiler, and
    its noise hid what the tool does)."""
    outside = ("FORCE_COLOR", "PY_COLORS", "PYTHONDONTWRITEBYTECODE")
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("KTO_") and name not in outside
    }
    env.update({"NO_COLOR": "1", "TERM": "dumb", "PYTHONUNBUFFERED": "1"})
    return env


@dataclass(frozen=True)
class ChildRun:
    """How a child process ended, with its own resource usage from wait4."""

    exit_code: int
    usage: os.struct_rusage  # ru_maxrss, ru_utime, ru_stime: the child's own, not the gateway's
    elapsed_s: float
    timed_out: bool  # killed at the deadline; `usage` is what it had used by then

    @property
    def cpu_s(self) -> float:
        """User + system CPU seconds."""
        return float(self.usage.ru_utime + self.usage.ru_stime)


def run_child(command: list[str], log: Path, timeout_s: float, poll_s: float) -> ChildRun:
    """Run a command to its end, killed at `timeout_s`; its stderr goes to `log`."""
    started = time.perf_counter()
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=child_environment(),
        )
        deadline = started + timeout_s
        timed_out = False
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid == process.pid:
                break
            if time.perf_counter() > deadline:
                process.kill()
                _, status, usage = os.wait4(process.pid, 0)
                timed_out = True
                break
            time.sleep(poll_s)
    # wait4 reaped the child: tell Popen, so that it does not try again.
    process.returncode = os.waitstatus_to_exitcode(status)
    return ChildRun(process.returncode, usage, time.perf_counter() - started, timed_out)


def log_tail(log: Path) -> str:
    """The end of a child's stderr, for the error that says it failed."""
    return log.read_text(encoding="utf-8", errors="replace")[-600:]


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class GatewayProcess:
    """`kto-keys gateway --config F` on 127.0.0.1, with its admin counters read over HTTP."""

    def __init__(self, config: dict[str, Any], folder: Path) -> None:
        self.config_path = folder / "gateway.json"
        folder.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(json.dumps(config), encoding="utf-8")
        self.port = free_port()
        self.root_url = f"http://127.0.0.1:{self.port}"
        self.base_url = f"{self.root_url}/B551011/KorService2"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the gateway and wait, bounded, until it says it listens."""
        command = [
            *kto_keys_command(),
            "gateway",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--config",
            str(self.config_path),
        ]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            env=child_environment(),
        )
        assert self.process.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                    break
                line = self.process.stdout.readline()
                if not line:
                    break
                if b"listening" in line:
                    return
        self.stop()
        raise RuntimeError(f"the gateway did not start within {START_TIMEOUT_S:.0f} s")

    def stop(self) -> None:
        """Stop the gateway: SIGTERM, then SIGKILL if it lingers."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT_S)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None

    def __enter__(self) -> GatewayProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _admin(self, path: str, method: str = "GET") -> Any:
        request = urllib.request.Request(f"{self.root_url}/_admin/{path}", method=method)
        with urllib.request.urlopen(request, timeout=ADMIN_TIMEOUT_S) as response:
            return json.loads(response.read())

    def total(self) -> int:
        """Requests the gateway answered or dropped since the last reset."""
        return int(self._admin("total")["total"])

    def counts(self) -> dict[str, dict[str, int]]:
        """Requests per key label and operation."""
        result: dict[str, dict[str, int]] = self._admin("counts")
        return result

    def events(self) -> dict[str, dict[str, int]]:
        """Per key label: code-23 answers ("per_second_refusals") and locks ("locks")."""
        result: dict[str, dict[str, int]] = self._admin("events")
        return result

    def reset_counts(self) -> None:
        """Forget the counters (not the keys' daily usage)."""
        self._admin("reset", method="POST")


def gateway_config(
    keys: dict[str, str],
    sizes: dict[str, int],
    latency_s: float = 0.0,
) -> dict[str, Any]:
    """A gateway config as `kto-keys gateway --config` reads it; `keys` maps raw key to label."""
    return {
        "keys": {raw: {"label": label, "behaviour": "valid"} for raw, label in keys.items()},
        "sizes": sizes,
        "seed": 1,
        "latency_s": latency_s,
    }
