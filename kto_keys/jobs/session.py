"""A run's session: the pool and its cache, the clock, the call history, the budget, the saves.

Every job opens one. The HTTP client only makes calls and fails over; it tells the session about
each call, and the session decides, in one place each, what is counted against `--budget`, what
goes into the call history, which key events are reported (log lines, and through its watch the
rotation log and KTO_ON_EVENT), and when the cache is written.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace

from kto_keys.core.answers import Outcome
from kto_keys.core.calls import CallRecord
from kto_keys.core.clock import Clock
from kto_keys.core.errors import BudgetExhaustedError
from kto_keys.core.keys import Redactor, ServiceKey
from kto_keys.core.pool import KeyPool, KeyState, Lease, PoolEvent
from kto_keys.edges.client import USER_AGENT, CallLog, LeaseGate, TourClient
from kto_keys.edges.settings import Settings
from kto_keys.edges.shared import JournalReplay, SharedState
from kto_keys.edges.state import CacheLost, StateCache
from kto_keys.edges.store import Store
from kto_keys.jobs.watch import KeyWatch, NoticeSink, ignore_notice

# Usage is counted when a call starts: the cache is never more than this far behind.
SAVE_EVERY_S = 1.0
EventSink = Callable[[PoolEvent, KeyPool], None]


def _ignore(event: PoolEvent, pool: KeyPool) -> None:
    """The default event sink of the programmatic API: say nothing."""


@dataclass(slots=True)
class Session:
    """The state of one run and the rules for keeping it."""

    settings: Settings
    clock: Clock
    pool: KeyPool
    cache: StateCache
    watch: KeyWatch
    cache_notice: CacheLost | None = None
    events: EventSink = _ignore
    history: CallLog | None = None
    budget: int | None = None
    calls_started: int = 0
    # Calls this session made, by operation and outcome kind (the metrics file shows them).
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)
    _last_save: float = field(default=0.0)
    _unsaved: bool = False
    # Whether the last save also flushed the call history (a save of usage reserved ahead not).
    _flushed: bool = True
    # The shared key pool (KTO_STATE_URL), when set: the pool's state lives there, not in the cache.
    shared: SharedState | None = None
    # What opening the shared pool did with the journal a lost server left (None: no shared pool).
    journal: JournalReplay | None = None

    # --- the client's observer -------------------------------------------------------------
    def call_starting(self, probe: bool = False) -> None:
        """Count a call against --budget before it starts, so concurrent calls cannot overshoot.

        A recovery probe is counted but never refused: it decides whether the run can go on.
        """
        if not probe and self.budget is not None and self.calls_started >= self.budget:
            raise BudgetExhaustedError(self.budget)
        self.calls_started += 1
        self._unsaved = True  # the pool counts the call against its key as it hands the key out

    def call_leased(self, lease: Lease) -> None:
        """A lease that reserved a new usage block is saved before its request leaves."""
        if lease.reserved:
            # Made to last a killed process, not a power cut: an fsync per block would cost
            # more than the calls (1.3 s -> 5 s for the demo's 1,300 calls).
            self.save(durable=False)

    def call_not_made(self) -> None:
        """Give back the budget of a call that never left."""
        self.calls_started -= 1

    def call_ended(
        self,
        lease: Lease,
        outcome: Outcome,
        events: Sequence[PoolEvent],
        latency_s: float,
    ) -> None:
        """Keep the call in the history, report what changed, and save when it is due."""
        now = self.clock.now()
        self.outcomes[(lease.operation, outcome.kind.value)] += 1
        if self.history is not None:
            self.history.record_call(
                CallRecord(
                    now,
                    lease.key.fingerprint,
                    lease.key.index,
                    lease.operation,
                    str(outcome.kind),
                    outcome.code,
                    outcome.http_status,
                    latency_s * 1000,
                )
            )
        durable = False
        for event in events:
            self.events(event, self.pool)
            durable = durable or event.is_durable
        if events:
            self.watch.saw(events, self.pool, now)
        self._unsaved = True
        if durable:
            self.save()  # a change of a key's fate is written at once
        else:
            self.save_if_due()

    # --- budget ------------------------------------------------------------------------------
    @property
    def budget_left(self) -> int | None:
        """Calls this run may still start (None: no --budget)."""
        return None if self.budget is None else max(0, self.budget - self.calls_started)

    # --- saving ------------------------------------------------------------------------------
    def save(self, durable: bool = True) -> None:
        """Write the pool's state to the cache and the call history to the database; a save that
        need not last a power cut (a usage block reserved ahead) writes the cache alone."""
        if self.shared is None:
            self.cache.sync(self.pool, self.clock.now(), durable)
        # (With a shared state every call was counted and recorded on the server as it went.)
        if durable and self.history is not None:
            self.history.flush_calls()
        self.watch.flush(wait=False)
        self._last_save = self.clock.monotonic()
        self._unsaved = False
        self._flushed = durable

    def put_by_hand(self, key: ServiceKey) -> None:
        """What a person did to a key (disable, enable) reaches the shared state at once; the
        JSON cache gets it with the next save."""
        if self.shared is not None:
            self.shared.put_by_hand(self.pool.peek(key), self.clock.now())

    def limit_of(self, key: ServiceKey) -> int:
        """The calls a key may make per operation and day: what the shared acquire checks."""
        return self.pool.limit_of(key)

    def save_if_changed(self) -> None:
        """Save only when this session changed something: a command that reads writes nothing."""
        if self._unsaved:
            self.save()

    def save_if_due(self) -> None:
        """Save when something changed and the last save is a second old."""
        if self._unsaved and self.clock.monotonic() - self._last_save >= SAVE_EVERY_S:
            self.save()

    async def _save_every_second(self) -> None:
        """Calls in flight were counted when they started: keep the cache at most 1 s behind."""
        while True:
            await self.clock.heartbeat(SAVE_EVERY_S)
            self.save_if_due()

    # --- the call history -------------------------------------------------------------------
    @contextlib.contextmanager
    def keeping_history(self) -> Iterator[Store]:
        """Open the database and keep every call of this session in its history meanwhile."""
        with Store(self.settings.db_path) as store:
            self.history = store
            try:
                yield store
            finally:
                if self._unsaved or not self._flushed:
                    self.save()  # (the client's close has saved everything, as a rule)
                self.history = None
                self.watch.close()

    def close(self) -> None:
        """End the session: the rotation log written, the event commands waited for."""
        self.watch.close()
        if self.shared is not None:
            self.shared.close()

    # --- the client --------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def client(
        self, concurrency: int, user_agent: str = USER_AGENT
    ) -> AsyncIterator[TourClient]:
        """An HTTP client on this session's pool; the session is saved when it closes."""
        if self.shared is None:
            async with self._client(concurrency, user_agent) as client:
                yield client
            return
        async with self.shared.gate(self.limit_of) as gate:
            async with self._client(concurrency, user_agent, gate) as client:
                yield client
            for broken in gate.set_aside:
                self.watch.notices(broken)
            if gate.lost is not None:
                # Every call finished, but some outcomes wait in the journal: say so (exit 6).
                raise gate.lost

    @contextlib.asynccontextmanager
    async def _client(
        self, concurrency: int, user_agent: str, gate: LeaseGate | None = None
    ) -> AsyncIterator[TourClient]:
        saver = asyncio.ensure_future(self._save_every_second())
        try:
            async with TourClient(
                self.settings, self.pool, self.clock, self, concurrency, user_agent, gate
            ) as client:
                yield client
        finally:
            saver.cancel()
            await asyncio.gather(saver, return_exceptions=True)
            self.pool.release_reservations()  # a clean end counts exactly what was sent
            self.save()


