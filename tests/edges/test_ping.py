"""Pings against a real HTTP server on 127.0.0.1: retried twice, then a failure as data."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from kto_keys.edges.ping import PING_ATTEMPTS, ping


class Flaky:
    """A monitor that answers the given statuses in turn (then 200), keeping each request."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.seen: list[tuple[str, str, bytes, str]] = []
        flaky = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                agent = self.headers.get("User-Agent", "")
                flaky.seen.append((self.command, self.path, body, agent))
                status = flaky.statuses.pop(0) if flaky.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/uuid/"
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()


@pytest.fixture
def make() -> Iterator[Any]:
    """Start flaky monitors; stop them after the test."""
    started: list[Flaky] = []

    def start(statuses: list[int]) -> Flaky:
        started.append(Flaky(statuses))
        return started[-1]

    yield start
    for server in started:
        server.server.shutdown()
        server.server.server_close()


def test_a_ping_is_a_get_and_an_end_a_post_with_its_body(make: Any) -> None:
    """`/start` without a body is a GET; `/0` with the summary is a POST; no doubled slash."""
    monitor = make([])
    assert ping(monitor.url, "start") is None
    assert ping(monitor.url, "0", b'{"outcome": "complete"}') is None
    assert [(method, path, body) for method, path, body, _ in monitor.seen] == [
        ("GET", "/uuid/start", b""),
        ("POST", "/uuid/0", b'{"outcome": "complete"}'),
    ]
    assert monitor.seen[0][3].startswith("kto-keys/")


def test_two_failures_are_retried_and_a_third_gives_up_with_the_reason(make: Any) -> None:
    """503 twice then 200: reached, in three requests. 500 every time: a failure naming the
    status and the host, after exactly three requests."""
    flaky = make([503, 503])
    assert ping(flaky.url, "start") is None and len(flaky.seen) == 3
    broken = make([500] * 10)
    failed = ping(broken.url, "1", b"{}")
    assert failed is not None and failed.reason == "HTTP 500" and failed.host == "127.0.0.1"
    assert len(broken.seen) == PING_ATTEMPTS == 3
