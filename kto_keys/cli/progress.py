"""Progress of a collection: rich bars on a terminal, plain timestamped lines in cron."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from kto_keys.cli.messages import Messages
from kto_keys.core.clock import Clock, format_time
from kto_keys.core.keys import ServiceKey
from kto_keys.core.plan import DetailPlan
from kto_keys.core.pool import KeyPool
from kto_keys.core.regions import Followed, names_of
from kto_keys.edges.logbook import logger
from kto_keys.jobs.collect import CollectReport

PLAIN_EVERY = 0.1


class ProgressDisplay:
    """Shows the list and detail phases as they go."""

    def __init__(
        self,
        console: Console,
        messages: Messages,
        clock: Clock,
        quiet: bool = False,
        pool: KeyPool | None = None,
    ) -> None:
        self.pool = pool
        self.console = console
        self.m = messages
        self.report: CollectReport | None = None
        self.clock = clock
        self.quiet = quiet
        self.interactive = console.is_terminal and not quiet
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[note]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not self.interactive,
        )
        self._tasks: dict[str, TaskID] = {}
        self._records: Counter[str] = Counter()
        self._details_done: Counter[str] = Counter()
        self._details_total: dict[str, int] = {}
        self._next_line: dict[str, int] = {}

    def __enter__(self) -> ProgressDisplay:
        self._progress.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.__exit__(exc_type, exc, tb)

    def line(self, text: str) -> None:
        """A plain progress line with the time, unless quiet."""
        if not self.quiet and not self.interactive:
            self.console.print(
                f"[{format_time(self.clock.now())}] {text}", markup=False, highlight=False
            )

    # --- list phase ----------------------------------------------------------------------
    def province_planned(self, province: str, pages: int, total: int, done: int) -> None:
        """A province's size is known."""
        name = names_of([province])[0]
        self._tasks[province] = self._progress.add_task(
            f"{province} {name}", total=max(pages, 1), completed=done, note=""
        )
        # "already done" only when an earlier run of today left pages to resume from.
        message = "progress.province_resumed" if done else "progress.province"
        self.line(
            self.m(message, province=province, name=name, total=total, pages=pages, done=done)
        )

    def page_stored(self, province: str, new: int, updated: int) -> None:
        """One page landed."""
        self._records[province] += new + updated
        task = self._tasks.get(province)
        if task is not None:
            note = f"+{self._records[province]} {self._pool_note()}"
            self._progress.update(task, advance=1, note=note)

    def province_done(self, province: str, records: int, removed: int) -> None:
        """A province is complete."""
        task = self._tasks.get(province)
        if task is not None:
            total = self._progress.tasks[self._task_index(task)].total or 1
            self._progress.update(task, completed=total, note=f"{records}")
        self.line(
            self.m("progress.province_done", province=province, records=records, removed=removed)
        )

    # --- the run ------------------------------------------------------------------------------
    def keys_skipped(self, keys: Sequence[ServiceKey], pool: KeyPool) -> None:
        """Deactivated keys left out of the run: one warning line each."""
        for line in self.m.skipped(keys, pool):
            logger().error(line)  # a key out needs a person: shown even under --quiet

    def provinces_followed(self, followed: Sequence[Followed], listed: Mapping[str, str]) -> None:
        """One line per province that merged into another: the user asked for the region."""
        for step in followed:
            logger().warning(self.m.followed(step, listed))

    def run_finished(self, report: CollectReport) -> None:
        """Keep the report for the summary."""
        self.report = report

    # --- detail phase --------------------------------------------------------------------
    def details_planned(self, plan: DetailPlan) -> None:
        """The plan is known: show it and open one bar per operation."""
        for op in plan.operations:
            days = "?" if op.more_days is None else str(op.more_days)
            text = self.m(
                "progress.plan",
                operation=op.operation,
                needed=op.needed,
                left=op.left_today,
                this_run=op.this_run,
                days=days,
            )
            if not self.quiet:
                self.console.print(text, markup=False)
            self._details_total[op.operation] = op.this_run
            self._next_line[op.operation] = max(1, int(op.this_run * PLAIN_EVERY))
            self._tasks[op.operation] = self._progress.add_task(
                op.operation, total=max(op.this_run, 1), note=""
            )

    def detail_stored(self, operation: str) -> None:
        """One detail landed."""
        self._details_done[operation] += 1
        task = self._tasks.get(operation)
        if task is not None:
            self._progress.update(task, advance=1)
            if self._details_done[operation] % 25 == 1:
                self._progress.update(task, note=self._pool_note())
        done, total = self._details_done[operation], self._details_total.get(operation, 0)
        if done >= self._next_line.get(operation, 1) or done == total:
            self._next_line[operation] = done + max(1, int(total * PLAIN_EVERY))
            self.line(f"{operation}: {done}/{total}")

    def _pool_note(self) -> str:
        """Calls made today and working keys, for the bars (terminal only)."""
        if self.pool is None or not self.interactive:
            return ""
        now = self.clock.now()
        calls = sum(sum(self.pool.peek(key).usage.values()) for key in self.pool.keys)
        working = len(self.pool.working_keys(now))
        return self.m("progress.pool", calls=calls, working=working, total=len(self.pool.keys))

    def _task_index(self, task: TaskID) -> int:
        for index, candidate in enumerate(self._progress.tasks):
            if candidate.id == task:
                return index
        return 0
