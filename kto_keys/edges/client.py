"""The TourAPI client: HTTP and key failover. It tells its observer (the run's session) about
every call; saving, the call history, log lines and the budget are the session's."""

from __future__ import annotations

import asyncio
import ipaddress
import urllib.request
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import SimpleNamespace, TracebackType
from typing import Protocol
from urllib.parse import quote, urlencode, urlsplit

import aiohttp
from aiolimiter import AsyncLimiter
from yarl import URL

from kto_keys.core.answers import Outcome, Payload, classify, transport_fault, unsent
from kto_keys.core.calls import CallRecord
from kto_keys.core.clock import Clock
from kto_keys.core.codes import OutcomeKind
from kto_keys.core.errors import (
    GatewayUnavailableError,
    HostBlockedError,
    HostUnreachableError,
    NoUsableKeyError,
    RequestError,
    ServiceConfigError,
)
from kto_keys.core.keys import Redactor, ServiceKey
from kto_keys.core.operations import PROBE_OPERATION
from kto_keys.core.pool import Exhausted, KeyPool, Lease, PoolEvent, Wait
from kto_keys.core.shared import Fate, Grant, Refused
from kto_keys.core.version import __version__
from kto_keys.edges.settings import Settings
from kto_keys.edges.throttle import AdaptiveLimit

# Masked first, then cut: a cut made before masking can leave a piece of a key at its edge.
MESSAGE_LIMIT = 200

USER_AGENT = f"kto-keys/{__version__}"
APP_NAME = "kto-keys"
MAX_BACKOFF_S = 30.0
# Nothing but "no address" or "connection refused" for this long: this machine cannot reach the
# host, which says nothing about any key. The doc asks for a stop within about 30 seconds.
UNREACHABLE_AFTER_S = 30.0
READ_CHUNK = 64 * 1024
# The shared pool refused every key once in a row: wait this long before the next round.
REFUSED_ROUND_S = 0.2
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

    def call_leased(self, lease: Lease) -> None:
        """A key was handed out; when the lease reserved a usage block, make it durable now."""
        ...

    def call_ended(
        self, lease: Lease, outcome: Outcome, events: Sequence[PoolEvent], latency_s: float
    ) -> None:
        """A call came back (or failed to): its outcome and what it changed in the pool."""
        ...


