"""Benchmark 5: peak RSS of the tool's own process collecting and exporting 20,000 and 100,000
records, with the gateway in another process. Only memory is judged here, not speed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.fixtures import fake_key
from bench.gateway_process import GatewayProcess, kto_keys_command, log_tail, run_child
from bench.table import Row

# Ten provinces of 10,000 records: the small run lists two of them, the large run all ten,
# so that every list call of both runs costs the gateway the same.
PROVINCES = ("11", "26", "27", "28", "29", "30", "31", "41", "43", "44")
RECORDS_PER_PROVINCE = 10_000
CASES = {"20k": PROVINCES[:2], "100k": PROVINCES}
CHILD_TIMEOUT_S = 120.0
POLL_S = 0.05
TARGET_RATIO = 1.2


def _run_child(command: list[str], log: Path) -> dict[str, Any]:
    """Run one command to its end (bounded), and read its own peak RSS from wait4."""
    run = run_child(command, log, CHILD_TIMEOUT_S, POLL_S)
    if run.exit_code != 0:
        raise RuntimeError(
            f"{command[1:3]} exited {run.exit_code} after {run.elapsed_s:.1f} s: {log_tail(log)}"
        )
    return {
        "peak_rss_mb": round(run.usage.ru_maxrss / 1024, 1),
        "elapsed_s": round(run.elapsed_s, 2),
    }


def memory(folder: Path) -> tuple[dict[str, Any], list[Row]]:
    """Collect (`--details none`) and export each case in child processes; compare peaks."""
    key = fake_key()
    config = {
        "keys": {key: {"label": "k0", "behaviour": "valid"}},
        "sizes": dict.fromkeys(PROVINCES, RECORDS_PER_PROVINCE),
        "seed": 1,
    }
    cases: dict[str, dict[str, Any]] = {}
    with GatewayProcess(config, folder / "gateway") as gateway:
        for name, provinces in CASES.items():
            here = folder / name
            here.mkdir(parents=True, exist_ok=True)
            env_file = here / "bench.env"
            env_file.write_text(
                f"KTO_API_KEY={key}\nKTO_API_BASE_URL={gateway.base_url}\n"
                f"KTO_CACHE_PATH={here / 'cache.json'}\nKTO_DB_PATH={here / 'kto.db'}\n"
                f"KTO_LOG_DIR={here / 'logs'}\nKTO_LANG=en\n",
                encoding="utf-8",
            )
            tool = [*kto_keys_command(), "--env-file", str(env_file)]
            gateway.reset_counts()
            collect = _run_child(
                [*tool, "collect", "--ldong", ",".join(provinces), "--details", "none", "--quiet"],
                here / "collect.log",
            )
            collect["gateway_calls"] = gateway.total()
            output = here / "records.jsonl"
            export = _run_child(
                [*tool, "export", "--format", "jsonl", "--output", str(output)],
                here / "export.log",
            )
            with output.open("rb") as handle:
                export["records"] = sum(1 for _ in handle)
            export["file_mb"] = round(output.stat().st_size / 2**20, 1)
            output.unlink()
            cases[name] = {"collect": collect, "export": export}
    ratios = {
        step: round(cases["100k"][step]["peak_rss_mb"] / cases["20k"][step]["peak_rss_mb"], 3)
        for step in ("collect", "export")
    }
    result = {"page_size": 1000, "cases": cases, "ratio_100k_vs_20k": ratios}
    rows = [
        Row(
            "5 memory",
            f"peak RSS {step}, 100k vs 20k",
            f"x{ratios[step]:.2f} ({cases['20k'][step]['peak_rss_mb']:.0f} ->"
            f" {cases['100k'][step]['peak_rss_mb']:.0f} MB;"
            f" {cases['20k'][step]['elapsed_s']:.0f} s / {cases['100k'][step]['elapsed_s']:.0f} s)",
            f"<= x{TARGET_RATIO}",
            ratios[step] <= TARGET_RATIO,
        )
        for step in ("collect", "export")
    ]
    return result, rows
