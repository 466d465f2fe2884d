"""Run every benchmark of issues 14 and 23 against the local gateway, print one table, write results.json.

    .venv/bin/python bench/run.py            # all of them
    .venv/bin/python bench/run.py 1 3        # only some, by number

Everything talks to 127.0.0.1 only; keys are generated per run and never written outside a
temporary folder. Benchmarks are figures, not tests: a MISS does not change the exit code,
an error does (1).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` and `kto_keys` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import memory, overhead, pacing, quota, shared, startup, throughput, versus
from bench.table import Row, render

RESULTS = Path(__file__).resolve().with_name("results.json")
# Each benchmark is bounded on its own; this keeps a slow machine from running past 6 minutes.
SKIP_AFTER_S = 300.0
Benchmark = Callable[[Path], tuple[dict[str, Any], list[Row]]]
BENCHMARKS: dict[str, tuple[str, Benchmark]] = {
    "1": ("listing", throughput.listing),
    "2": ("details", throughput.details),
    "3a": ("quota_flaky_and_nightly", quota.flaky),
    "3b": ("quota_dead_keys", quota.dead_keys),
    "4": ("overhead", overhead.overhead),
    "5": ("memory", memory.memory),
    "6": ("versus_reference", versus.versus),
    "7": ("pacing", pacing.pacing),
    "8": ("per_key_cost", startup.startup),
    "9": ("shared_state", shared.shared_state),
}
NOTES = """\
Notes
- 1/2: latency 50 ms per call at the gateway; bound = ceil(calls / c) x 50 ms, calls = every
  request the gateway counted (the province list included). Listing elapsed = the whole collect
  job (median of 5 runs at c=4 and 8); details elapsed = from the detail plan to the end of the
  job (median of 3 at c=8 and at c=16). The gateway runs in its own process; the pool has 8
  keys for 1 and 16 for 2 (a key takes one call at a time until it has answered once). "plain aiohttp" = as many list requests from a
  bare aiohttp loop against the same gateway: the ceiling of this machine and gateway, not of
  the tool. The list phase fetches page 1 of every province first (to learn the page counts),
  then the rest: 8 provinces, a multiple of c, so that first round is full and adds no round.
- 3: minimum = list pages + one call per detail operation per new/changed record (the issue's);
  the province list (1 call, cached for a day) is not in it and is shown apart. Flaky keys fail
  evenly with every fault but `slow`; a `reset` makes aiohttp re-send the GET once, so it costs
  the gateway 2 calls. 10 %/30 % have no target; ideal = 1 / (1 - share). Back-off sleeps are
  not waited out here (the tool's clock is moved on instead): their count and seconds are shown.
- 4: no network; log line = the per-call log line through the redacting filter, not in the
  issue's figure. The 1,000-key pool stops after a time budget (calls shown).
- 5: the tool runs as `kto-keys collect --details none` and `kto-keys export` in child
  processes, the gateway in a third; peak RSS from wait4 of each child; page size 1000.
- 6: the issue's list phase: 12 provinces of 1,000, 200 ms per 100-row page, 1 s per 1,000-row
  page; bound = (ceil(calls / c) + 1) x page latency; the tool and bench/reference.py (plain
  aiohttp + sqlite3, one key, the same requests) alternate against one gateway process.
- 1/2/6 run with KTO_KEY_RPS=1000: their gateways model no per-second limit, so their bound is
  latency alone; the pace per key is benchmark 7's.
- 7: a gateway that allows 25 (then 22) calls per second per key and locks a key for 60 s
  past that; rate = detail calls / detail phase time; locks from the gateway's counters.
- 6: page 1,000 makes 13 calls in 2 rounds, far under its bound; its time ratio (median of 5)
  is set by the twelve 1,000-row pages arriving at once, parsed and stored by each collector
  on two cores it shares with the gateway. The gateway counts a call's latency from the
  request's arrival, its own work included, as the real service's latency is what the caller
  waits.
- 9: no gateway: the bookkeeping of a call alone. Shared = the pool's pick, the acquire script,
  the pool's verdict and the record script (two round trips to a local Valkey); JSON = the
  pool's pick and verdict and the session's share (the cache written when due, ~once a
  second). Calls/s: 8 processes on one pool of 100 keys, each in such a loop for 3 s.
- 8: `kto-keys collect` in a child process, 200 calls; CPU from wait4; least of 9 runs after
  one that writes the cache, the key counts taking turns."""


def _git_commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None


def main(argv: list[str] | None = None) -> int:
    """Run the chosen benchmarks (all by default); return 1 if any of them failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="benchmark numbers: 1 2 3 4 5 (default: all)")
    args = parser.parse_args(argv)
    chosen = [
        number
        for number in BENCHMARKS
        if not args.only or number in args.only or number.rstrip("ab") in args.only
    ]
    started = time.perf_counter()
    results: dict[str, Any] = {}
    rows: list[Row] = []
    errors = 0
    with tempfile.TemporaryDirectory(prefix="kto-keys-bench-") as temp:
        for number in chosen:
            name, benchmark = BENCHMARKS[number]
            if time.perf_counter() - started > SKIP_AFTER_S:
                rows.append(Row(number, name, "skipped: out of time", "", None))
                continue
            print(f"running {number} {name} ...", file=sys.stderr, flush=True)
            began = time.perf_counter()
            try:
                figures, new_rows = benchmark(Path(temp) / name)
            except Exception as error:  # one broken benchmark must not hide the others
                errors += 1
                traceback.print_exc()
                results[name] = {"error": f"{type(error).__name__}: {error}"}
                rows.append(Row(number, name, f"ERROR {type(error).__name__}", "", False))
                continue
            figures["wall_s"] = round(time.perf_counter() - began, 2)
            results[name] = figures
            rows.extend(new_rows)
    wall = time.perf_counter() - started
    print(render(rows))
    print()
    print(NOTES)
    print(f"\ntotal wall time {wall:.0f} s")
    document = {
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "wall_s": round(wall, 1),
        "git_commit": _git_commit(),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "table": [row.to_json() for row in rows],
        "benchmarks": results,
    }
    RESULTS.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"figures written to {RESULTS}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
