"""The TourAPI client: HTTP and key failover. It tells its observer (the run's session) about
every call; saving, the call history, log lines and the budget are the session's."""

from __future__ import annotations

import asyncio
import urllib.request
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import TracebackType
from typing import Protocol
from urllib.parse import quote, urlencode, urlsplit

import aiohttp
from yarl import URL

from kto_keys.core.answers import Outcome, Payload, classify, transport_fault
from kto_keys.core.calls import CallRecord
from kto_keys.core.clock import Clock
from kto_keys.core.codes import OutcomeKind
from kto_keys.core.errors import (
    GatewayUnavailableError,
    HostBlockedError,
    NoUsableKeyError,
    RequestError,
    ServiceConfigError,
)
from kto_keys.core.keys import ServiceKey, redact
from kto_keys.core.operations import PROBE_OPERATION
from kto_keys.core.pool import Exhausted, KeyPool, Lease, PoolEvent, Wait
from kto_keys.core.version import __version__
from kto_keys.edges.settings import Settings
from kto_keys.edges.throttle import AdaptiveLimit

USER_AGENT = f"kto-keys/{__version__}"
APP_NAME = "kto-keys"
OUTAGE_LIMIT_S = 300.0
MAX_BACKOFF_S = 30.0
Params = Mapping[str, str | int]
PROBE_PARAMS: Params = {"numOfRows": 1, "pageNo": 1}


class CallLog(Protocol):
    """Where every call is appended (the SQLite call history)."""

    def record_call(self, call: CallRecord) -> None:
        """Keep one call."""
        ...

    def flush_calls(self) -> None:
        """Write the calls held in memory."""
        ...


class CallObserver(Protocol):
    """Who hears about every call the client makes (the run's session)."""

    def call_starting(self, probe: bool = False) -> None:
        """A call is about to be made; raising here stops it (the budget)."""
        ...

    def call_not_made(self) -> None:
        """The call announced by call_starting never left: no key could take it."""
        ...

    def call_ended(
        self, lease: Lease, outcome: Outcome, events: Sequence[PoolEvent], latency_s: float
    ) -> None:
        """A call came back (or failed to): its outcome and what it changed in the pool."""
        ...


