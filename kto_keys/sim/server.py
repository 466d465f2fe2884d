"""The local gateway as an aiohttp.web app: request pipeline, fault injection, admin endpoints."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

from aiohttp import web

from kto_keys.sim import responses as r
from kto_keys.sim import streams
from kto_keys.sim.access import KeyGate
from kto_keys.sim.behaviours import (
    AnyFault,
    Fault,
    GatewayConfig,
    Generation,
    OptInFault,
    UnknownOperation,
    WrongUrl,
)
from kto_keys.sim.clock import GatewayClock, response_time
from kto_keys.sim.counters import SELECTED_PARAMS, CallLog, CallRecord
from kto_keys.sim.dataset import Dataset
from kto_keys.sim.geography import DEFAULT_SIZES, MERGED_2026_PROVINCES, PROVINCES
from kto_keys.sim.operations import OPERATIONS, Answer, Catalogue, answer
from kto_keys.sim.outages import Outages

SERVICE_PREFIX = "/B551011"
CURRENT_SERVICE = "KorService2"
RETIRED_SERVICE = "KorService1"
_DEFAULT_AGENTS = ("Python/", "python-requests", "aiohttp", "Python-urllib")
_ROUTING_TEXT = "SERVICE ERROR - HTTP ROUTING ERROR"
# Doc 3 F, seen in July 2026: a service path the gateway does not know, and an operation it lacks.
_UNKNOWN_SERVICE_TEXT = "Unexpected errors"
_UNKNOWN_OPERATION_TEXT = "API not found"
# A 429 whose body carries no gateway code (doc 3 D): per second or daily, the client can't tell.
_TOO_MANY_TEXT = "Too Many Requests"
_FAULT_CODES: dict[AnyFault, r.GatewayError] = {
    Fault.CODE_01: r.APPLICATION_ERROR,
    Fault.CODE_04: r.HTTP_ERROR,
    Fault.CODE_05: r.SERVICE_TIMEOUT,
    Fault.CODE_99: r.UNKNOWN_ERROR,
}
# A 401 or 403 without a code (doc 3 D): an empty body, or the proxy's one word.
_UNCODED_REFUSALS: dict[AnyFault, tuple[int, str]] = {
    OptInFault.BARE_401: (401, ""),
    OptInFault.BARE_403: (403, ""),
    OptInFault.TEXT_401: (401, "Unauthorized"),
    OptInFault.TEXT_403: (403, "Forbidden"),
}
_FAULT_PAGES: dict[AnyFault, int] = {
    Fault.HTTP_500: 500,
    Fault.HTTP_502: 502,
    Fault.HTTP_503: 503,
    OptInFault.HTTP_404: 404,
}
# Faults that let the call through and spoil the delivery of its answer; the others replace it.
_CARRYING_FAULTS: frozenset[AnyFault] = frozenset(
    {Fault.TRUNCATED, Fault.SLOW, OptInFault.DRIP, OptInFault.HUGE}
)


@dataclass(frozen=True, slots=True)
class _Decision:
    """What to do with one request: the outcome to count, a reply, and a fault to act out."""

    outcome: str
    reply: r.Reply | None = None
    fault: AnyFault | None = None


def _envelope(error: r.GatewayError, generation: Generation, as_json: bool) -> r.Reply:
    if generation is Generation.LEGACY:
        return r.legacy_envelope(error)
    return r.modern_envelope(error, as_json=as_json)


def _is_default_agent(user_agent: str) -> bool:
    return not user_agent.strip() or user_agent.startswith(_DEFAULT_AGENTS)


def _route(path: str) -> tuple[str | None, str]:
    """Split a request path into (service, operation); service is None outside the prefix."""
    prefix = SERVICE_PREFIX + "/"
    if not path.startswith(prefix):
        return None, path
    service, _, operation = path[len(prefix) :].partition("/")
    return service, operation


class Gateway:
    """A faithful stand-in for the public-data gateway and TourAPI, with counters and controls."""

    def __init__(
        self, config: GatewayConfig | None = None, *, clock: Callable[[], float] | None = None
    ) -> None:
        self.config = config or GatewayConfig()
        merged = self.config.merged_2026
        provinces = self.config.provinces or (MERGED_2026_PROVINCES if merged else PROVINCES)
        sizes = self.config.sizes
        if sizes is None and (self.config.provinces is not None or merged):
            # Under the merger switch the merged province holds what its two parts held.
            parts = DEFAULT_SIZES["29"] + DEFAULT_SIZES["46"] if merged else 50
            sizes = {p.code: DEFAULT_SIZES.get(p.code, parts) for p in provinces}
        self.dataset = Dataset(self.config.seed, sizes)
        self.clock = GatewayClock() if clock is None else GatewayClock(clock)
        self._catalogue = Catalogue(self.dataset, provinces, self.config.page_cap)
        self._gate = KeyGate(
            self.config.keys,
            self.clock.now(),
            per_second_limit=self.config.per_second_limit,
            lock_s=self.config.per_second_lock_s,
            bare_daily_429=self.config.bare_daily_429,
            bare_per_second_429=self.config.bare_per_second_429,
        )
        self._outages = Outages(self.config.error_rate)
        self._log = CallLog()
        self._calls = itertools.count()
        self._calls_lock = threading.Lock()
        # Successful calls served so far: what `wrong_url_after` counts.
        self._successes = 0

    # -- controls, safe to call from any thread --------------------------------------------

    def counts(self) -> dict[str, dict[str, int]]:
        """Return {label: {operation: requests}} of every request, failures included."""
        return self._log.counts()

    def total(self, operation: str | None = None, label: str | None = None) -> int:
        """Return the number of requests, optionally of one operation and/or key label."""
        return self._log.total(operation, label)

    def history(self) -> list[CallRecord]:
        """Return every request so far, oldest first."""
        return self._log.history()

    def reset_counts(self) -> None:
        """Forget counts, history and event counters (not the keys' daily usage, nor locks)."""
        self._log.reset()
        self._gate.reset_counts()
        self._outages.reset_counts()

    def usage(self) -> dict[str, dict[str, int]]:
        """Return today's per-operation usage of each configured key, by label."""
        return self._gate.usage()

    def per_second_refusals(self) -> dict[str, int]:
        """Return how many per-second refusals (23, or a bare 429) each key label got, locked calls
        included."""
        return self._gate.per_second_refusals()

    def locks(self) -> dict[str, int]:
        """Return how many per-second locks each key label got."""
        return self._gate.locks()

    def gateway_faults(self) -> dict[str, int]:
        """Return how many calls each gateway-wide fault (error_rate) answered, by fault name."""
        return self._outages.counts()

    def events(self) -> dict[str, dict[str, int]]:
        """Return every event counter by name, as `/_admin/events` serves them."""
        return {
            "per_second_refusals": self.per_second_refusals(),
            "locks": self.locks(),
            "gateway_faults": self.gateway_faults(),
        }

    def new_day(self) -> None:
        """Pass midnight KST: reset every key's daily usage and move the data's day on."""
        self._gate.new_day()
        self.dataset.next_day()

    def advance(self, seconds: float) -> None:
        """Move the gateway's clock forward (activation, per-second windows) without sleeping."""
        self.clock.advance(seconds)

    def modify(self, n: int, province: str | None = None) -> list[str]:
        """Modify n visible records; return their contentids."""
        return self.dataset.modify(n, province)

    def insert(self, province: str, n: int) -> list[str]:
        """Insert n records into a province; return their contentids."""
        return self.dataset.insert(province, n)

    def hide(self, n: int, province: str | None = None) -> list[str]:
        """Hide n visible records; return their contentids."""
        return self.dataset.hide(n, province)

    # -- the web app -------------------------------------------------------------------------

    def app(self) -> web.Application:
        """Build the aiohttp application: `/_admin/`, and every other GET path as a service call."""
        app = web.Application()
        app.router.add_get("/_admin/", self._admin_index)
        app.router.add_get("/_admin/counts", self._admin_counts)
        app.router.add_get("/_admin/total", self._admin_total)
        app.router.add_get("/_admin/history", self._admin_history)
        app.router.add_get("/_admin/usage", self._admin_usage)
        app.router.add_get("/_admin/events", self._admin_events)
        app.router.add_get("/_admin/contentids", self._admin_contentids)
        app.router.add_post("/_admin/reset", self._admin_reset)
        app.router.add_post("/_admin/new_day", self._admin_new_day)
        app.router.add_post("/_admin/advance", self._admin_advance)
        app.router.add_post("/_admin/mutate", self._admin_mutate)
        # Last, so that it matches only what nothing above did: any other path reaches the gateway.
        app.router.add_get("/{path:.*}", self._service)
        return app

    def _next_generation(self) -> Generation:
        with self._calls_lock:
            index = next(self._calls)
        if self.config.generation is Generation.MIXED:
            return Generation.LEGACY if index % 2 == 0 else Generation.MODERN
        return self.config.generation

    def _decide(
        self,
        service: str | None,
        operation: str,
        params: dict[str, str],
        user_agent: str,
        generation: Generation,
    ) -> _Decision:
        """Let the gateway's own faults strike first, then run its checks and TourAPI's; no I/O."""
        as_json = params.get("_type", "").lower() == "json"
        outage = self._outages.draw()
        retry_after_s = (
            None if self.config.error_rate is None else self.config.error_rate.retry_after_s
        )
        if outage is not None and outage not in _CARRYING_FAULTS:
            self._outages.record(outage)
            return self._failed(outage, generation, as_json, retry_after_s)
        decision = self._checked(service, operation, params, user_agent, generation, as_json)
        if outage is None or decision.fault is not None or decision.reply is None:
            return decision
        self._outages.record(outage)
        return _spoiled(outage, decision.reply)

    def _checked(
        self,
        service: str | None,
        operation: str,
        params: dict[str, str],
        user_agent: str,
        generation: Generation,
        as_json: bool,
    ) -> _Decision:
        """Run the gateway's checks in order, then TourAPI's."""
        if self.config.refuse_default_user_agents and _is_default_agent(user_agent):
            return _Decision("forbidden_ua", r.plain_text(403, "Forbidden"))
        if self.config.host_blocked:
            return self._refusal(r.BLACKLIST_IP, generation, as_json)
        if service == RETIRED_SERVICE:
            return self._refusal(r.NO_OPENAPI_SERVICE, Generation.MODERN, as_json)
        if service != CURRENT_SERVICE:
            return _Decision("unknown_service", r.plain_text(500, _UNKNOWN_SERVICE_TEXT))
        with self._calls_lock:
            successes = self._successes
        if self.config.is_wrong_url(operation, successes):
            return _wrong_url(self.config.wrong_url_answer)
        if operation not in OPERATIONS:
            if self.config.unknown_operation is UnknownOperation.API_NOT_FOUND:
                return _Decision("unknown_operation", r.plain_text(404, _UNKNOWN_OPERATION_TEXT))
            return self._refusal(r.NO_OPENAPI_SERVICE, generation, as_json)
        key = params.get("serviceKey", "")
        if not key:
            return self._refusal(r.KEY_IS_NULL, generation, as_json)
        admission = self._gate.admit(key, operation, self.clock.now())
        if admission.error is not None and admission.is_bare:
            return _Decision(f"{admission.error.code}_bare", r.empty(admission.error.status))
        if admission.error is not None:
            return self._refusal(admission.error, generation, as_json)
        if admission.fault in _CARRYING_FAULTS:
            return _spoiled(admission.fault, self._answer(operation, params).reply)
        if admission.fault is not None:
            retry_after_s = self.config.keys[key].retry_after_s
            return self._failed(admission.fault, generation, as_json, retry_after_s)
        result = self._answer(operation, params)
        if result.outcome == "ok":
            with self._calls_lock:
                self._successes += 1
        return _Decision(result.outcome, result.reply)

    def _answer(self, operation: str, params: dict[str, str]) -> Answer:
        return answer(operation, params, self._catalogue, response_time())

    def _refusal(self, error: r.GatewayError, generation: Generation, as_json: bool) -> _Decision:
        return _Decision(error.code, _envelope(error, generation, as_json))

    def _failed(
        self, fault: AnyFault, generation: Generation, as_json: bool, retry_after_s: int | None
    ) -> _Decision:
        """Answer in place of the service: a proxy page, a gateway code, an odd body, or a reset."""
        reply: r.Reply | None
        if fault in _FAULT_PAGES:
            reply = r.html_page(_FAULT_PAGES[fault])
        elif fault in _FAULT_CODES:
            reply = _envelope(_FAULT_CODES[fault], generation, as_json)
        elif fault is Fault.EMPTY:
            reply = r.empty(200)
        elif fault is Fault.ROUTING_TEXT:
            reply = r.plain_text(200, _ROUTING_TEXT)
        elif fault is Fault.BARE_429:
            reply = r.empty(429, _retry_after(retry_after_s))
        elif fault is OptInFault.TEXT_429:
            reply = r.plain_text(429, _TOO_MANY_TEXT, _retry_after(retry_after_s))
        elif fault is OptInFault.UNKNOWN_CODE_429:
            # A 429 is the 2025+ gateway's, whatever generation answers the other errors.
            coded = r.modern_envelope(r.UNKNOWN_LIMIT, as_json=as_json)
            reply = replace(coded, headers=_retry_after(retry_after_s))
        elif fault in _UNCODED_REFUSALS:
            status, text = _UNCODED_REFUSALS[fault]
            reply = r.plain_text(status, text) if text else r.empty(status)
        else:  # Fault.RESET: nothing is sent at all
            reply = None
        return _Decision(fault.value, reply, fault)

    async def _service(self, request: web.Request) -> web.StreamResponse:
        arrived = asyncio.get_running_loop().time()
        params: dict[str, str] = {}
        for name, value in request.query.items():
            params.setdefault(name, value)
        service, operation = _route(request.path)
        key = params.get("serviceKey", "")
        label = "missing" if not key else self.config.label_of(key)
        decision = self._decide(
            service,
            operation,
            params,
            request.headers.get("User-Agent", ""),
            self._next_generation(),
        )
        selected = {name: params[name] for name in SELECTED_PARAMS if name in params}
        # A path outside the known services names no operation: count it under the whole path.
        counted = operation if service in (CURRENT_SERVICE, RETIRED_SERVICE) else request.path
        self._log.record(CallRecord(label, counted, selected, decision.outcome))
        # The latency is what the caller waits from the request's arrival, as with the real
        # service: the time spent building the answer is part of it, not added to it (on a
        # machine of two cores, sixteen 100-row pages built at once would otherwise stretch
        # every round by the gateway's own work).
        latency = self.config.latency_s + self.config.latency_per_row_s * _rows_asked(params)
        remaining = latency - (asyncio.get_running_loop().time() - arrived)
        if remaining > 0:
            await asyncio.sleep(remaining)
        if decision.fault is Fault.SLOW:
            await asyncio.sleep(self.config.slow_s)
        if decision.reply is None:
            return await _reset(request)
        reply = decision.reply
        if decision.fault is OptInFault.DRIP:
            return await streams.drip(request, reply, self.config.drip_interval_s)
        if decision.fault is OptInFault.HUGE:
            return await streams.huge(request, reply, self.config.huge_body_bytes)
        return web.Response(
            status=reply.status,
            body=reply.body,
            headers={"Content-Type": reply.content_type, **reply.headers},
        )

    # -- admin -------------------------------------------------------------------------------

    async def _admin_index(self, request: web.Request) -> web.Response:
        """What the admin URL offers: every route, GET to read and POST to change."""
        routes = sorted(
            f"{route.method} {route.resource.canonical}"
            for route in request.app.router.routes()
            if route.resource is not None
            and route.resource.canonical.startswith("/_admin/")
            and route.method in ("GET", "POST")
        )
        return web.json_response({"admin": routes})

    async def _admin_counts(self, request: web.Request) -> web.Response:
        return web.json_response(self.counts())

    async def _admin_total(self, request: web.Request) -> web.Response:
        query = request.query
        return web.json_response({"total": self.total(query.get("operation"), query.get("label"))})

    async def _admin_history(self, request: web.Request) -> web.Response:
        return web.json_response([call.as_dict() for call in self.history()])

    async def _admin_usage(self, request: web.Request) -> web.Response:
        return web.json_response(self.usage())

    async def _admin_events(self, request: web.Request) -> web.Response:
        return web.json_response(self.events())

    async def _admin_contentids(self, request: web.Request) -> web.Response:
        province = request.query.get("province") or None
        hidden = request.query.get("include_hidden", "") in ("1", "true", "yes")
        ids = self.dataset.contentids(province, include_hidden=hidden)
        return web.json_response({"contentids": ids})

    async def _admin_reset(self, request: web.Request) -> web.Response:
        self.reset_counts()
        return web.json_response({"ok": True})

    async def _admin_new_day(self, request: web.Request) -> web.Response:
        self.new_day()
        return web.json_response({"ok": True, "today": self.dataset.today().isoformat()})

    async def _admin_advance(self, request: web.Request) -> web.Response:
        try:
            self.advance(float(request.query.get("s", "")))
        except ValueError as error:
            raise web.HTTPBadRequest(text=f"advance needs s=<seconds>=0 or more: {error}") from None
        return web.json_response({"ok": True})

    async def _admin_mutate(self, request: web.Request) -> web.Response:
        query = request.query
        action = query.get("action", "")
        province = query.get("province") or None
        try:
            n = int(query.get("n", "1"))
        except ValueError:
            raise web.HTTPBadRequest(text="n must be an integer") from None
        if action == "modify":
            ids = self.modify(n, province)
        elif action == "hide":
            ids = self.hide(n, province)
        elif action == "insert" and province is not None:
            ids = self.insert(province, n)
        else:
            raise web.HTTPBadRequest(text="action must be modify, hide, or insert with province")
        return web.json_response({"action": action, "contentids": ids})


def _rows_asked(params: dict[str, str]) -> int:
    """The page size a call asked for (TourAPI's default is 10); nonsense counts as none."""
    try:
        return max(0, int(params.get("numOfRows", "10")))
    except ValueError:
        return 0


def _wrong_url(answer: WrongUrl) -> _Decision:
    """The answer to a path that does not exist (any more), counted as the gateway names it."""
    if answer is WrongUrl.API_NOT_FOUND:
        return _Decision("unknown_operation", r.plain_text(404, _UNKNOWN_OPERATION_TEXT))
    if answer is WrongUrl.HTTP_404:
        return _Decision(OptInFault.HTTP_404.value, r.html_page(404))
    return _Decision("unknown_service", r.plain_text(500, _UNKNOWN_SERVICE_TEXT))


def _retry_after(seconds: int | None) -> dict[str, str]:
    return {} if seconds is None else {"Retry-After": str(seconds)}


def _spoiled(fault: AnyFault, reply: r.Reply) -> _Decision:
    """Let an answer through but spoil its delivery: cut short, late, byte by byte, or padded."""
    return _Decision(fault.value, r.truncated(reply) if fault is Fault.TRUNCATED else reply, fault)


async def _reset(request: web.Request) -> web.StreamResponse:
    """Drop the connection without answering, as a reset upstream does."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    raise asyncio.CancelledError
