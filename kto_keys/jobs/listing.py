"""The list phase: plan each province's pages, fetch them concurrently, checkpoint every page."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from kto_keys.core.answers import Payload
from kto_keys.core.clock import Clock, kst_day
from kto_keys.core.errors import NoUsableKeyError, SharedStateLostError
from kto_keys.core.operations import Operation
from kto_keys.edges.client import TourClient
from kto_keys.edges.store import Store

RESTAURANT = "39"


class ListingObserver(Protocol):
    """Who hears about the list phase's progress (the progress display)."""

    def province_planned(self, province: str, pages: int, total: int, done: int) -> None:
        """A province's first page told how many pages it has."""
        ...

    def page_stored(self, province: str, new: int, updated: int) -> None:
        """One page was stored."""
        ...

    def province_done(self, province: str, records: int, removed: int) -> None:
        """A province was listed completely."""
        ...


@dataclass(slots=True)
class ProvinceListing:
    """One province's listing in this run."""

    province: str
    page_size: int
    total: int = 0
    done: set[int] = field(default_factory=set)
    calls: int = 0
    resumed: int = 0
    changed: bool = False

    @property
    def pages(self) -> int:
        """Pages the province has at this page size."""
        return max(1, math.ceil(self.total / self.page_size))


@dataclass(slots=True)
class ListingResult:
    """What the list phase did."""

    pages: int = 0
    calls: int = 0
    minimum_calls: int = 0
    new: int = 0
    updated: int = 0
    removed: int = 0
    records: int = 0
    relisted: int = 0
    provinces: dict[str, int] = field(default_factory=dict)


