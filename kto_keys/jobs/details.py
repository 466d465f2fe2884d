"""The detail phase: what needs fetching, the plan, and enrichment across keys and days."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from kto_keys.core.answers import Item
from kto_keys.core.errors import BudgetExhaustedError, NoUsableKeyError, SharedStateLostError
from kto_keys.core.operations import DetailKind, Operation
from kto_keys.core.plan import DetailPlan, plan_details
from kto_keys.edges.client import TourClient
from kto_keys.edges.store import DetailTodo, Store

if TYPE_CHECKING:
    from kto_keys.jobs.session import Session


class DetailObserver(Protocol):
    """Who hears about the detail phase's progress."""

    def details_planned(self, plan: DetailPlan) -> None:
        """The plan is made."""
        ...

    def detail_stored(self, operation: str) -> None:
        """One detail was stored."""
        ...


@dataclass(slots=True)
class DetailResult:
    """What the detail phase did."""

    plan: DetailPlan | None = None
    fetched: Counter[str] = field(default_factory=Counter)
    without_data: Counter[str] = field(default_factory=Counter)
    stopped: dict[str, NoUsableKeyError] = field(default_factory=dict)
    next_usable_at: datetime | None = None


class Enricher:
    """Fetches the missing or outdated details of stored records."""

    def __init__(
        self,
        client: TourClient,
        store: Store,
        session: Session,
        observer: DetailObserver,
        concurrency: int,
    ) -> None:
        self.client = client
        self.store = store
        self.session = session
        self.observer = observer
        self.concurrency = max(1, concurrency)
        self.result = DetailResult()
        self._budget_error: BudgetExhaustedError | None = None
        # The shared state was lost: no worker starts a call, the calls in flight finish.
        self._lost: SharedStateLostError | None = None
        # Details handed to the store's writer thread and not yet committed.
        self._saving: set[asyncio.Future[None]] = set()

    def plan(
        self, kinds: Sequence[DetailKind], provinces: Iterable[str] | None
    ) -> tuple[DetailPlan, dict[DetailKind, list[DetailTodo]]]:
        """Count what each operation needs and what the pool can give today."""
        codes = list(provinces) if provinces is not None else None
        todo = {DetailKind(kind): self.store.detail_todo(kind, codes) for kind in kinds}
        needed: dict[str, int] = {kind.operation: len(items) for kind, items in todo.items()}
        plan = plan_details(
            self.session.pool, needed, self.session.clock.now(), self.session.budget_left
        )
        self.result.plan = plan
        return plan, todo

    async def run(
        self, kinds: Sequence[DetailKind], provinces: Iterable[str] | None
    ) -> DetailResult:
        """Fetch what the plan allows, concurrently, spread over keys by quota left."""
        plan, todo = self.plan(kinds, provinces)
        self.observer.details_planned(plan)
        queue: asyncio.Queue[tuple[DetailKind, DetailTodo]] = asyncio.Queue()
        for position in range(max((len(items) for items in todo.values()), default=0)):
            for kind, items in todo.items():
                if position < len(items):
                    queue.put_nowait((kind, items[position]))
        workers = [asyncio.ensure_future(self._worker(queue)) for _ in range(self.concurrency)]
        try:
            await asyncio.gather(*workers)
            while self._saving:  # every detail fetched is stored before the phase counts it
                await asyncio.gather(*self._saving)
        except asyncio.CancelledError:
            for saving in list(self._saving):
                saving.cancel()
            raise
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, *self._saving, return_exceptions=True)
        if self._lost is not None:
            raise self._lost
        left: dict[str, int] = {kind.operation: len(items) for kind, items in todo.items()}
        for operation, count in self.result.fetched.items():
            left[operation] -= count
        unfinished = {op: n for op, n in left.items() if n > 0}
        if unfinished:
            self._raise_unfinished(unfinished)
        return self.result

    async def _worker(self, queue: asyncio.Queue[tuple[DetailKind, DetailTodo]]) -> None:
        while not queue.empty():
            kind, todo = queue.get_nowait()
            operation = kind.operation
            if operation in self.result.stopped or self._budget_error is not None or self._lost:
                continue
            try:
                await self._fetch(kind, operation, todo)
            except BudgetExhaustedError as error:
                self._budget_error = error  # the session's cap covers every call of the run
                return
            except SharedStateLostError as error:
                self._lost = error  # the other workers' calls in flight finish and are stored
                return
            except NoUsableKeyError as error:
                self.result.stopped[operation] = error
                if error.until and (
                    self.result.next_usable_at is None or error.until < self.result.next_usable_at
                ):
                    self.result.next_usable_at = error.until

    async def _fetch(self, kind: DetailKind, operation: Operation, todo: DetailTodo) -> None:
        params: dict[str, str | int] = {"contentId": todo.contentid}
        if kind is DetailKind.INTRO:
            params["contentTypeId"] = todo.contenttypeid or "39"
        if kind is DetailKind.IMAGES:
            params["numOfRows"] = 100
        payload = await self.client.call(operation, params)
        # Stored on the store's writer thread while this worker makes its next call.
        saving = asyncio.ensure_future(self._save(kind, operation, todo, payload.items))
        self._saving.add(saving)
        saving.add_done_callback(self._saving.discard)

    async def _save(
        self, kind: DetailKind, operation: Operation, todo: DetailTodo, items: Sequence[Item]
    ) -> None:
        item = items[0] if items else None
        await self.store.save_detail_async(kind, todo, items, self.session.clock.now())
        self.result.fetched[operation] += 1
        if item is None:
            self.result.without_data[operation] += 1
        self.observer.detail_stored(operation)

    def _raise_unfinished(self, unfinished: dict[str, int]) -> None:
        if self._budget_error is not None:
            raise BudgetExhaustedError(self._budget_error.budget, unfinished)
        first = next(iter(self.result.stopped.values()), None)
        raise NoUsableKeyError(
            first.operation if first else None,
            first.key if first else None,
            first.reason if first else None,
            self.result.next_usable_at,
            unfinished,
        )
