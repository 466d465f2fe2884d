"""The detail phase: what needs fetching, the plan, and enrichment across keys and days."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from kto_keys.core.errors import BudgetExhaustedError, NoUsableKeyError, SettingsError
from kto_keys.core.plan import DetailPlan, plan_details
from kto_keys.edges.client import TourClient
from kto_keys.edges.store import DETAIL_OPERATIONS, DetailTodo, Store

DEFAULT_KINDS = ("intro", "common")


def parse_kinds(text: str) -> tuple[str, ...]:
    """`intro,common`, `none` or `all` → the detail kinds to fetch."""
    value = text.strip().lower()
    if value == "none":
        return ()
    if value == "all":
        return tuple(DETAIL_OPERATIONS)
    kinds = tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
    unknown = [kind for kind in kinds if kind not in DETAIL_OPERATIONS]
    if unknown or not kinds:
        valid = ", ".join([*DETAIL_OPERATIONS, "none", "all"])
        raise SettingsError(
            f"--details: unknown value {', '.join(unknown) or text!r}; valid: {valid}"
        )
    return kinds


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
    stopped: dict[str, str] = field(default_factory=dict)
    next_usable_at: datetime | None = None


class Enricher:
    """Fetches the missing or outdated details of stored records."""

    def __init__(
        self,
        client: TourClient,
        store: Store,
        now: Callable[[], datetime],
        observer: DetailObserver,
        concurrency: int = 4,
        budget: int | None = None,
    ) -> None:
        self.client = client
        self.store = store
        self.now = now
        self.observer = observer
        self.concurrency = max(1, concurrency)
        self.budget = budget
        self.result = DetailResult()
        self._budget_error: BudgetExhaustedError | None = None

    def plan(
        self, kinds: Sequence[str], provinces: Iterable[str] | None
    ) -> tuple[DetailPlan, dict[str, list[DetailTodo]]]:
        """Count what each operation needs and what the pool can give today."""
        codes = list(provinces) if provinces is not None else None
        todo = {kind: self.store.detail_todo(kind, codes) for kind in kinds}
        needed = {DETAIL_OPERATIONS[kind]: len(items) for kind, items in todo.items()}
        plan = plan_details(self.client.pool, needed, self.now(), self.budget)
        self.result.plan = plan
        return plan, todo

    async def run(self, kinds: Sequence[str], provinces: Iterable[str] | None) -> DetailResult:
        """Fetch what the plan allows, concurrently, spread over keys by quota left."""
        plan, todo = self.plan(kinds, provinces)
        self.observer.details_planned(plan)
        queue: asyncio.Queue[tuple[str, DetailTodo]] = asyncio.Queue()
        for position in range(max((len(items) for items in todo.values()), default=0)):
            for kind, items in todo.items():
                if position < len(items):
                    queue.put_nowait((kind, items[position]))
        workers = [asyncio.ensure_future(self._worker(queue)) for _ in range(self.concurrency)]
        try:
            await asyncio.gather(*workers)
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
        left = {DETAIL_OPERATIONS[kind]: len(items) for kind, items in todo.items()}
        for operation, count in self.result.fetched.items():
            left[operation] -= count
        unfinished = {op: n for op, n in left.items() if n > 0}
        if unfinished:
            self._raise_unfinished(unfinished)
        return self.result

    async def _worker(self, queue: asyncio.Queue[tuple[str, DetailTodo]]) -> None:
        while not queue.empty():
            kind, todo = queue.get_nowait()
            operation = DETAIL_OPERATIONS[kind]
            if operation in self.result.stopped or self._budget_error is not None:
                continue
            try:
                await self._fetch(kind, operation, todo)
            except BudgetExhaustedError as error:
                self._budget_error = error  # the client's cap covers every call of the run
                return
            except NoUsableKeyError as error:
                self.result.stopped[operation] = str(error)
                if error.next_usable_at and (
                    self.result.next_usable_at is None
                    or error.next_usable_at < self.result.next_usable_at
                ):
                    self.result.next_usable_at = error.next_usable_at

    async def _fetch(self, kind: str, operation: str, todo: DetailTodo) -> None:
        params: dict[str, str | int] = {"contentId": todo.contentid}
        if kind == "intro":
            params["contentTypeId"] = todo.contenttypeid or "39"
        if kind == "images":
            params["numOfRows"] = 100
        payload = await self.client.call(operation, params)
        now = self.now()
        item = payload.items[0] if payload.items else None
        if kind == "intro":
            self.store.save_intro(todo, item, now)
        elif kind == "common":
            self.store.save_common(todo, item, now)
        else:
            self.store.save_images(todo, payload.items, now)
        self.result.fetched[operation] += 1
        if item is None:
            self.result.without_data[operation] += 1
        self.observer.detail_stored(operation)

    def _raise_unfinished(self, unfinished: dict[str, int]) -> None:
        left = ", ".join(f"{op} {n}" for op, n in unfinished.items())
        if self._budget_error is not None:
            raise BudgetExhaustedError(f"{self._budget_error} (details left: {left})")
        detail = next(iter(self.result.stopped.values()), "")
        raise NoUsableKeyError(f"details left: {left}. {detail}", self.result.next_usable_at)