class Lister:
    """Lists every restaurant of the chosen provinces into the store."""

    def __init__(
        self,
        client: TourClient,
        store: Store,
        run_id: int,
        clock: Clock,
        observer: ListingObserver,
        page_size: int,
        concurrency: int,
    ) -> None:
        self.client = client
        self.store = store
        self.run_id = run_id
        self.clock = clock
        self.observer = observer
        self.page_size = page_size
        self.concurrency = max(1, concurrency)
        self.result = ListingResult()
        # The run's Korea-time day: a run that crosses midnight keeps its checkpoints.
        self.day = kst_day(clock.now())
        # Pages handed to the store's writer thread and not yet committed.
        self._saving: set[asyncio.Future[None]] = set()

    async def run(self, provinces: Sequence[str]) -> ListingResult:
        """List the provinces: first pages, then the rest concurrently, then check completeness."""
        day = self.day
        pending: list[ProvinceListing] = []
        for province in provinces:
            completed = self.store.province_completed(day, province)
            if completed is not None:
                records = self.store.listed_today(province, day)
                self.observer.province_planned(province, 0, completed, 0)
                self.observer.province_done(province, records, 0)
                self.result.provinces[province] = records
                self.result.records += records
                continue
            pending.append(self._resume(province, day))
        try:
            await self._list(pending)
            await self._settle()
        except asyncio.CancelledError:
            for saving in list(self._saving):
                saving.cancel()  # a page already being written is still committed whole
            raise
        finally:
            # On any other error the pages fetched are still kept: their quota is spent.
            await asyncio.gather(*self._saving, return_exceptions=True)
        for listing in pending:
            await self._complete(listing)
        return self.result

    def _resume(self, province: str, day: date) -> ProvinceListing:
        done = self.store.pages_done(day, province)
        if done:
            size = min(page_size for page_size, _ in done)
            pages = {number for page_size, number in done if page_size == size}
            total = max(count for (page_size, _), count in done.items() if page_size == size)
            return ProvinceListing(province, size, total, pages, resumed=len(pages))
        return ProvinceListing(province, self.page_size)

    async def _list(self, pending: Sequence[ProvinceListing]) -> None:
        """Every page of the provinces by `concurrency` workers from one queue, with no barrier
        between first pages and the rest: a province's other pages join the queue as soon as
        its first page tells how many there are, so a slot is never idle while another
        province's first page is still on its way."""
        queue: asyncio.Queue[tuple[ProvinceListing, int] | None] = asyncio.Queue()
        unplanned = 0
        for listing in pending:
            if 1 in listing.done:
                self._plan(listing, queue)
            else:
                queue.put_nowait((listing, 1))
                unplanned += 1

        def all_queued() -> None:
            """Every page is in the queue now: one stop sign a worker, behind the work."""
            for _ in range(self.concurrency):
                queue.put_nowait(None)

        def planned() -> None:
            nonlocal unplanned
            unplanned -= 1
            if unplanned == 0:
                all_queued()

        if unplanned == 0:
            all_queued()
        await self._gather([self._worker(queue, planned) for _ in range(self.concurrency)])

    async def _worker(
        self,
        queue: asyncio.Queue[tuple[ProvinceListing, int] | None],
        planned: Callable[[], None],
    ) -> None:
        while (work := await queue.get()) is not None:
            listing, page = work
            if page != 1:
                payload = await self._fetch(listing, page, listing.page_size)
                self._store(listing, page, payload)
                continue
            try:
                await self._first_page(listing)
                self._plan(listing, queue)
            finally:
                planned()  # a failed first page plans nothing, and must not keep others waiting

    async def _first_page(self, listing: ProvinceListing) -> None:
        payload = await self._fetch(listing, 1, self.page_size)
        returned = len(payload.items)
        total = payload.total_count or 0
        if 0 < returned < min(self.page_size, total):
            listing.page_size = returned  # the service capped the page: follow its size
        listing.total = total
        self._store(listing, 1, payload)

    def _plan(
        self, listing: ProvinceListing, queue: asyncio.Queue[tuple[ProvinceListing, int] | None]
    ) -> None:
        """Queue the province's pages not yet stored (page 1 is stored or being stored)."""
        self.result.minimum_calls += listing.pages - listing.resumed
        # Pages done in an earlier run of today, not the first page this run just fetched.
        self.observer.province_planned(
            listing.province, listing.pages, listing.total, listing.resumed
        )
        for page in range(2, listing.pages + 1):
            if page not in listing.done:
                queue.put_nowait((listing, page))

    async def _complete(self, listing: ProvinceListing) -> None:
        if listing.changed:
            # Records came or went while we listed, so pages shifted: list the province again,
            # counting only what this second pass sees, so nothing is missed or wrongly kept.
            self.store.unlist(listing.province, self.day)
            listing.changed = False
            await self._relist(listing, stop_when_complete=False)
        held = self.store.listed_today(listing.province, self.day)
        if held < listing.total:
            held = await self._relist(listing, stop_when_complete=True)
        removed = self.store.complete_province(
            listing.province, listing.total, self.clock.now(), self.day
        )
        self.result.removed += removed
        self.result.records += held
        self.result.provinces[listing.province] = held
        self.observer.province_done(listing.province, held, removed)

    async def _relist(self, listing: ProvinceListing, stop_when_complete: bool) -> int:
        """Page the province again from the start; stop early once nothing is missing if asked."""
        held = 0
        page = 1
        while page <= listing.pages:
            payload = await self._fetch(listing, page, listing.page_size)
            self.result.relisted += 1
            self._store(listing, page, payload)
            await self._settle()  # the count below must include this page
            held = self.store.listed_today(listing.province, self.day)
            if stop_when_complete and held >= listing.total:
                break
            page += 1
        return held

    async def _fetch(self, listing: ProvinceListing, page: int, size: int) -> Payload:
        params: dict[str, str | int] = {
            "contentTypeId": RESTAURANT,
            "lDongRegnCd": listing.province,
            "numOfRows": size,
            "pageNo": page,
            "arrange": "D",
        }
        payload = await self.client.call(Operation.LIST, params)
        listing.calls += 1
        self.result.calls += 1
        if (
            payload.total_count is not None
            and listing.total
            and payload.total_count != listing.total
        ):
            # Records came or went while we listed: pages shifted under us (see _complete).
            listing.total = payload.total_count
            listing.changed = True
        return payload

    def _store(self, listing: ProvinceListing, page: int, payload: Payload) -> None:
        """Hand the page to the store's writer thread and go on: the next request need not wait
        for this page's commit. A page counts as done once its transaction committed."""
        saving = asyncio.ensure_future(self._save(listing, page, payload))
        self._saving.add(saving)
        saving.add_done_callback(self._saving.discard)

    async def _settle(self) -> None:
        """Wait until every page handed to the store is committed; raise the first failure."""
        while self._saving:
            await asyncio.gather(*self._saving)

    async def _save(self, listing: ProvinceListing, page: int, payload: Payload) -> None:
        total = payload.total_count if payload.total_count is not None else listing.total
        saved = await self.store.save_page_async(
            self.run_id,
            listing.province,
            listing.page_size,
            page,
            total,
            payload.items,
            self.clock.now(),
            self.day,
        )
        listing.done.add(page)
        self.result.pages += 1
        self.result.new += saved.new
        self.result.updated += saved.updated
        self.observer.page_stored(listing.province, saved.new, saved.updated)

    async def _gather(self, jobs: Sequence[Coroutine[Any, Any, None]]) -> None:
        tasks = [asyncio.ensure_future(job) for job in jobs]
        try:
            await asyncio.gather(*tasks)
        except (NoUsableKeyError, SharedStateLostError):
            # A stop for quota, or the shared pool lost: no task starts a call, and the calls
            # already on their way (counted by the gateway) finish and their pages are kept;
            # after a lost pool their outcomes wait in the journal.
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
