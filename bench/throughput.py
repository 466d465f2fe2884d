"""Benchmarks 1 and 2: listing and detail throughput against the bound ceil(calls/c) x latency."""

from __future__ import annotations

import asyncio
import math
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.fixtures import LATENCY_S, PhaseTimer, fake_key, make_settings, run_collect
from bench.gateway_process import GatewayProcess, gateway_config
from bench.table import Row
from kto_keys.core.regions import Selection
from kto_keys.edges.clock import SystemClock
from kto_keys.jobs.collect import CollectOptions

# Eight provinces: a multiple of every concurrency measured, so that the list phase's first
# round (page 1 of every province, which tells the page count) fills every slot.
LIST_PROVINCES = ("11", "26", "27", "28", "29", "30", "31", "41")
LIST_RECORDS_PER_PROVINCE = 130
LIST_PAGE_SIZE = 10  # 8 x 13 = 104 pages of 1,040 records, plus the province list: 105 calls
CONCURRENCIES = (1, 4, 8)
REPEATS = {1: 1, 4: 5, 8: 5}  # c=1 takes ~6 s; the short runs are repeated, median reported
# As many keys as slots: a key takes one call at a time until it has answered once (so that a
# dead key costs one call), and a smaller pool would add a round at the start of every phase.
POOL_SIZE = 8
DETAIL_RECORDS = 400  # x 2 operations (intro, common) = 800 detail calls
DETAIL_CONCURRENCIES = (8, 16)
DETAIL_REPEATS = 3
DETAIL_POOL_SIZE = 16  # as many keys as the most slots, for the reason above
RAW_TIMEOUT_S = 60.0


def _bound(calls: int, concurrency: int) -> float:
    return math.ceil(calls / concurrency) * LATENCY_S


def listing(folder: Path) -> tuple[dict[str, Any], list[Row]]:
    """Benchmark 1: the list phase at concurrency 1, 4 and 8, and a plain aiohttp loop beside it."""
    keys = [fake_key() for _ in range(POOL_SIZE)]
    sizes = dict.fromkeys(LIST_PROVINCES, LIST_RECORDS_PER_PROVINCE)
    config = gateway_config({key: f"k{i}" for i, key in enumerate(keys)}, sizes, LATENCY_S)
    selection = Selection("ldong", LIST_PROVINCES)
    runs: dict[int, list[dict[str, Any]]] = {}
    ceiling: dict[int, dict[str, Any]] = {}
    with GatewayProcess(config, folder / "gateway") as gateway:
        for concurrency in CONCURRENCIES:
            for repeat in range(REPEATS[concurrency]):
                gateway.reset_counts()
                settings = make_settings(
                    folder / f"c{concurrency}-{repeat}", keys, gateway.base_url
                )
                options = CollectOptions(
                    selection, kinds=(), page_size=LIST_PAGE_SIZE, concurrency=concurrency
                )
                run = run_collect(settings, SystemClock(), options)
                calls = gateway.total()
                runs.setdefault(concurrency, []).append(
                    {
                        "elapsed_s": round(run.elapsed_s, 4),
                        "calls": calls,
                        "tool_calls": run.report.to_json()["total_calls"],
                        "pages": run.report.listing.pages,
                        "records": run.report.listing.records,
                        "cpu_ms_per_call": round(run.cpu_s / calls * 1000, 3),
                        "bound_s": _bound(calls, concurrency),
                        "ratio": round(_bound(calls, concurrency) / run.elapsed_s, 4),
                    }
                )
        calls = runs[1][0]["calls"]
        for concurrency in CONCURRENCIES[1:]:
            elapsed = asyncio.run(_plain_loop(gateway.base_url, keys, concurrency, calls))
            ceiling[concurrency] = {
                "elapsed_s": round(elapsed, 4),
                "calls": calls,
                "ratio": round(_bound(calls, concurrency) / elapsed, 4),
            }
    summary = {c: _median_run(runs[c]) for c in CONCURRENCIES}
    speedup = summary[1]["elapsed_s"] / summary[4]["elapsed_s"]
    result = {
        "latency_s": LATENCY_S,
        "provinces": len(LIST_PROVINCES),
        "page_size": LIST_PAGE_SIZE,
        "pool_size": POOL_SIZE,
        "runs": {str(c): runs[c] for c in CONCURRENCIES},
        "median": {str(c): summary[c] for c in CONCURRENCIES},
        "plain_aiohttp_ceiling": {str(c): ceiling[c] for c in ceiling},
        "speedup_4_vs_1": round(speedup, 3),
    }
    rows = []
    for concurrency in CONCURRENCIES:
        figures = summary[concurrency]
        rig = ceiling.get(concurrency)
        value = (
            f"{figures['ratio']:.2f} ({figures['elapsed_s']:.2f} s, {figures['calls']} calls"
            + (f"; plain aiohttp {rig['ratio']:.2f}" if rig else "")
            + ")"
        )
        target = "" if concurrency == 1 else ">= 0.90"
        passed = None if concurrency == 1 else figures["ratio"] >= 0.90
        rows.append(Row("1 listing", f"bound/elapsed, c={concurrency}", value, target, passed))
    rows.append(
        Row("1 listing", "speed-up c=4 vs c=1", f"{speedup:.2f}x", ">= 3.5x", speedup >= 3.5)
    )
    return result, rows


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median elapsed time (of an odd number of runs)."""
    ordered = sorted(runs, key=lambda run: run["elapsed_s"])
    return ordered[len(ordered) // 2]


async def _plain_loop(base_url: str, keys: list[str], concurrency: int, calls: int) -> float:
    """The same list requests from a bare aiohttp loop: what this machine and gateway allow."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    pages = math.ceil(LIST_RECORDS_PER_PROVINCE / LIST_PAGE_SIZE)
    for number in range(calls):
        province = LIST_PROVINCES[number % len(LIST_PROVINCES)]
        page = number // len(LIST_PROVINCES) % pages + 1
        queue.put_nowait(
            f"{base_url}/areaBasedList2?serviceKey={keys[number % len(keys)]}&MobileOS=ETC"
            f"&MobileApp=bench&_type=json&contentTypeId=39&lDongRegnCd={province}"
            f"&numOfRows={LIST_PAGE_SIZE}&pageNo={page}&arrange=D"
        )
    async with aiohttp.ClientSession() as session:

        async def worker() -> None:
            while not queue.empty():
                url = queue.get_nowait()
                async with session.get(url) as response:
                    await response.read()

        started = time.perf_counter()
        await asyncio.wait_for(
            asyncio.gather(*(worker() for _ in range(concurrency))), RAW_TIMEOUT_S
        )
        return time.perf_counter() - started