class LeaseGate(Protocol):
    """The shared key pool (KTO_STATE_URL): the authority that admits each lease the local pool
    hands out, and records each outcome. Without it, the local pool alone decides."""

    async def admit(self, lease: Lease, pool: KeyPool, now: datetime) -> Grant | Refused:
        """Count the call on the shared state, or refuse it (the pool's view of the key is then
        brought up to date, so that it picks another key)."""
        ...

    async def settle(
        self,
        grant: Grant,
        lease: Lease,
        before: Fate,
        pool: KeyPool,
        outcome: Outcome,
        events: list[PoolEvent],
        now: datetime,
        extra_sends: int = 0,
    ) -> None:
        """Record the outcome of an admitted call (idempotent; kept in a journal when the
        shared state is lost)."""
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
    if parts.hostname and (
        _is_loopback(parts.hostname) or urllib.request.proxy_bypass(parts.hostname)
    ):
        return None  # this machine's own gateway is never reached through a proxy
    return urllib.request.getproxies().get(parts.scheme)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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
        gate: LeaseGate | None = None,
    ) -> None:
        self.settings = settings
        self.gate = gate
        self.pool = pool
        self.clock = clock
        self.observer = observer
        self.stats = RunStats()
        self.limit = AdaptiveLimit(concurrency)
        self._user_agent = user_agent
        # When the gateway last answered at all, and when a call last succeeded (monotonic).
        self._answered_at = self._succeeded_at = clock.monotonic()
        self._started_at = clock.now()
        self._succeeded_once = False
        self._answered_once = False
        self._session: aiohttp.ClientSession | None = None
        self._proxy: str | None = None
        self._released = asyncio.Event()
        self._backoff_s = 0.0
        self._redact = Redactor(pool.keys)  # one table for the run, made at its first text
        # One pace per key, made at the key's first call (see _pace).
        self._paces: dict[str, AsyncLimiter] = {}
        # Per operation, the latest wrong-URL answer's words, for the error that stops the run.
        self._wrong_url_answers: dict[str, str] = {}

    async def __aenter__(self) -> TourClient:
        # A total deadline too: a body drip-fed a byte at a time never trips the read timeout.
        timeout = aiohttp.ClientTimeout(
            total=self.settings.request_deadline_s,
            sock_connect=self.settings.connect_timeout_s,
            sock_read=self.settings.read_timeout_s,
        )
        connector = aiohttp.TCPConnector(limit=max(8, self.limit.maximum * 2))
        # Proxies come from the environment, looked up once: aiohttp's trust_env would look them
        # (and .netrc) up again in a thread on every request, a few milliseconds each.
        self._proxy = proxy_for(self.settings.base_url)
        # aiohttp sends an idempotent request a second time when a kept-alive connection was
        # reset; the gateway counts both, so each sending of the headers is counted here.
        tracing = aiohttp.TraceConfig()
        tracing.on_request_headers_sent.append(_count_send)
        self._session = aiohttp.ClientSession(
            timeout=timeout,
            trust_env=False,
            connector=connector,
            headers={"User-Agent": self._user_agent},
            trace_configs=[tracing],
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
            previous: ServiceKey | None = None
            while True:
                lease, grant = await self._acquire(operation)
                if previous is not None and lease.key != previous:
                    self.stats.failovers += 1  # another key took the call: a key switch
                previous = lease.key
                outcome = await self._exchange(lease, params, grant)
                if outcome.kind is OutcomeKind.SUCCESS:
                    self._backoff_s = 0.0
                    await self.limit.speed_up(self.clock.monotonic())
                    return outcome.payload
                await self._after_failure(outcome, operation)
                self._check_progress()

    async def probe(self, key: ServiceKey) -> ProbeResult:
        """One cheap call made with a deactivated key: success brings it back."""
        outcome = await self._lone_call(
            lambda now: self.pool.begin_probe(key, PROBE_OPERATION, now)
        )
        recovered = not self.pool.peek(key).is_deactivated
        return ProbeResult(key, recovered, outcome)

    async def test_key(self, key: ServiceKey) -> Outcome:
        """One cheap call made with a given key, recorded like any other."""
        return await self._lone_call(lambda now: self.pool.lease_key(key, PROBE_OPERATION, now))

    async def _lone_call(self, take: Callable[[datetime], Lease]) -> Outcome:
        """One cheap call with the lease `take` hands out, outside failover."""
        self.observer.call_starting(probe=True)
        now = self.clock.now()
        lease = take(now)
        grant: Grant | None = None
        if self.gate is not None:
            admitted = await self.gate.admit(lease, self.pool, now)
            if isinstance(admitted, Refused):
                # The shared pool says no (another host probes this key, or it cannot take a
                # call): no call is made, and nothing is said of the key.
                self.observer.call_not_made()
                return unsent(f"shared pool: {admitted.reason}")
            grant = admitted
        self.observer.call_leased(lease)
        outcome = await self._exchange(lease, PROBE_PARAMS, grant)
        if outcome.kind is OutcomeKind.UNSENT:
            # Nothing left the machine: this says nothing about the key, but all about the host.
            raise HostUnreachableError(self._host(), outcome.message)
        self._raise_for_setup(outcome, lease.operation)
        return outcome

    async def recover(self, force: bool = False) -> list[ProbeResult]:
        """Probe every deactivated key whose recovery time has come (all with `force`)."""
        due = self.pool.recovery_candidates(self.clock.now(), force=force)
        return [await self.probe(key) for key in due]

    # --- internals -----------------------------------------------------------------------
    def _raise_for_setup(self, outcome: Outcome, operation: str) -> None:
        """A refused host, or a wrong URL: nothing to say of the key, and the run stops.

        A wrong-URL answer means a wrong base URL or operation when it is the run's first answer,
        or when every key that may take the operation got one since its last success (each key
        gets it once: see Reason.WRONG_URL); in between, the next key is tried.
        """
        if outcome.kind is OutcomeKind.HOST_BLOCKED:
            raise HostBlockedError(outcome.code, outcome.symbol)
        if outcome.kind is OutcomeKind.CONFIG_ERROR:
            raise ServiceConfigError(
                self.settings.base_url, outcome.code, outcome.symbol, outcome.message
            )
        if outcome.kind is OutcomeKind.WRONG_URL:
            self._wrong_url_answers[operation] = outcome.message
            if not self._succeeded_once or self.pool.wrong_url_everywhere(
                operation, self.clock.now()
            ):
                raise ServiceConfigError(self.settings.base_url, None, "", outcome.message)

    async def _acquire(self, operation: str) -> tuple[Lease, Grant | None]:
        self.observer.call_starting()
        try:
            lease, grant = await self._lease(operation)
        except BaseException:
            self._released.set()  # whoever waits for a key this worker held looks again
            self.observer.call_not_made()
            raise
        self.observer.call_leased(lease)
        return lease, grant

    async def _lease(self, operation: str) -> tuple[Lease, Grant | None]:
        refusals = 0
        while True:
            self._released.clear()
            now = self.clock.now()
            choice = self.pool.acquire(operation, now)
            if isinstance(choice, Lease):
                if self.gate is None:
                    return choice, None
                admitted = await self.gate.admit(choice, self.pool, now)
                if isinstance(admitted, Grant):
                    return choice, admitted
                # The pool's view of that key now says why not, and it picks again; should the
                # views keep disagreeing, this loop still waits a moment between rounds. The
                # lease ended without a call: a worker waiting for a call of that key to end
                # (an unproven key carries one at a time) must look again, or it waits forever.
                self._released.set()
                refusals += 1
                if refusals % (len(self.pool.keys) + 1) == 0:
                    await self.clock.sleep(REFUSED_ROUND_S)
                continue
            if isinstance(choice, Exhausted):
                if self.pool.wrong_url_everywhere(operation, now):
                    # (another call's wrong-URL answer set the last key aside meanwhile)
                    answer = self._wrong_url_answers.get(operation, "")
                    raise ServiceConfigError(self.settings.base_url, None, "", answer)
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

    async def _pace(self, key: ServiceKey) -> None:
        """Wait until this key may send again: at most KTO_KEY_RPS requests in any second.

        The bucket holds one request and drains at KTO_KEY_RPS a second, so requests of a key
        leave at least 1/KTO_KEY_RPS apart and never in a burst: a bucket of a whole second's
        worth could let twice the rate into one second of the gateway's count, which locks the
        key for about 60 s. (aiolimiter reads the event loop's clock: pacing is real time.)
        """
        pace = self._paces.get(key.fingerprint)
        if pace is None:
            pace = self._paces[key.fingerprint] = AsyncLimiter(1, 1 / self.settings.key_rps)
        await pace.acquire()

    async def _exchange(self, lease: Lease, params: Params, grant: Grant | None = None) -> Outcome:
        await self._pace(lease.key)
        started = self.clock.monotonic()
        sends = _Sends()
        if not lease.probe and self.pool.peek(lease.key).is_deactivated:
            # The key went out (a call before this one was refused) while this call waited its
            # turn: it is not sent, and costs nothing; the caller takes another key at once.
            outcome = unsent(KEY_WENT_OUT)
        else:
            outcome = await self._send(lease.key, lease.operation, params, sends)
        latency = self.clock.monotonic() - started
        if sends.count > 1 and self.pool.count_resent(lease, sends.count - 1):
            self.observer.call_leased(replace(lease, reserved=True))
        if outcome.kind is not OutcomeKind.UNSENT:
            self._answered_at, self._answered_once = self.clock.monotonic(), True
        if outcome.kind is OutcomeKind.SUCCESS:
            self._succeeded_at, self._succeeded_once = self.clock.monotonic(), True
        now = self.clock.now()
        before = Fate.of(self.pool.peek(lease.key))
        events = self.pool.record_outcome(lease, outcome, now, latency)
        if self.gate is not None and grant is not None:
            extra = max(0, sends.count - 1)
            await self.gate.settle(grant, lease, before, self.pool, outcome, events, now, extra)
        self._released.set()
        if outcome.kind is not OutcomeKind.UNSENT:  # a call that never left is no call
            self.stats.calls[(lease.key.index, lease.operation)] += sends.count or 1
        self.stats.outcomes[str(outcome.kind)] += 1
        self.observer.call_ended(lease, outcome, events, latency)
        return outcome

    async def _send(
        self, key: ServiceKey, operation: str, params: Params, sends: _Sends
    ) -> Outcome:
        if self._session is None:
            raise RuntimeError("TourClient used outside `async with`")
        url = self._url(key, operation, params)
        try:
            async with self._session.get(
                url, allow_redirects=False, proxy=self._proxy, trace_request_ctx=sends
            ) as response:
                body = await self._read(response)
                if body is None:
                    return transport_fault(f"body larger than {self.settings.max_body_mb} MB")
                outcome = classify(response.status, response.headers, body)
        except TimeoutError:
            return transport_fault("timed out")
        except aiohttp.ClientPayloadError:
            return transport_fault("truncated body")
        except aiohttp.ServerDisconnectedError:
            return transport_fault("server disconnected")
        except aiohttp.ClientConnectorError as error:
            # No address for the host, or nothing listening: the request never left.
            return unsent(error.os_error.strerror or str(error.os_error) or "refused")
        except aiohttp.ClientOSError as error:
            return transport_fault(f"connection error ({error.strerror or 'reset'})")
        except aiohttp.ClientError as error:
            return transport_fault(type(error).__name__)
        if outcome.message and not outcome.is_success:
            # An error page may echo the request URL: no key leaves through its text.
            outcome = replace(outcome, message=self._redact(outcome.message)[:MESSAGE_LIMIT])
        return outcome

    async def _read(self, response: aiohttp.ClientResponse) -> bytes | None:
        """The body, or None when it is larger than KTO_MAX_BODY_MB (never held whole)."""
        cap = int(self.settings.max_body_mb * 1024 * 1024)
        if (response.content_length or 0) > cap:
            return None
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(READ_CHUNK):
            size += len(chunk)
            if size > cap:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    def _url(self, key: ServiceKey, operation: str, params: Params) -> URL:
        common = {"MobileOS": "ETC", "MobileApp": APP_NAME, "_type": "json"}
        query = urlencode({**common, **{name: str(value) for name, value in params.items()}})
        text = f"{self.settings.base_url}/{operation}?serviceKey={quote(key.reveal(), safe='')}&{query}"
        return URL(text, encoded=True)

    async def _after_failure(self, outcome: Outcome, operation: str) -> None:
        kind = outcome.kind
        if kind is OutcomeKind.REQUEST_ERROR:
            raise RequestError(outcome.code, outcome.symbol, outcome.parameter, outcome.message)
        self._raise_for_setup(outcome, operation)
        if kind is OutcomeKind.WRONG_URL:
            return  # the next key, at once: each key gets it once before the run stops
        if kind is OutcomeKind.UNSENT:
            if outcome.message != KEY_WENT_OUT:  # (a key gone out says nothing of the network)
                await self._unreachable_backoff(outcome)
            return
        if kind is OutcomeKind.RATE_LIMIT:
            self.limit.slow_down(self.clock.monotonic())
            return
        if self.pool.uncoded_auth_everywhere():
            raise HostBlockedError(None)  # every key refused with a bare 401/403
        if (
            self.pool.outage_since is not None
            or self.pool.usable_count(operation, self.clock.now()) <= 1
        ):
            # Every key failing, or a lone key: the gateway's fault; not back to back.
            await self._back_off()

    def _check_progress(self) -> None:
        """No loop without an end: nothing succeeded for KTO_OUTAGE_LIMIT_S, stop and keep the work."""
        idle = self.clock.monotonic() - self._succeeded_at
        if idle > self.settings.outage_limit_s:
            since = self.clock.now() - timedelta(seconds=idle)
            raise GatewayUnavailableError(max(since, self._started_at))

    async def _unreachable_backoff(self, outcome: Outcome) -> None:
        """Nothing left the machine: wait a little, and give up once the host stays unreachable."""
        if self.clock.monotonic() - self._answered_at >= UNREACHABLE_AFTER_S:
            raise HostUnreachableError(self._host(), outcome.message)
        await self._back_off(maximum=UNREACHABLE_AFTER_S / 4)

    async def _back_off(self, maximum: float = MAX_BACKOFF_S) -> None:
        self._backoff_s = min(maximum, max(1.0, self._backoff_s * 2))
        await self.clock.sleep(self._backoff_s)

    def _host(self) -> str:
        return urlsplit(self.settings.base_url).hostname or self.settings.base_url


# Why a leased call was not sent: its key went out while it waited for its turn to leave.
KEY_WENT_OUT = "key out before sending"


class _Sends:
    """How many times one request's headers went out (aiohttp may send a GET twice)."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


async def _count_send(
    session: aiohttp.ClientSession,
    context: SimpleNamespace,
    params: aiohttp.TraceRequestHeadersSentParams,
) -> None:
    sends = context.trace_request_ctx
    if isinstance(sends, _Sends):
        sends.count += 1