@dataclass(slots=True)
class RunStats:
    """What the client did in a run: calls per key and operation, failovers, outcomes."""

    calls: Counter[tuple[int, str]] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    failovers: int = 0

    @property
    def total_calls(self) -> int:
        """Every call made."""
        return sum(self.calls.values())


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What one recovery probe found."""

    key: ServiceKey
    recovered: bool
    outcome: Outcome


def proxy_for(url: str) -> str | None:
    """The proxy the environment sets for this URL (HTTPS_PROXY, HTTP_PROXY, NO_PROXY), if any."""
    parts = urlsplit(url)
    if parts.hostname and urllib.request.proxy_bypass(parts.hostname):
        return None
    return urllib.request.getproxies().get(parts.scheme)


class TourClient:
    """Calls TourAPI operations through the key pool, so callers never see a bad key."""

    def __init__(
        self,
        settings: Settings,
        pool: KeyPool,
        clock: Clock,
        observer: CallObserver,
        concurrency: int,
        user_agent: str = USER_AGENT,
        outage_limit_s: float = OUTAGE_LIMIT_S,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.clock = clock
        self.observer = observer
        self.stats = RunStats()
        self.limit = AdaptiveLimit(concurrency)
        self._outage_limit_s = outage_limit_s
        self._user_agent = user_agent
        self._session: aiohttp.ClientSession | None = None
        self._proxy: str | None = None
        self._released = asyncio.Event()
        self._backoff_s = 0.0

    async def __aenter__(self) -> TourClient:
        timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=self.settings.connect_timeout_s,
            sock_read=self.settings.read_timeout_s,
        )
        connector = aiohttp.TCPConnector(limit=max(8, self.limit.maximum * 2))
        # Proxies come from the environment, looked up once: aiohttp's trust_env would look them
        # (and .netrc) up again in a thread on every request, a few milliseconds each.
        self._proxy = proxy_for(self.settings.base_url)
        self._session = aiohttp.ClientSession(
            timeout=timeout,
            trust_env=False,
            connector=connector,
            headers={"User-Agent": self._user_agent},
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- the public calls ----------------------------------------------------------------
    async def call(self, operation: str, params: Params) -> Payload:
        """Make one operation call, failing over across keys until one succeeds."""
        async with self.limit.slot():
            attempt = 0
            while True:
                lease = await self._acquire(operation)
                if attempt:
                    self.stats.failovers += 1
                attempt += 1
                outcome = await self._exchange(lease, params)
                if outcome.kind is OutcomeKind.SUCCESS:
                    self._backoff_s = 0.0
                    await self.limit.speed_up(self.clock.monotonic())
                    return outcome.payload
                await self._after_failure(outcome, operation)

    async def probe(self, key: ServiceKey) -> ProbeResult:
        """One cheap call made with a deactivated key: success brings it back."""
        self.observer.call_starting(probe=True)
        lease = self.pool.begin_probe(key, PROBE_OPERATION, self.clock.now())
        outcome = await self._exchange(lease, PROBE_PARAMS)
        if outcome.kind is OutcomeKind.HOST_BLOCKED:
            raise HostBlockedError(outcome.code, outcome.symbol)
        if outcome.kind is OutcomeKind.CONFIG_ERROR:
            raise ServiceConfigError(self.settings.base_url, outcome.code, outcome.symbol)
        recovered = not self.pool.state(key).is_deactivated
        return ProbeResult(key, recovered, outcome)

    async def test_key(self, key: ServiceKey) -> Outcome:
        """One cheap call made with a given key, recorded like any other."""
        self.observer.call_starting(probe=True)
        lease = self.pool.lease_key(key, PROBE_OPERATION, self.clock.now())
        return await self._exchange(lease, PROBE_PARAMS)

    async def recover(self, force: bool = False) -> list[ProbeResult]:
        """Probe every deactivated key whose recovery time has come (all with `force`)."""
        due = self.pool.recovery_candidates(self.clock.now(), force=force)
        return [await self.probe(key) for key in due]

    # --- internals -----------------------------------------------------------------------
    async def _acquire(self, operation: str) -> Lease:
        self.observer.call_starting()
        try:
            return await self._lease(operation)
        except BaseException:
            self.observer.call_not_made()
            raise

    async def _lease(self, operation: str) -> Lease:
        while True:
            self._released.clear()
            now = self.clock.now()
            choice = self.pool.acquire(operation, now)
            if isinstance(choice, Lease):
                return choice
            if isinstance(choice, Exhausted):
                raise NoUsableKeyError(
                    operation,
                    choice.key,
                    str(choice.reason) if choice.reason else None,
                    choice.until,
                )
            await self._wait(choice, now)

    async def _wait(self, choice: Wait, now: datetime) -> None:
        if choice.until is not None:
            await self.clock.sleep(max(0.0, (choice.until - now).total_seconds()))
            return
        await self._released.wait()

    async def _exchange(self, lease: Lease, params: Params) -> Outcome:
        started = self.clock.monotonic()
        outcome = await self._send(lease.key, lease.operation, params)
        latency = self.clock.monotonic() - started
        events = self.pool.record_outcome(lease, outcome, self.clock.now(), latency)
        self._released.set()
        self.stats.calls[(lease.key.index, lease.operation)] += 1
        self.stats.outcomes[str(outcome.kind)] += 1
        self.observer.call_ended(lease, outcome, events, latency)
        return outcome

    async def _send(self, key: ServiceKey, operation: str, params: Params) -> Outcome:
        if self._session is None:
            raise RuntimeError("TourClient used outside `async with`")
        url = self._url(key, operation, params)
        try:
            async with self._session.get(url, allow_redirects=False, proxy=self._proxy) as response:
                body = await response.read()
                outcome = classify(response.status, response.headers, body)
        except TimeoutError:
            return transport_fault("timed out")
        except aiohttp.ClientPayloadError:
            return transport_fault("truncated body")
        except aiohttp.ServerDisconnectedError:
            return transport_fault("server disconnected")
        except aiohttp.ClientConnectorError as error:
            return transport_fault(f"cannot connect ({error.os_error.strerror or 'refused'})")
        except aiohttp.ClientOSError as error:
            return transport_fault(f"connection error ({error.strerror or 'reset'})")
        except aiohttp.ClientError as error:
            return transport_fault(type(error).__name__)
        if outcome.message and not outcome.is_success:
            # An error page may echo the request URL: no key leaves through its text.
            outcome = replace(outcome, message=redact(outcome.message, self.pool.keys))
        return outcome

    def _url(self, key: ServiceKey, operation: str, params: Params) -> URL:
        common = {"MobileOS": "ETC", "MobileApp": APP_NAME, "_type": "json"}
        query = urlencode({**common, **{name: str(value) for name, value in params.items()}})
        text = f"{self.settings.base_url}/{operation}?serviceKey={quote(key.reveal(), safe='')}&{query}"
        return URL(text, encoded=True)

    async def _after_failure(self, outcome: Outcome, operation: str) -> None:
        kind = outcome.kind
        if kind is OutcomeKind.REQUEST_ERROR:
            raise RequestError(outcome.code, outcome.symbol, outcome.parameter, outcome.message)
        if kind is OutcomeKind.CONFIG_ERROR:
            raise ServiceConfigError(self.settings.base_url, outcome.code, outcome.symbol)
        if kind is OutcomeKind.HOST_BLOCKED:
            raise HostBlockedError(outcome.code, outcome.symbol)
        if kind is OutcomeKind.RATE_LIMIT:
            self.limit.slow_down(self.clock.monotonic())
            return
        if kind is OutcomeKind.TRANSIENT:
            if self.pool.uncoded_auth_everywhere():
                raise HostBlockedError(None)  # every key refused with a bare 401/403
            await self._outage_backoff(operation)

    async def _outage_backoff(self, operation: str) -> None:
        since = self.pool.outage_since
        now = self.clock.now()
        if since is None:
            if self.pool.usable_count(operation, now) <= 1:
                # A lone key failing: retry it, but not back to back.
                await self._back_off()
            return
        if (now - since).total_seconds() > self._outage_limit_s:
            raise GatewayUnavailableError(since)
        await self._back_off()

    async def _back_off(self) -> None:
        self._backoff_s = min(MAX_BACKOFF_S, max(1.0, self._backoff_s * 2))
        await self.clock.sleep(self._backoff_s)
