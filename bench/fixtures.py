"""What every benchmark sets up: fake keys, settings in a temp folder, a silent observer, clocks."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kto_keys.core.clock import Clock
from kto_keys.core.plan import DetailPlan
from kto_keys.edges.logbook import setup_logging
from kto_keys.edges.settings import Settings, settings_in
from kto_keys.jobs.collect import CollectOptions, CollectReport, collect
from kto_keys.jobs.session import open_session

LATENCY_S = 0.05
# No benchmark run may hang: a collect that takes longer than this is a failure, not a figure.
COLLECT_TIMEOUT_S = 90.0


def fake_key() -> str:
    """A fresh 64-hex fake key; never a real one, never written to the repository."""
    return secrets.token_hex(32)


# The gateways of benchmarks 1, 2 and 6 have no per-second limit, and their bound is latency
# alone: the pace per key would only be measured again (benchmark 7 measures it).
UNPACED = "1000"


def make_settings(folder: Path, keys: list[str], base_url: str) -> Settings:
    """Settings with every path inside `folder`, no env file, English messages, no pace."""
    return settings_in(
        folder, keys, base_url, KTO_LANG="en", KTO_READ_TIMEOUT_S="5", KTO_KEY_RPS=UNPACED
    )


class OffsetClock:
    """The wall clock moved by whole days: a nightly re-run without waiting for the night.

    It counts the job's sleeps (back-off, waits for a paused key). With `warp`, nothing is
    waited out: the clock is moved on instead, as the tests' fake clock does. Call counts stay
    what they would be; the seconds are reported, not spent.
    """

    def __init__(self, days: int = 0, warp: bool = False) -> None:
        self.offset = timedelta(days=days)
        self.warp = warp
        self.count = 0
        self.seconds = 0.0

    def now(self) -> datetime:
        """Return the current UTC time plus the offset."""
        return datetime.now(UTC) + self.offset

    def monotonic(self) -> float:
        """The monotonic clock plus the offset."""
        return time.monotonic() + self.offset.total_seconds()

    async def sleep(self, seconds: float) -> None:
        """Count the wait; wait it out, or with `warp` move the clock instead."""
        self.count += 1
        self.seconds += seconds
        if not self.warp:
            await asyncio.sleep(seconds)
            return
        self.offset += timedelta(seconds=seconds)
        await asyncio.sleep(0)

    async def heartbeat(self, seconds: float) -> None:
        """Background beats follow real time."""
        await asyncio.sleep(seconds)

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

    def keys_skipped(self, keys: Any, pool: Any) -> None:
        """Ignored."""

    def provinces_followed(self, followed: Any, listed: Any) -> None:
        """Ignored."""

    def run_finished(self, report: Any) -> None:
        """Ignored: the benchmark reads the returned report."""


@dataclass(frozen=True, slots=True)
class TimedRun:
    """A collect job's report with its wall time and CPU time, measured around `collect()`."""

    report: CollectReport
    elapsed_s: float
    cpu_s: float
    finished_at: float
    slept: OffsetClock


class CollectTimeout(Exception):
    """A collect job ran past its time limit and was cancelled."""


def run_collect(
    settings: Settings,
    clock: Clock,
    options: CollectOptions,
    observer: PhaseTimer | None = None,
    timeout_s: float = COLLECT_TIMEOUT_S,
) -> TimedRun:
    """One whole collect job, as the CLI runs it (log file included), bounded in time.

    Sleeps are counted on an OffsetClock (made with `warp=True`, they move it instead of waiting).
    """
    setup_logging(settings.log_dir, settings.keys, clock.now(), console_level=logging.CRITICAL + 1)
    session = open_session(settings, clock)
    slept = clock if isinstance(clock, OffsetClock) else OffsetClock()
    slept.count, slept.seconds = 0, 0.0  # this run's sleeps only

    async def bounded() -> TimedRun:
        started, cpu = time.perf_counter(), time.process_time()
        job = collect(session, options, observer or PhaseTimer())
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
