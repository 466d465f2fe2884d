"""Running the local gateway: on the current loop, in a background thread, or forever from a CLI."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from types import TracebackType

from aiohttp import web

from kto_keys.sim.behaviours import GatewayConfig
from kto_keys.sim.counters import CallRecord
from kto_keys.sim.dataset import Dataset
from kto_keys.sim.server import CURRENT_SERVICE, SERVICE_PREFIX, Gateway

_SHUTDOWN_TIMEOUT_S = 0.5


class _Controls:
    """Counters and controls of a running gateway, shared by both handles."""

    gateway: Gateway
    host: str
    port: int

    @property
    def root_url(self) -> str:
        """Return e.g. http://127.0.0.1:PORT."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """Return the KorService2 base URL, e.g. http://127.0.0.1:PORT/B551011/KorService2."""
        return f"{self.root_url}{SERVICE_PREFIX}/{CURRENT_SERVICE}"

    @property
    def dataset(self) -> Dataset:
        """Return the gateway's data: `contentids(...)`, `record(contentid)`, ..."""
        return self.gateway.dataset

    def counts(self) -> dict[str, dict[str, int]]:
        """Return {label: {operation: requests}}."""
        return self.gateway.counts()

    def total(self, operation: str | None = None, label: str | None = None) -> int:
        """Return the number of requests, optionally of one operation and/or key label."""
        return self.gateway.total(operation, label)

    def history(self) -> list[CallRecord]:
        """Return every request so far, oldest first."""
        return self.gateway.history()

    def reset_counts(self) -> None:
        """Forget counts, history and event counters (not usage, nor a lock under way)."""
        self.gateway.reset_counts()

    def usage(self) -> dict[str, dict[str, int]]:
        """Return today's per-operation usage of each configured key, by label."""
        return self.gateway.usage()

    def per_second_refusals(self) -> dict[str, int]:
        """Return how many code-23 answers each key label got, locked calls included."""
        return self.gateway.per_second_refusals()

    def locks(self) -> dict[str, int]:
        """Return how many per-second locks each key label got."""
        return self.gateway.locks()

    def gateway_faults(self) -> dict[str, int]:
        """Return how many calls each gateway-wide fault (error_rate) answered, by fault name."""
        return self.gateway.gateway_faults()

    def events(self) -> dict[str, dict[str, int]]:
        """Return every event counter by name, as `/_admin/events` serves them."""
        return self.gateway.events()

    def new_day(self) -> None:
        """Pass midnight KST: daily quotas start again."""
        self.gateway.new_day()

    def advance(self, seconds: float) -> None:
        """Move the gateway's clock forward without sleeping."""
        self.gateway.advance(seconds)

    def modify(self, n: int, province: str | None = None) -> list[str]:
        """Modify n visible records; return their contentids."""
        return self.gateway.modify(n, province)

    def insert(self, province: str, n: int) -> list[str]:
        """Insert n records into a province; return their contentids."""
        return self.gateway.insert(province, n)

    def hide(self, n: int, province: str | None = None) -> list[str]:
        """Hide n visible records; return their contentids."""
        return self.gateway.hide(n, province)


class GatewayServer(_Controls):
    """The gateway on the current event loop: `async with GatewayServer(config) as gw:`."""

    def __init__(
        self,
        config: GatewayConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.gateway = Gateway(config, clock=clock)
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Start listening; with port 0 an ephemeral port is chosen and stored in `port`."""
        # No access log: request lines carry raw service keys.
        runner = web.AppRunner(
            self.gateway.app(),
            access_log=None,
            handler_cancellation=True,
            shutdown_timeout=_SHUTDOWN_TIMEOUT_S,
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        self.port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        """Stop listening and drop open connections."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> GatewayServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()


class GatewayThread(_Controls):
    """The gateway in a background thread with its own loop, for synchronous callers and CLIs."""

    def __init__(
        self,
        config: GatewayConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._server = GatewayServer(config, host=host, port=port, clock=clock)
        self.gateway = self._server.gateway
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None

    def start(self) -> None:
        """Start the thread and wait until the server listens."""
        self._thread = threading.Thread(target=self._run, name="kto-keys-gateway", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._failure is not None:
            self._thread.join()
            raise self._failure
        self.port = self._server.port

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._server.start())
        except BaseException as error:  # handed to start() in the caller's thread
            self._failure = error
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._server.stop())
            loop.close()

    def stop(self) -> None:
        """Stop the server and join the thread."""
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
        self._thread = None

    def __enter__(self) -> GatewayThread:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


@contextmanager
def run_gateway(
    config: GatewayConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    clock: Callable[[], float] | None = None,
) -> Iterator[GatewayThread]:
    """Run the gateway in a background thread for the duration of a `with` block."""
    with GatewayThread(config, host=host, port=port, clock=clock) as handle:
        yield handle


def port_problem(host: str, port: int) -> str | None:
    """Why the gateway could not listen on host:port (the system's words), or None when it can."""
    import socket

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as error:
        return error.strerror or str(error)
    return None


def serve(config: GatewayConfig | None = None, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Run the gateway until interrupted, after printing one line with its URL."""

    async def forever() -> None:
        async with GatewayServer(config, host=host, port=port) as server:
            print(
                f"kto-keys gateway listening on {server.base_url} (admin: {server.root_url}/_admin/)",
                flush=True,
            )
            await asyncio.Event().wait()

    with suppress(KeyboardInterrupt):
        asyncio.run(forever())
