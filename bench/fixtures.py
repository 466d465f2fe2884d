"""What every benchmark sets up: fake keys, settings in a temp folder, a silent observer, clocks."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kto_keys.core.clock import Clock
from kto_keys.core.plan import DetailPlan
from kto_keys.edges.logbook import setup_logging
from kto_keys.edges.settings import Settings, settings_in
from kto_keys.jobs.collect import CollectOptions, CollectReport, collect
from kto_keys.jobs.session import open_runtime

LATENCY_S = 0.05
# No benchmark run may hang: a collect that takes longer than this is a failure, not a figure.
COLLECT_TIMEOUT_S = 90.0


def fake_key() -> str:
    """A fresh 64-hex fake key; never a real one, never written to the repository."""
    return secrets.token_hex(32)


def make_settings(folder: Path, keys: list[str], base_url: str) -> Settings:
    """Settings with every path inside `folder`, no env file, English messages."""
    return settings_in(folder, keys, base_url, KTO_LANG="en", KTO_READ_TIMEOUT_S="5")


class OffsetClock:
    """The wall clock moved by whole days: a nightly re-run without waiting for the night."""

    def __init__(self, days: int = 0) -> None:
        self.offset = timedelta(days=days)

    def now(self) -> datetime:
        """Return the current UTC time plus the offset."""
        return datetime.now(UTC) + self.offset

    def next_day(self) -> None:
        """Move the clock one day on."""
        self.offset += timedelta(days=1)


@dataclass(slots=True)
class PhaseTimer:
    """A silent observer that notes when the detail phase begins (perf_counter) and its plan."""

    details_started: float | None = None
    details_planned_calls: int = 0

    def province_planned(self, province: str, pages: int, total: int, done: int) -> None:
        """Ignored: the benchmark counts pages from the report."""

    def page_stored(self, province: str, new: int, updated: int) -> None:
        """Ignored."""

    def province_done(self, province: str, records: int, removed: int) -> None:
        """Ignored."""

    def details_planned(self, plan: DetailPlan) -> None:
        """The detail phase starts now."""
        self.details_started = time.perf_counter()
        self.details_planned_calls = plan.this_run

    def detail_stored(self, operation: str) -> None:
        """Ignored."""


class SleepLog:
    """The job's sleep (back-off, waits for a paused key), added up.

    With `warp`, nothing is waited out: the clock is moved on instead, as the tests' fake sleep
    does. Call counts stay what they would be; the seconds are reported, not spent.
    """

    def __init__(self, warp: OffsetClock | None = None) -> None:
        self.warp = warp
        self.count = 0
        self.seconds = 0.0

    async def __call__(self, seconds: float) -> None:
        self.count += 1
        self.seconds += seconds
        if self.warp is None:
            await asyncio.sleep(seconds)
            return
        self.warp.offset += timedelta(seconds=seconds)
        await asyncio.sleep(0)


@dataclass(frozen=True, slots=True)
class TimedRun:
    """A collect job's report with its wall time and CPU time, measured around `collect()`."""

    report: CollectReport
    elapsed_s: float
    cpu_s: float
    finished_at: float
    slept: SleepLog


class CollectTimeout(Exception):
    """A collect job ran past its time limit and was cancelled."""


def run_collect(
    settings: Settings,
    clock: Clock,
    options: CollectOptions,
    observer: PhaseTimer | None = None,
    timeout_s: float = COLLECT_TIMEOUT_S,
    warp: bool = False,
) -> TimedRun:
    """One whole collect job, as the CLI runs it (log file included), bounded in time.

    With `warp` (the clock must be an OffsetClock), sleeps move the clock instead of waiting.
    """
    setup_logging(settings.log_dir, settings.keys, clock.now(), console_level=logging.CRITICAL + 1)
    runtime = open_runtime(settings, clock)
    if warp and not isinstance(clock, OffsetClock):
        raise TypeError("warp needs an OffsetClock")
    slept = SleepLog(clock if warp and isinstance(clock, OffsetClock) else None)

    async def bounded() -> TimedRun:
        started, cpu = time.perf_counter(), time.process_time()
        job = collect(runtime, options, observer or PhaseTimer(), sleep=slept)
        try:
            report = await asyncio.wait_for(job, timeout_s)
        except TimeoutError:
            raise CollectTimeout(
                f"collect did not finish within {timeout_s:.0f} s"
                f" ({slept.count} sleeps, {slept.seconds:.0f} s of them)"
            ) from None
        finished = time.perf_counter()
        return TimedRun(report, finished - started, time.process_time() - cpu, finished, slept)

    return asyncio.run(bounded())
