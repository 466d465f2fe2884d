"""Benchmark 6: the list phase beside the reference collector, against one gateway process.

The issue's set-up: 12 provinces of 1,000 restaurants, 200 ms per 100-row page and 1 s per
1,000-row page (latency = 111 ms + 0.889 ms per row asked for). The tool (in this process, as
`collect()` with a pool of 16 keys) and the reference collector (bench/reference.py, one key)
run alternately against the same gateway, so that both see the same machine at the same time.
bound = (ceil(calls / c) + 1) x latency of a page, calls = what the gateway counted.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any

from bench.fixtures import fake_key, make_settings, run_collect
from bench.gateway_process import GatewayProcess
from bench.reference import run_reference
from bench.table import Row
from kto_keys.core.regions import Selection
from kto_keys.edges.clock import SystemClock
from kto_keys.jobs.collect import CollectOptions

PROVINCES = ("11", "26", "27", "28", "29", "30", "31", "41", "43", "44", "47", "48")
RECORDS_PER_PROVINCE = 1000
BASE_LATENCY_S = 1 / 9  # 100 rows: 0.2 s; 1,000 rows: 1.0 s
LATENCY_PER_ROW_S = 0.008 / 9
# As many keys as the most slots: a key takes one call at a time until it has answered once.
POOL_SIZE = 16
# (page size, concurrency) -> runs of each collector; the median is reported.
CASES: dict[tuple[int, int], int] = {
    (100, 4): 1,
    (100, 8): 3,
    (100, 16): 5,
    # 13 calls in two rounds: one run is mostly the machine's moment; the median of 5 each.
    (1000, 4): 5,
    (1000, 8): 5,
    (1000, 16): 5,
}
TARGET_SHARE = 0.90
TARGET_SLOWER = 1.05


def page_latency(page_size: int) -> float:
    """What the gateway takes for one page of this size."""
    return BASE_LATENCY_S + LATENCY_PER_ROW_S * page_size


def bound(calls: int, concurrency: int, page_size: int) -> float:
    """The issue's bound: (ceil(calls / c) + 1) rounds of a page's latency."""
    return (math.ceil(calls / concurrency) + 1) * page_latency(page_size)


def versus(folder: Path) -> tuple[dict[str, Any], list[Row]]:
    """Each case: the tool and the reference collector, alternately, the same number of times."""
    keys = [fake_key() for _ in range(POOL_SIZE)]
    config = {
        "keys": {raw: {"label": f"k{i}", "behaviour": "valid"} for i, raw in enumerate(keys)},
        "sizes": dict.fromkeys(PROVINCES, RECORDS_PER_PROVINCE),
        "seed": 1,
        "latency_s": BASE_LATENCY_S,
        "latency_per_row_s": LATENCY_PER_ROW_S,
    }
    cases: dict[str, Any] = {}
    rows: list[Row] = []
    with GatewayProcess(config, folder / "gateway") as gateway:
        for (page_size, concurrency), repeats in CASES.items():
            tool: list[dict[str, Any]] = []
            reference: list[dict[str, Any]] = []
            for repeat in range(repeats):
                name = f"p{page_size}-c{concurrency}-{repeat}"
                gateway.reset_counts()
                settings = make_settings(folder / name, keys, gateway.base_url)
                options = CollectOptions(
                    Selection("ldong", PROVINCES),
                    kinds=(),
                    page_size=page_size,
                    concurrency=concurrency,
                )
                run = run_collect(settings, SystemClock(), options)
                calls = gateway.total()
                tool.append(
                    {
                        "elapsed_s": round(run.elapsed_s, 4),
                        "calls": calls,
                        "records": run.report.listing.records,
                        "cpu_ms_per_call": round(run.cpu_s / calls * 1000, 3),
                        "share": round(bound(calls, concurrency, page_size) / run.elapsed_s, 4),
                    }
                )
                gateway.reset_counts()
                ref = run_reference(
                    gateway.base_url,
                    keys[0],
                    PROVINCES,
                    page_size,
                    concurrency,
                    folder / f"{name}-reference",
                )
                ref_calls = gateway.total()
                reference.append(
                    {
                        "elapsed_s": round(ref.elapsed_s, 4),
                        "calls": ref_calls,
                        "records": ref.records,
                        "cpu_ms_per_call": round(ref.cpu_s / ref_calls * 1000, 3),
                        "share": round(bound(ref_calls, concurrency, page_size) / ref.elapsed_s, 4),
                    }
                )
            share = statistics.median(run["share"] for run in tool)
            ref_share = statistics.median(run["share"] for run in reference)
            ratio = statistics.median(run["elapsed_s"] for run in tool) / statistics.median(
                run["elapsed_s"] for run in reference
            )
            cases[f"page {page_size}, c={concurrency}"] = {
                "tool": tool,
                "reference": reference,
                "share": share,
                "reference_share": ref_share,
                "time_ratio": round(ratio, 4),
            }
            label = f"page {page_size:,}, c={concurrency}"
            rows.append(
                Row(
                    "6 vs reference",
                    f"{label}: share of bound",
                    f"{share:.2f} (reference {ref_share:.2f}; {tool[0]['calls']} calls,"
                    f" {repeats} run{'s' if repeats > 1 else ''} each)",
                    f">= {TARGET_SHARE:.2f}",
                    share >= TARGET_SHARE,
                )
            )
            rows.append(
                Row(
                    "6 vs reference",
                    f"{label}: tool time / reference time",
                    f"{ratio:.2f}",
                    f"<= {TARGET_SLOWER:.2f}",
                    ratio <= TARGET_SLOWER,
                )
            )
    result = {
        "provinces": len(PROVINCES),
        "records_per_province": RECORDS_PER_PROVINCE,
        "latency_s": {"100": page_latency(100), "1000": page_latency(1000)},
        "pool_size": POOL_SIZE,
        "cases": cases,
    }
    return result, rows
