"""The collect job: keys checked, provinces resolved, list phase, detail phase, run recorded."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from filelock import FileLock, Timeout

from kto_keys.core.clock import Clock, kst_day
from kto_keys.core.errors import (
    CollectLockedError,
    KtoKeysError,
    NoUsableKeyError,
    RunOutcome,
)
from kto_keys.core.keys import ServiceKey
from kto_keys.core.operations import PROBE_OPERATION, DetailKind, Operation
from kto_keys.core.pool import KeyPool
from kto_keys.core.regions import Followed, Selection, all_listed, resolve_listed
from kto_keys.edges.client import USER_AGENT, TourClient
from kto_keys.edges.clock import SystemClock
from kto_keys.edges.settings import (
    DEFAULT_CONCURRENCY,
    DEFAULT_DETAILS,
    DEFAULT_PAGE_SIZE,
    Settings,
    load_settings,
)
from kto_keys.edges.store import Store
from kto_keys.jobs.details import DetailObserver, DetailResult, Enricher
from kto_keys.jobs.listing import Lister, ListingObserver, ListingResult
from kto_keys.jobs.session import Session, open_session

PROVINCE_LIST_MAX_AGE = timedelta(days=1)
PROVINCE_PAGE_SIZE = 100
MAX_PROVINCE_PAGES = 50


@dataclass(frozen=True, slots=True)
class CollectOptions:
    """What the user asked of a collection."""

    selection: Selection
    kinds: tuple[DetailKind, ...] = DEFAULT_DETAILS
    page_size: int = DEFAULT_PAGE_SIZE
    concurrency: int = DEFAULT_CONCURRENCY
    budget: int | None = None
    plan_only: bool = False
    fresh: bool = False


class Observer(ListingObserver, DetailObserver, Protocol):
    """Hears about a whole run (the progress display)."""

    def keys_skipped(self, keys: Sequence[ServiceKey], pool: KeyPool) -> None:
        """Deactivated keys are left out of this run."""
        ...

    def provinces_followed(self, followed: Sequence[Followed], listed: Mapping[str, str]) -> None:
        """Chosen provinces the service no longer lists lead to their successors."""
        ...

    def run_finished(self, report: CollectReport) -> None:
        """The run ended, however it ended; its report is complete."""
        ...


@dataclass(slots=True)
class CollectReport:
    """Everything a run did, for the summary and `--json`."""

    run_id: int
    mode: str
    provinces: tuple[str, ...]
    started_at: datetime
    outcome: RunOutcome = RunOutcome.RUNNING
    listing: ListingResult = field(default_factory=ListingResult)
    details: DetailResult = field(default_factory=DetailResult)
    calls: dict[str, dict[str, int]] = field(default_factory=dict)
    failovers: int = 0
    probes: list[dict[str, Any]] = field(default_factory=list)
    province_list_calls: int = 0
    elapsed_s: float = 0.0
    db_path: str = ""
    stopped_by: dict[str, Any] | None = None
    # Provinces chosen that the service no longer lists, and where they led.
    followed: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The summary as JSON-ready data."""
        plan = self.details.plan
        listing = self.listing
        return {
            "run_id": self.run_id,
            "mode": self.mode,
            "provinces": list(self.provinces),
            "followed": dict(self.followed),
            "outcome": str(self.outcome),
            "stopped_by": self.stopped_by,
            "started_at": self.started_at.isoformat(),
            "elapsed_s": round(self.elapsed_s, 3),
            "listing": {
                "pages": listing.pages,
                "calls": listing.calls,
                "minimum_calls": listing.minimum_calls,
                "relisted_pages": listing.relisted,
                "records": listing.records,
                "new": listing.new,
                "updated": listing.updated,
                "removed": listing.removed,
                "by_province": listing.provinces,
            },
            "details": {
                "plan": plan.to_json() if plan else None,
                "fetched": dict(self.details.fetched),
                "without_data": dict(self.details.without_data),
                "stopped": self.details.stopped,
            },
            "calls": self.calls,
            "total_calls": sum(sum(ops.values()) for ops in self.calls.values()),
            "minimum_calls": self.minimum_calls,
            "province_list_calls": self.province_list_calls,
            "failovers": self.failovers,
            "probes": self.probes,
            "db_path": self.db_path,
        }

    @property
    def minimum_calls(self) -> int:
        """List pages plus one call per detail needed, plus the province list when fetched."""
        plan = self.details.plan
        details = sum(op.this_run for op in plan.operations) if plan else 0
        return self.listing.minimum_calls + details + self.province_list_calls


