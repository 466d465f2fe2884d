"""The collect job: keys checked, provinces resolved, list phase, detail phase, run recorded."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from filelock import FileLock, Timeout

from kto_keys.core.clock import Clock, format_time, kst_day
from kto_keys.core.errors import CollectLockedError, KtoKeysError, NoUsableKeyError
from kto_keys.core.lang import pick
from kto_keys.core.pool import Exhausted, KeyPool
from kto_keys.core.regions import Selection, all_listed, check_listed
from kto_keys.edges.client import PROBE_OPERATION, USER_AGENT, Sleep, TourClient
from kto_keys.edges.logbook import logger, skip_line
from kto_keys.edges.store import Store
from kto_keys.jobs.details import DEFAULT_KINDS, DetailObserver, DetailResult, Enricher
from kto_keys.jobs.listing import (
    DEFAULT_PAGE_SIZE,
    LIST_OPERATION,
    Lister,
    ListingObserver,
    ListingResult,
)
from kto_keys.jobs.session import Runtime

PROVINCE_LIST_MAX_AGE = timedelta(days=1)
PROVINCE_PAGE_SIZE = 100
MAX_PROVINCE_PAGES = 50


@dataclass(frozen=True, slots=True)
class CollectOptions:
    """What the user asked of a collection."""

    selection: Selection
    kinds: tuple[str, ...] = DEFAULT_KINDS
    page_size: int = DEFAULT_PAGE_SIZE
    concurrency: int = 4
    budget: int | None = None
    plan_only: bool = False
    fresh: bool = False


class Observer(ListingObserver, DetailObserver, Protocol):
    """Hears about both phases (the progress display)."""


@dataclass(slots=True)
class CollectReport:
    """Everything a run did, for the summary and `--json`."""

    run_id: int
    mode: str
    provinces: tuple[str, ...]
    started_at: datetime
    outcome: str = "running"
    listing: ListingResult = field(default_factory=ListingResult)
    details: DetailResult = field(default_factory=DetailResult)
    calls: dict[str, dict[str, int]] = field(default_factory=dict)
    failovers: int = 0
    probes: list[dict[str, Any]] = field(default_factory=list)
    province_list_calls: int = 0
    elapsed_s: float = 0.0
    db_path: str = ""
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        """The summary as JSON-ready data."""
        plan = self.details.plan
        listing = self.listing
        return {
            "run_id": self.run_id,
            "mode": self.mode,
            "provinces": list(self.provinces),
            "outcome": self.outcome,
            "message": self.message,
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
    runtime: Runtime,
    options: CollectOptions,
    observer: Observer,
    sleep: Sleep = asyncio.sleep,
    user_agent: str | None = None,
) -> CollectReport:
    """Run one collection; the report is filled in even when the run stops early."""
    _last_report[0] = None
    settings = runtime.settings
    lock = FileLock(str(settings.db_path) + ".lock", timeout=0)
    settings.db_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        lock.acquire()
    except Timeout:
        raise CollectLockedError(
            pick(
                settings.lang,
                f"다른 수집이 같은 데이터베이스({settings.db_path})에서 실행 중입니다: 끝난 뒤 다시 실행하세요",
                f"another collection is running on {settings.db_path}: run again when it has finished",
            )
        ) from None
    try:
        with Store(settings.db_path) as store:
            return await _collect(runtime, store, options, observer, sleep, user_agent)
    finally:
        lock.release()


async def _collect(
    runtime: Runtime,
    store: Store,
    options: CollectOptions,
    observer: Observer,
    sleep: Sleep,
    user_agent: str | None,
) -> CollectReport:
    settings, clock, pool = runtime.settings, runtime.clock, runtime.pool
    started = time.monotonic()
    client = TourClient(
        runtime,
        store,
        options.concurrency,
        sleep=sleep,
        user_agent=user_agent or USER_AGENT,
        budget=options.budget,
    )
    async with client:
        probes = await client.recover()
        _log_skipped(pool, clock.now(), settings.lang)
        _require_usable_key(pool, clock.now(), settings.lang)
        _prepare_listing(store, clock, options.fresh)
        run_id = store.start_run(options.selection.mode, options.selection.ldong_codes, clock.now())
        report = CollectReport(
            run_id,
            options.selection.mode,
            options.selection.ldong_codes,
            clock.now(),
            db_path=str(settings.db_path),
        )
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
            provinces = await _provinces(client, store, options.selection, clock, report)
            report.provinces = provinces
            lister = Lister(
                client, store, run_id, clock.now, observer, options.page_size, options.concurrency
            )
            report.listing = lister.result
            await lister.run(provinces)
            budget = (
                None
                if options.budget is None
                else max(0, options.budget - client.stats.total_calls)
            )
            enricher = Enricher(client, store, clock.now, observer, options.concurrency, budget)
            report.details = enricher.result
            if options.kinds:
                if options.plan_only:
                    plan, _ = enricher.plan(options.kinds, provinces)
                    observer.details_planned(plan)
                else:
                    await enricher.run(options.kinds, provinces)
            report.outcome = "complete"
        except KtoKeysError as error:
            report.outcome = "stopped" if error.exit_code == 4 else "failed"
            report.message = str(error)
            raise
        except (asyncio.CancelledError, KeyboardInterrupt):
            report.outcome = "interrupted"
            raise
        finally:
            report.calls = _calls_by_key(client)
            report.failovers = client.stats.failovers
            report.elapsed_s = time.monotonic() - started
            store.flush_calls()
            store.finish_run(run_id, clock.now(), report.outcome, report.to_json())
            runtime.save(force=True)
            _last_report[0] = report
    return report


_last_report: list[CollectReport | None] = [None]


def last_report() -> CollectReport | None:
    """The report of the latest run in this process, also when it ended with an error."""
    return _last_report[0]


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
    client: TourClient, store: Store, selection: Selection, clock: Clock, report: CollectReport
) -> tuple[str, ...]:
    listed = await province_list(client, store, clock, report)
    if selection.mode == "all":
        return all_listed(listed)
    check_listed(selection, listed)
    return selection.ldong_codes


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


def _require_usable_key(pool: KeyPool, now: datetime, lang: str) -> None:
    if any(pool.is_usable(key, LIST_OPERATION, now) for key in pool.keys):
        return
    soonest: Exhausted = pool.next_usable(LIST_OPERATION, now)
    when = format_time(soonest.until) if soonest.until else pick(lang, "알 수 없음", "unknown")
    which = f"#{soonest.key.index} {soonest.key.preview}" if soonest.key else "-"
    raise NoUsableKeyError(
        pick(
            lang,
            f"사용 가능한 키가 없습니다. 가장 빠른 키: {which} ({when}). `kto-keys recover`로 복구를 시도하세요",
            f"no usable key. Soonest: key {which} at {when}. Try `kto-keys recover`",
        ),
        soonest.until,
    )


def _log_skipped(pool: KeyPool, now: datetime, lang: str) -> None:
    for key in pool.keys:
        state = pool.state(key)
        if state.is_deactivated:
            reason = state.deactivation_reason or str(state.deactivation_cause or "deactivated")
            logger().warning(
                skip_line(
                    key, pick(lang, f"비활성화됨 ({reason})", f"deactivated ({reason})"), lang
                )
            )


def _calls_by_key(client: TourClient) -> dict[str, dict[str, int]]:
    calls: dict[str, dict[str, int]] = {}
    for (index, operation), count in sorted(client.stats.calls.items()):
        calls.setdefault(f"#{index}", {})[operation] = count
    return calls