def details(folder: Path) -> tuple[dict[str, Any], list[Row]]:
    """Benchmark 2: the detail phase of 400 records (800 calls) at concurrency 8 and 16."""
    keys = [fake_key() for _ in range(DETAIL_POOL_SIZE)]
    config = gateway_config(
        {key: f"k{i}" for i, key in enumerate(keys)}, {"11": DETAIL_RECORDS}, LATENCY_S
    )
    result: dict[str, Any] = {
        "latency_s": LATENCY_S,
        "records": DETAIL_RECORDS,
        "pool_size": DETAIL_POOL_SIZE,
    }
    rows = []
    with GatewayProcess(config, folder / "gateway") as gateway:
        for concurrency in DETAIL_CONCURRENCIES:
            median = _details_at(folder / f"c{concurrency}", gateway, keys, concurrency)
            result[f"c={concurrency}"] = median
            rows.append(
                Row(
                    "2 details",
                    f"bound/elapsed, c={concurrency}",
                    f"{median['ratio']:.2f} ({median['elapsed_s']:.2f} s,"
                    f" {median['detail_calls']} calls; {median['ms_per_round']:.1f} ms/round)",
                    ">= 0.90",
                    median["ratio"] >= 0.90,
                )
            )
    return result, rows


def _details_at(
    folder: Path, gateway: GatewayProcess, keys: list[str], concurrency: int
) -> dict[str, Any]:
    """The median of DETAIL_REPEATS detail phases at one concurrency, each in a fresh folder."""
    options = CollectOptions(
        Selection("ldong", ("11",)),
        kinds=("intro", "common"),
        page_size=1000,
        concurrency=concurrency,
    )
    runs: list[dict[str, Any]] = []
    for repeat in range(DETAIL_REPEATS):
        gateway.reset_counts()
        settings = make_settings(folder / f"run-{repeat}", keys, gateway.base_url)
        timer = PhaseTimer()
        run = run_collect(settings, SystemClock(), options, timer)
        if timer.details_started is None:
            raise RuntimeError("the detail phase never started")
        detail_calls = sum(
            n
            for ops in gateway.counts().values()
            for operation, n in ops.items()
            if operation.startswith("detail")
        )
        elapsed = run.finished_at - timer.details_started
        bound = _bound(detail_calls, concurrency)
        rounds = math.ceil(detail_calls / concurrency)
        runs.append(
            {
                "elapsed_s": round(elapsed, 4),
                "detail_calls": detail_calls,
                "fetched": dict(run.report.details.fetched),
                "whole_run_s": round(run.elapsed_s, 4),
                "cpu_ms_per_call": round(run.cpu_s / detail_calls * 1000, 3),
                "bound_s": bound,
                "ratio": round(bound / elapsed, 4),
                "ms_per_round": round(elapsed / rounds * 1000, 2),
            }
        )
    return {**_median_run(runs), "runs": runs}