async def collect(
    session: Session,
    options: CollectOptions,
    observer: Observer,
    user_agent: str = USER_AGENT,
) -> CollectReport:
    """Run one collection and return its report; an error that stops it carries the report."""
    db_path = session.settings.db_path
    lock = FileLock(str(db_path) + ".lock", timeout=0)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        lock.acquire()
    except Timeout:
        raise CollectLockedError(db_path) from None
    try:
        with session.keeping_history() as store:
            return await _collect(session, store, options, observer, user_agent)
    finally:
        session.watch.tidy()  # the call history rolled up by day, raw calls past their days pruned
        session.watch.close()
        lock.release()


async def _collect(
    session: Session,
    store: Store,
    options: CollectOptions,
    observer: Observer,
    user_agent: str,
) -> CollectReport:
    settings, clock, pool = session.settings, session.clock, session.pool
    started = clock.monotonic()
    session.budget = options.budget
    # One save of usage reserved ahead covers a key's list and detail calls alike.
    pool.expect([Operation.LIST, *(DetailKind(kind).operation for kind in options.kinds)])
    # The report exists before the first call: an error that stops the run early carries it too.
    report = CollectReport(
        0,
        options.selection.mode,
        options.selection.ldong_codes,
        clock.now(),
        db_path=str(settings.db_path),
    )
    async with session.client(options.concurrency, user_agent) as client:
        try:
            probes = await client.recover()
            skipped = pool.deactivated_keys()
            if skipped:
                observer.keys_skipped(skipped, pool)
            _require_usable_key(pool, clock.now())
        except KtoKeysError as error:
            report.outcome = error.outcome
            report.stopped_by = error.to_json()
            error.report = report
            raise
        _prepare_listing(store, clock, options.fresh)
        run_id = store.start_run(options.selection.mode, options.selection.ldong_codes, clock.now())
        session.watch.run_started(run_id)
        report.run_id = run_id
        report.probes = [
            {
                "key": f"#{p.key.index}",
                "preview": p.key.preview,
                "recovered": p.recovered,
                "code": p.outcome.code,
                "kind": str(p.outcome.kind),
            }
            for p in probes
        ]
        try:
            provinces = await _provinces(client, store, options.selection, clock, report, observer)
            report.provinces = provinces
            lister = Lister(
                client, store, run_id, clock, observer, options.page_size, options.concurrency
            )
            report.listing = lister.result
            await lister.run(provinces)
            enricher = Enricher(client, store, session, observer, options.concurrency)
            report.details = enricher.result
            if options.kinds:
                if options.plan_only:
                    plan, _ = enricher.plan(options.kinds, provinces)
                    observer.details_planned(plan)
                else:
                    await enricher.run(options.kinds, provinces)
            planned = options.plan_only and bool(options.kinds)
            report.outcome = RunOutcome.PLANNED if planned else RunOutcome.COMPLETE
        except KtoKeysError as error:
            report.outcome = error.outcome
            report.stopped_by = error.to_json()
            error.report = report
            raise
        except (asyncio.CancelledError, KeyboardInterrupt):
            report.outcome = RunOutcome.INTERRUPTED
            raise
        finally:
            report.calls = _calls_by_key(client)
            report.failovers = client.stats.failovers
            report.elapsed_s = clock.monotonic() - started
            store.flush_calls()
            store.finish_run(run_id, clock.now(), str(report.outcome), report.to_json())
            # The key cache is written as the client closes, right after, with the usage
            # reserved ahead given back: one save of every key's state instead of two.
            observer.run_finished(report)
    return report