def open_session(
    settings: Settings,
    clock: Clock,
    events: EventSink = _ignore,
    budget: int | None = None,
    notices: NoticeSink = ignore_notice,
) -> Session:
    """Load the key states of the configured keys from the cache (or, with a shared pool, replay
    its journal and load its view); `notices` hears what the watch could not do (a rotation log
    it cannot write, an event command that failed) and a journal set aside."""
    policy = settings.policy()
    longest_wait = max(policy.rate_limit_cooldown, policy.error_wait)
    cache = StateCache(settings.cache_path, max_wait=longest_wait)
    shared: SharedState | None = None
    journal: JournalReplay | None = None
    notice: CacheLost | None = None
    if settings.state_url is not None:
        # The shared pool: outcomes a lost server left in the journal first, then the view.
        shared = SharedState(settings)
        journal = shared.replay_journal(clock.now())
        if journal.set_aside is not None:
            notices(journal.set_aside)  # said at once: a server lost next cannot hide it
        states: dict[str, KeyState] = shared.load_view(settings.keys, clock.now())
    else:
        loaded = cache.load(clock.now())
        states, notice = loaded.states, loaded.notice
    redact = Redactor(settings.keys)  # messages saved by versions that masked less
    masked: set[str] = set()
    for fingerprint, state in states.items():
        error = state.last_error
        if error is not None and error.message and redact(error.message) != error.message:
            state.last_error = replace(error, message=redact(error.message))
            masked.add(fingerprint)
    pool = KeyPool(settings.keys, policy, clock.now(), states)
    for key in settings.keys:
        if key.fingerprint in masked:
            pool.state(key)  # changed here, so that the next save writes it masked
    watch = KeyWatch(settings, clock, notices)
    watch.start(pool)
    session = Session(settings, clock, pool, cache, watch, notice, events, budget=budget)
    session.shared = shared
    session.journal = journal
    session._last_save = clock.monotonic()
    # What changed as the pool opened (an expiry date passed, a standby back in reserve) is
    # reported and kept like any other key event.
    news = pool.take_news()
    for event in news:
        events(event, pool)
    if news:
        watch.saw(news, pool, clock.now())
        session.save()
    return session
