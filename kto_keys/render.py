"""Everything people see: rich tables and reports on a terminal, plain lines elsewhere."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from kto_keys.clock import format_time
from kto_keys.lang import pick
from kto_keys.status import KeyStatusRow

_PLAIN_WIDTH = 160


def make_console(stderr: bool = False) -> Console:
    """One console per stream; wide and colourless when it is not a terminal."""
    stream = sys.stderr if stderr else sys.stdout
    console = Console(file=stream, stderr=stderr, highlight=False, soft_wrap=False)
    if not console.is_terminal:
        console = Console(
            file=stream, stderr=stderr, highlight=False, width=_PLAIN_WIDTH, no_color=True
        )
    return console


def print_json(data: Any) -> None:
    """Machine output: JSON on stdout, nothing else."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
    sys.stdout.flush()


def status_table(rows: Sequence[KeyStatusRow], lang: str) -> Table:
    """The `status` table: one row per key."""
    table = Table(title=pick(lang, "KTO API 키 상태", "KTO API key status"), expand=False)
    for header in (
        "#",
        pick(lang, "키", "key"),
        pick(lang, "출처", "source"),
        pick(lang, "상태", "state"),
        pick(lang, "오늘 사용량", "usage today"),
        pick(lang, "오류 연속/누적", "errors consec/total"),
        pick(lang, "마지막 오류", "last error"),
        pick(lang, "오늘 성공률 · p50/p95", "success today · p50/p95"),
        pick(lang, "다음 사용 가능", "next usable"),
    ):
        table.add_column(header, overflow="fold")
    for row in rows:
        usage = "\n".join(f"{op} {n}/{row.limit}" for op, n in sorted(row.usage.items())) or "-"
        rate = row.stats.success_rate
        stats = (
            "-" if rate is None else f"{rate:.0%} · {_ms(row.stats.p50_ms)}/{_ms(row.stats.p95_ms)}"
        )
        state = row.state
        if row.deactivation_reason:
            state += f"\n{row.deactivation_reason}"
        table.add_row(
            f"#{row.index}",
            row.preview,
            row.source,
            state,
            usage,
            f"{row.consecutive_errors}/{row.total_errors}",
            row.last_error or "-",
            stats,
            format_time(row.next_usable_at) if row.next_usable_at else "-",
        )
    return table


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}ms"