def _prepare_listing(store: Store, clock: Clock, fresh: bool) -> None:
    """Resume an unfinished run of today; after a complete run or on a new day, list again."""
    today = kst_day(clock.now())
    latest = store.runs(limit=1)
    resumable = (
        bool(latest)
        and latest[0]["outcome"] != "complete"
        and (kst_day(datetime.fromisoformat(latest[0]["started_at"])) == today)
    )
    if fresh or not resumable:
        store.forget_day(today)


async def _provinces(
    client: TourClient,
    store: Store,
    selection: Selection,
    clock: Clock,
    report: CollectReport,
    observer: Observer,
) -> tuple[str, ...]:
    listed = await province_list(client, store, clock, report)
    if selection.mode == "all":
        return all_listed(listed)
    codes, followed = resolve_listed(selection, listed)
    report.followed = {step.code: step.successor for step in followed}
    if followed:
        observer.provinces_followed(followed, listed)
    return codes


async def province_list(
    client: TourClient, store: Store, clock: Clock, report: CollectReport | None = None
) -> dict[str, str]:
    """The service's province list, from the cache when it is less than a day old."""
    fetched_at, cached = store.cached_provinces()
    now = clock.now()
    if cached and fetched_at is not None and now - fetched_at < PROVINCE_LIST_MAX_AGE:
        return cached
    listed: dict[str, str] = {}
    size, page, total = PROVINCE_PAGE_SIZE, 1, None
    while page <= MAX_PROVINCE_PAGES:
        payload = await client.call(PROBE_OPERATION, {"numOfRows": size, "pageNo": page})
        if report is not None:
            report.province_list_calls += 1
        for item in payload.items:
            if item.get("code"):
                listed[str(item["code"])] = str(item.get("name", ""))
        total = payload.total_count
        if not payload.items or total is None or len(listed) >= total:
            break
        if page == 1 and len(payload.items) < size:
            size = len(payload.items)  # the service capped the page: number pages by its size
        page += 1
    complete = total is not None and len(listed) >= total
    if listed and complete:
        store.save_provinces(listed, now)
    return listed if complete or not cached else {**cached, **listed}


def _require_usable_key(pool: KeyPool, now: datetime) -> None:
    if any(pool.is_usable(key, Operation.LIST, now) for key in pool.keys):
        return
    soonest = pool.next_usable(Operation.LIST, now)
    reason = str(soonest.reason) if soonest.reason else None
    raise NoUsableKeyError(Operation.LIST, soonest.key, reason, soonest.until)


def _calls_by_key(client: TourClient) -> dict[str, dict[str, int]]:
    calls: dict[str, dict[str, int]] = {}
    for (index, operation), count in sorted(client.stats.calls.items()):
        calls.setdefault(f"#{index}", {})[operation] = count
    return calls


class Unheard:
    """An observer that hears nothing: for collections started from Python."""

    def province_planned(self, province: str, pages: int, total: int, done: int) -> None:
        """Nothing to show."""

    def page_stored(self, province: str, new: int, updated: int) -> None:
        """Nothing to show."""

    def province_done(self, province: str, records: int, removed: int) -> None:
        """Nothing to show."""

    def details_planned(self, plan: Any) -> None:
        """Nothing to show."""

    def detail_stored(self, operation: str) -> None:
        """Nothing to show."""

    def keys_skipped(self, keys: Sequence[ServiceKey], pool: KeyPool) -> None:
        """Nothing to show."""

    def provinces_followed(self, followed: Sequence[Followed], listed: Mapping[str, str]) -> None:
        """Nothing to show."""

    def run_finished(self, report: CollectReport) -> None:
        """Nothing to show."""


def collect_now(
    options: CollectOptions, settings: Settings | None = None, clock: Clock | None = None
) -> CollectReport:
    """Run one collection to its end and return its report (a blocking call for scripts)."""
    chosen = settings or load_settings()
    chosen.require_keys()
    session = open_session(chosen, clock or SystemClock())
    return asyncio.run(collect(session, options, Unheard()))
