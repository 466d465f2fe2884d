"""The TourAPI client: one request at a time per slot, key failover, back-off, bookkeeping."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import TracebackType
from typing import Protocol
from urllib.parse import quote, urlencode, urlsplit

import aiohttp
from yarl import URL

from kto_keys.core.answers import Outcome, Payload, classify, transport_fault
from kto_keys.core.calls import CallRecord
from kto_keys.core.clock import Clock, format_time
from kto_keys.core.codes import OutcomeKind, describe
from kto_keys.core.errors import (
    BudgetExhaustedError,
    GatewayUnavailableError,
    HostBlockedError,
    NoUsableKeyError,
    RequestError,
    ServiceConfigError,
)
from kto_keys.core.keys import ServiceKey, redact
from kto_keys.core.lang import pick
from kto_keys.core.pool import Exhausted, KeyPool, Lease, Wait
from kto_keys.core.version import __version__
from kto_keys.edges.logbook import event_line, logger
from kto_keys.edges.throttle import AdaptiveLimit
from kto_keys.jobs.session import Runtime

USER_AGENT = f"kto-keys/{__version__}"
APP_NAME = "kto-keys"
PROBE_OPERATION = "ldongCode2"
OUTAGE_LIMIT_S = 300.0
MAX_BACKOFF_S = 30.0
SAVE_EVERY_S = 1.0
Sleep = Callable[[float], Awaitable[None]]
Params = Mapping[str, str | int]


class CallLog(Protocol):
    """Where every call is appended (the SQLite call history)."""

    def record_call(self, call: CallRecord) -> None:
        """Keep one call."""
        ...

    def flush_calls(self) -> None:
        """Write the calls held in memory."""
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
        runtime: Runtime,
        call_log: CallLog | None = None,
        concurrency: int = 4,
        sleep: Sleep = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        outage_limit_s: float = OUTAGE_LIMIT_S,
        user_agent: str = USER_AGENT,
        budget: int | None = None,
    ) -> None:
        self.runtime = runtime
        self.pool: KeyPool = runtime.pool
        self.clock: Clock = runtime.clock
        self.settings = runtime.settings
        self.call_log = call_log
        self.stats = RunStats()
        self.limit = AdaptiveLimit(concurrency)
        self._sleep = sleep
        self._monotonic = monotonic
        self._outage_limit_s = outage_limit_s
        self._user_agent = user_agent
        self._session: aiohttp.ClientSession | None = None
        self._proxy: str | None = None
        self._released = asyncio.Event()
        self._backoff_s = 0.0
        self._saver: asyncio.Task[None] | None = None
        # Until the session decides when to save: a change of a key's fate at once, usage at most
        # once a second.
        self._saved_at = monotonic()
        self._unsaved = False
        self.budget = budget
        self._reserved = 0

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
        self._saver = asyncio.create_task(self._save_every_second())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._saver is not None:
            self._saver.cancel()
            await asyncio.gather(self._saver, return_exceptions=True)
            self._saver = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        self.runtime.save(force=True)
        if self.call_log is not None:
            self.call_log.flush_calls()

    async def _save_every_second(self) -> None:
        """Usage is counted when a call starts: keep the cache and history no more than 1 s behind."""
        while True:
            await asyncio.sleep(SAVE_EVERY_S)
            if self._unsaved:
                self._save()
            if self.call_log is not None:
                self.call_log.flush_calls()

    # --- the public calls ----------------------------------------------------------------
    async def call(self, operation: str, params: Params) -> Payload:
        """Make one operation call, failing over across keys until one succeeds."""
        async with self.limit.slot():
            attempt = 0
            while True:
                self._reserve_budget()
                try:
                    lease = await self._acquire(operation)
                except BaseException:
                    self._reserved -= 1
                    raise
                if attempt:
                    self.stats.failovers += 1
                attempt += 1
                outcome = await self._exchange(lease, params)
                if outcome.kind is OutcomeKind.SUCCESS:
                    self._backoff_s = 0.0
                    await self.limit.speed_up(self._monotonic())
                    return outcome.payload
                await self._after_failure(outcome, operation)

    async def probe(self, key: ServiceKey) -> ProbeResult:
        """One cheap call made with a deactivated key: success brings it back."""
        self._reserved += 1
        lease = self.pool.begin_probe(key, PROBE_OPERATION, self.clock.now())
        outcome = await self._exchange(lease, {"numOfRows": 1, "pageNo": 1})
        if outcome.kind is OutcomeKind.HOST_BLOCKED:
            raise HostBlockedError(self._host_blocked_message(outcome))
        if outcome.kind is OutcomeKind.CONFIG_ERROR:
            raise ServiceConfigError(self._config_message(outcome))
        recovered = not self.pool.state(key).is_deactivated
        return ProbeResult(key, recovered, outcome)

    async def test_key(self, key: ServiceKey) -> Outcome:
        """One cheap call made with a given key, recorded like any other."""
        lease = self.pool.lease_key(key, PROBE_OPERATION, self.clock.now())
        return await self._exchange(lease, {"numOfRows": 1, "pageNo": 1})

    async def recover(self, force: bool = False) -> list[ProbeResult]:
        """Probe every deactivated key whose recovery time has come (all with `force`)."""
        due = self.pool.recovery_candidates(self.clock.now(), force=force)
        return [await self.probe(key) for key in due]

    # --- internals -----------------------------------------------------------------------
    def _reserve_budget(self) -> None:
        """Count a call against --budget before it starts, so concurrent calls cannot overshoot."""
        if self.budget is not None and self._reserved >= self.budget:
            raise BudgetExhaustedError(
                pick(
                    self.settings.lang,
                    f"--budget {self.budget} 도달: 남은 작업은 저장되었고 다음 실행에서 이어집니다",
                    f"--budget {self.budget} reached with work left: the work is kept and the next run continues",
                )
            )
        self._reserved += 1

    async def _acquire(self, operation: str) -> Lease:
        while True:
            self._released.clear()
            now = self.clock.now()
            choice = self.pool.acquire(operation, now)
            if isinstance(choice, Lease):
                return choice
            if isinstance(choice, Exhausted):
                raise NoUsableKeyError(self._exhausted_message(choice), choice.until)
            await self._wait(choice, now)

    async def _wait(self, choice: Wait, now: datetime) -> None:
        if choice.until is not None:
            await self._sleep(max(0.0, (choice.until - now).total_seconds()))
            return
        await self._released.wait()

    async def _exchange(self, lease: Lease, params: Params) -> Outcome:
        self._unsaved = True  # the lease counted a call
        started = self._monotonic()
        outcome = await self._send(lease.key, lease.operation, params)
        latency = self._monotonic() - started
        now = self.clock.now()
        events = self.pool.record_outcome(lease, outcome, now, latency)
        self._released.set()
        self.stats.calls[(lease.key.index, lease.operation)] += 1
        self.stats.outcomes[str(outcome.kind)] += 1
        if self.call_log is not None:
            self.call_log.record_call(
                CallRecord(
                    now,
                    lease.key.fingerprint,
                    lease.key.index,
                    lease.operation,
                    str(outcome.kind),
                    outcome.code,
                    outcome.http_status,
                    latency * 1000,
                )
            )
        for event in events:
            level, line = event_line(event, self.pool, self.settings.lang)
            logger().log(level, line)
        durable = any(event.is_durable for event in events)
        if durable or self._monotonic() - self._saved_at >= SAVE_EVERY_S:
            self._save()
        return outcome

    def _save(self) -> None:
        self.runtime.save()
        self._saved_at = self._monotonic()
        self._unsaved = False

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
            raise RequestError(self._request_message(outcome), outcome.parameter)
        if kind is OutcomeKind.CONFIG_ERROR:
            raise ServiceConfigError(self._config_message(outcome))
        if kind is OutcomeKind.HOST_BLOCKED:
            raise HostBlockedError(self._host_blocked_message(outcome))
        if kind is OutcomeKind.RATE_LIMIT:
            self.limit.slow_down(self._monotonic())
            return
        if kind is OutcomeKind.TRANSIENT:
            if self.pool.uncoded_auth_everywhere():
                raise HostBlockedError(
                    pick(
                        self.settings.lang,
                        "모든 키가 코드 없는 HTTP 401/403으로 거절됨: 키가 아니라 이 컴퓨터(IP) 또는 User-Agent가 차단된 것으로 보입니다",
                        "every key was refused with HTTP 401/403 and no code: the gateway refuses this host or its User-Agent, not the keys",
                    )
                )
            await self._outage_backoff(operation)

    async def _outage_backoff(self, operation: str) -> None:
        since = self.pool.outage_since
        now = self.clock.now()
        if since is None:
            if self.pool.usable_count(operation, now) <= 1:
                # A lone key failing: retry it, but not back to back.
                self._backoff_s = min(MAX_BACKOFF_S, max(1.0, self._backoff_s * 2))
                await self._sleep(self._backoff_s)
            return
        if (now - since).total_seconds() > self._outage_limit_s:
            raise GatewayUnavailableError(
                pick(
                    self.settings.lang,
                    f"게이트웨이가 {format_time(since)}부터 모든 키에 오류를 돌려줍니다: 작업은 저장되었고, 나중에 다시 실행하세요",
                    f"the gateway has failed for every key since {format_time(since)}: the work is kept, run again later",
                )
            )
        self._backoff_s = min(MAX_BACKOFF_S, max(1.0, self._backoff_s * 2))
        await self._sleep(self._backoff_s)

    def _exhausted_message(self, choice: Exhausted) -> str:
        lang = self.settings.lang
        if choice.key is None or choice.until is None:
            return pick(
                lang,
                f"{choice.operation}에 사용할 수 있는 키가 없습니다: 모든 키가 비활성화되었습니다. `kto-keys health`로 확인하세요",
                f"no usable key for {choice.operation}: every key is disabled. See `kto-keys health`",
            )
        when = format_time(choice.until)
        return pick(
            lang,
            f"{choice.operation}에 사용할 수 있는 키가 없습니다. 가장 빠른 키: #{choice.key.index} {choice.key.preview} ({choice.reason}) {when}. 작업은 저장되었습니다; `kto-keys recover`를 시도하세요",
            f"no usable key for {choice.operation}. Soonest: key #{choice.key.index} {choice.key.preview} ({choice.reason}) at {when}. The work is kept; try `kto-keys recover`",
        )

    def _request_message(self, outcome: Outcome) -> str:
        what = describe(outcome.code, self.settings.lang, outcome.symbol)
        parameter = f" [{outcome.parameter}]" if outcome.parameter else ""
        return pick(
            self.settings.lang,
            f"요청 오류 {what}{parameter}: 키 문제가 아닙니다 - {outcome.message}",
            f"request error {what}{parameter}: not a key problem - {outcome.message}",
        )

    def _config_message(self, outcome: Outcome) -> str:
        return pick(
            self.settings.lang,
            f"설정 오류: {describe(outcome.code, 'ko', outcome.symbol)} - KTO_API_BASE_URL={self.settings.base_url} 를 확인하세요 (KorService2)",
            f"configuration error: {describe(outcome.code, 'en', outcome.symbol)} - check KTO_API_BASE_URL={self.settings.base_url} (KorService2)",
        )

    def _host_blocked_message(self, outcome: Outcome) -> str:
        return pick(
            self.settings.lang,
            f"게이트웨이가 이 컴퓨터를 차단했습니다: {describe(outcome.code, 'ko', outcome.symbol)}. 키 문제가 아니므로 키는 그대로 둡니다",
            f"the gateway refuses this machine: {describe(outcome.code, 'en', outcome.symbol)}. The keys are not to blame and were left as they are",
        )
