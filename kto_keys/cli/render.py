"""Everything people see: rich tables and reports on a terminal, plain lines elsewhere."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rich.console import Console, JustifyMethod
from rich.table import Table

from kto_keys.cli.messages import Messages
from kto_keys.core.clock import KST, format_time
from kto_keys.core.health import Attention, Health, KeyNote
from kto_keys.core.operations import COLLECTION_OPERATIONS
from kto_keys.core.pool import DeactivationCause, Reason
from kto_keys.core.regions import RegionRow
from kto_keys.core.rotation import KeyEvent, KeyEventKind
from kto_keys.core.status import KeyCondition, KeyStatusRow
from kto_keys.jobs.watch import UsageReport

# Without a terminal nothing is wrapped: a log reader greps whole lines, timestamps included.
_PLAIN_WIDTH = 10_000
# The compact `status` fits a terminal of 80 columns: one line per key, no word broken.
STATUS_WIDTH = 80


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


def status_lines(rows: Sequence[KeyStatusRow], m: Messages) -> Table:
    """`status`: one line per key within 80 columns; `status --wide` has everything."""
    table = Table(
        title=m("status.title"),
        caption=m("status.legend", limit=rows[0].limit if rows else 0)
        if len({row.limit for row in rows}) <= 1
        else m("status.legend_mixed"),
        box=None,
        expand=False,
        pad_edge=False,
        show_edge=False,
        width=STATUS_WIDTH,
    )
    for header, width in (
        ("#", 3),
        (m("status.key"), 13),
        (m("status.source"), 7),
        (m("status.state"), 14),
        (m("status.today"), 14),
        (m("status.errors_short"), 7),
        (m("status.next_short"), 11),
    ):
        table.add_column(header, no_wrap=True, overflow="ellipsis", max_width=width)
    for row in rows:
        used = "/".join(str(row.usage.get(op, 0)) for op in COLLECTION_OPERATIONS)
        table.add_row(
            f"#{row.index}",
            row.preview,
            source_word(row.source, m),
            _state_word(row, m),
            used,
            f"{row.consecutive_errors}/{row.total_errors}",
            _short_time(row.next_usable_at),
        )
    return table


def _state_word(row: KeyStatusRow, m: Messages) -> str:
    """The one word a person needs about a key: its cause when it is out, else its condition."""
    if row.deactivation_cause is not None and row.deactivation_reason is None:
        return m(f"attention.short.{row.deactivation_cause.value}")
    if row.stands_in_for is not None:
        return m("condition.stands_in", index=row.stands_in_for)
    return m(f"condition.{row.state.value}")


def source_word(source: str, m: Messages) -> str:
    """A key's source in a word of the line's language (the key store, the environment), or the
    name of the file it came from (`.env`, the keys file)."""
    if source == "store":
        return m("source.store")
    if source in ("environment", "option"):
        return m("source.env")
    return source.replace("\\", "/").rsplit("/", 1)[-1]


def _standby_lines(row: KeyStatusRow, m: Messages) -> str:
    """What `status --wide` says of standby keys and the keys they replaced."""
    lines = []
    if row.stands_in_for is not None:
        cause = m(f"attention.short.{row.stands_in_cause.value}") if row.stands_in_cause else ""
        lines.append(m("status.stands_in", index=row.stands_in_for, cause=cause))
    elif row.standby:
        lines.append(m("status.in_reserve"))
    if row.replaced_by is not None:
        lines.append(m("status.replaced_by", index=row.replaced_by))
    return "".join(f"\n{line}" for line in lines)


def _short_time(when: datetime | None) -> str:
    return "-" if when is None else when.astimezone(KST).strftime("%m-%d %H:%M")


def status_table(rows: Sequence[KeyStatusRow], m: Messages) -> Table:
    """`status --wide`: every column, one row per key."""
    table = Table(title=m("status.title"), expand=False)
    for header in (
        "#",
        m("status.key"),
        m("status.source"),
        m("status.state"),
        m("status.usage"),
        m("status.errors"),
        m("status.last_error"),
        m("status.stats"),
        m("status.next_usable"),
    ):
        table.add_column(header, overflow="fold")
    for row in rows:
        usage = "\n".join(f"{op} {n}/{row.limit}" for op, n in sorted(row.usage.items())) or "-"
        rate = row.stats.success_rate
        stats = (
            "-" if rate is None else f"{rate:.0%} · {_ms(row.stats.p50_ms)}/{_ms(row.stats.p95_ms)}"
        )
        state = m(f"condition.{row.state.value}")
        for operation, reason in sorted(row.blocked.items()):
            state += f"\n{operation}: {m(f'reason.{reason.value}')}"
        if row.deactivation_reason:
            state += f"\n{row.deactivation_reason}"
        elif row.deactivation_cause:
            state += f"\n{m(f'attention.{row.deactivation_cause.value}')}"
        state += _standby_lines(row, m)
        if row.expires is not None:
            word = "status.expires_estimated" if row.expires_estimated else "status.expires"
            state += f"\n{m(word, date=row.expires.isoformat())}"
        error = row.last_error
        last_error = (
            "-"
            if error is None
            else (m.code(error.code, error.symbol) if error.code else error.message)
        )
        table.add_row(
            f"#{row.index}",
            row.preview if not row.label else f"{row.preview}\n{row.label}",
            source_word(row.source, m),
            state,
            usage,
            f"{row.consecutive_errors}/{row.total_errors}",
            last_error,
            stats,
            format_time(row.next_usable_at) if row.next_usable_at else "-",
        )
    return table


def keys_table(rows: Sequence[KeyStatusRow], m: Messages) -> Table:
    """`keys list`: each key with where it comes from, its label, limit, expiry and role."""
    table = Table(title=m("keys.title"), expand=False)
    for header in (
        "#",
        m("status.key"),
        m("status.source"),
        m("keys.col.label"),
        m("keys.col.limit"),
        m("keys.col.expires"),
        m("keys.col.role"),
        m("status.state"),
    ):
        table.add_column(header, overflow="fold")
    for row in rows:
        expires = "-"
        if row.expires is not None:
            day = row.expires.isoformat()
            expires = m("keys.estimate", date=day) if row.expires_estimated else day
        role = m("keys.role.standby" if row.standby else "keys.role.active")
        table.add_row(
            f"#{row.index}",
            row.preview,
            source_word(row.source, m),
            row.label or "-",
            str(row.limit),
            expires,
            role,
            _keys_state(row, m),
        )
    return table


def _keys_state(row: KeyStatusRow, m: Messages) -> str:
    """A standby key's role says it all; any other key its state, and who replaced it."""
    if row.state is KeyCondition.UNKNOWN:
        return m("condition.unknown")  # nor is it known whether a standby stands in
    standby = _standby_lines(row, m).strip("\n").replace("\n", " · ")
    if row.standby and row.state is not KeyCondition.DEACTIVATED:
        return standby
    return _state_word(row, m) + (f" · {standby}" if standby else "")


def keys_json(row: KeyStatusRow) -> dict[str, Any]:
    """One key of `keys list --json`, the same in every language."""
    return {
        "key": f"#{row.index}",
        "index": row.index,
        "preview": row.preview,
        "fingerprint": row.fingerprint,
        "source": row.source,
        "label": row.label,
        "limit": row.limit,
        "expires": row.expires.isoformat() if row.expires else None,
        "expires_estimated": row.expires_estimated,
        "standby": row.standby,
        "state": str(row.state),
        "stands_in_for": row.stands_in_for,
        "replaced_by": row.replaced_by,
    }


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}ms"


def health_lines(health: Health, m: Messages) -> list[str]:
    """The health report as lines for people."""
    level = health.level
    lines = [
        m(
            "health.headline",
            icon=level.icon,
            level=m(f"health.level.{level.value}"),
            score=health.score,
            working=health.working,
            total=health.total,
        )
    ]
    lines.extend(attention_line(note, m) for note in health.attention)
    for limit in health.limits:
        spent = limit.reason is Reason.QUOTA_SPENT
        text = m(
            "health.spent" if spent else "health.cooling",
            operation=limit.operation,
            when=format_time(limit.until),
        )
        lines.append(f"  ⏳ #{limit.key.index} {limit.key.preview}: {text}")
    for expiry in health.expiring:
        word = "health.expires_estimated" if expiry.estimated else "health.expires"
        text = m(word, date=expiry.expires.isoformat(), days=expiry.days_left)
        icon = "⏰" if expiry.is_urgent else "📅"
        lines.append(f"  {icon} #{expiry.key.index} {expiry.key.preview}: {text}")
    lines.append(suggestion(health, m))
    return lines


def attention_line(note: KeyNote, m: Messages) -> str:
    """A key that needs a person, as `health` and `recover` both say it."""
    what = m(f"attention.{note.attention}", index=note.key.index) if note.attention else ""
    until = m("health.recovery_probe", when=format_time(note.until)) if note.until else ""
    detail = f" ({note.detail})" if note.detail else ""
    return f"  ⚠️ #{note.key.index} {note.key.preview}: {what}{detail}{until}"


def expired_advice(notes: Sequence[KeyNote], m: Messages) -> str:
    """What to do for expired keys, and why no recovery probe tries them meanwhile."""
    return m("advice.extend", indexes=" ".join(f"#{note.key.index}" for note in notes))


def suggestion(health: Health, m: Messages) -> str:
    """What to do next, for the causes at hand (nothing, when no key needs a person)."""
    if health.total == 0:
        return m("advice.set_keys")
    causes = {note.attention for note in health.attention}
    urgent = [expiry.key.index for expiry in health.expiring if expiry.is_urgent]
    if not causes and urgent:
        return m("advice.renew", indexes=" ".join(f"#{index}" for index in urgent))
    if not causes:
        return m("advice.nothing")
    by_hand = [
        note.key.index for note in health.attention if note.attention is Attention.DISABLED_BY_HAND
    ]
    if causes == {Attention.NOT_ACTIVATED_YET}:
        return m("advice.wait_for_activation")
    if causes == {Attention.DISABLED_BY_HAND}:
        return m("advice.enable", indexes=" ".join(str(index) for index in by_hand))
    if causes == {Attention.EXPIRED}:
        return expired_advice(health.attention, m)
    return m("advice.recover")


# The keys the summary names one a line: a pool of thousands spreads a night over hundreds of
# keys, which would bury the rest of it (`--json` and `kto-keys history` give every key).
SUMMARY_KEYS = 20


def summary_lines(report: dict[str, Any], m: Messages) -> list[str]:
    """The end-of-run summary for people."""
    listing, details = report["listing"], report["details"]
    known = {"complete", "stopped", "interrupted", "planned"}
    outcome = m(f"summary.{report['outcome'] if report['outcome'] in known else 'failed'}")
    lines = [
        m(
            "summary.headline",
            outcome=outcome,
            run_id=report["run_id"],
            elapsed=report["elapsed_s"],
        ),
        m(
            "summary.records",
            records=listing["records"],
            new=listing["new"],
            updated=listing["updated"],
            removed=listing["removed"],
        ),
        m(
            "summary.list_calls",
            calls=listing["calls"],
            minimum=listing["minimum_calls"],
            pages=listing["pages"],
        ),
    ]
    fetched = details.get("fetched") or {}
    if details.get("plan"):
        for op in details["plan"]["operations"]:
            lines.append(
                m(
                    "summary.operation",
                    operation=op["operation"],
                    fetched=fetched.get(op["operation"], 0),
                    needed=op["needed"],
                    # What is left is what was not fetched, whatever the plan hoped for.
                    left=max(0, op["needed"] - fetched.get(op["operation"], 0)),
                    days="?" if op["more_days"] is None else op["more_days"],
                )
            )
    lines.append(
        m(
            "summary.calls",
            calls=report["total_calls"],
            minimum=report["minimum_calls"],
            failovers=report["failovers"],
        )
    )
    used = list(report["calls"].items())
    for key, operations in used[:SUMMARY_KEYS]:
        usage = ", ".join(f"{op} {n}" for op, n in operations.items())
        lines.append(f"    {key}: {usage}")
    if len(used) > SUMMARY_KEYS:
        lines.append(m("summary.more_keys", count=len(used) - SUMMARY_KEYS))
    return lines


def region_table_view(rows: Sequence[RegionRow], m: Messages) -> Table:
    """The `regions` table."""
    table = Table(title=m("regions.title"))
    for header in (
        m("regions.area"),
        m("regions.ldong"),
        m("regions.name"),
        "",
        m("regions.listed"),
    ):
        table.add_column(header)
    for row in rows:
        listed = "-" if row.listed is None else ("✓" if row.listed else m("regions.missing"))
        table.add_row(row.area or "-", row.ldong, row.name_ko, row.name_en, listed)
    return table


# --- the rotation log and the usage history ---------------------------------------------------
# A sparkline's levels, lowest first; a day without a call shows as _NO_CALL.
SPARK_LEVELS = "▁▂▃▄▅▆▇█"
_NO_CALL = "·"
# The widest sparkline `history` draws: more days than this share a cell, so 80 columns hold.
SPARK_WIDTH = 28
HISTORY_WIDTH = 80


def log_lines(events: Sequence[KeyEvent], m: Messages) -> list[str]:
    """`log`: one line per change of a key's fate, oldest first."""
    lines = []
    for event in events:
        parts = [
            format_time(event.at),
            f"#{event.key_index} {event.preview}",
            m(f"log.kind.{event.kind.value}"),
        ]
        if event.operation:
            parts.append(event.operation)
        if event.code:
            parts.append(event.code)
        if event.cause in _CAUSES:
            parts.append(m(f"attention.short.{event.cause}"))
        if event.reason and event.kind in (KeyEventKind.DISABLED, KeyEventKind.PROBE_FAILED):
            parts.append(
                f'"{event.reason}"' if event.kind is KeyEventKind.DISABLED else event.reason
            )
        if event.reason and event.kind in _STANDBY_KINDS:
            parts.append(m("log.for_key", key=event.reason))  # the key it replaced
        if event.until is not None:
            parts.append(m("log.until", until=_short_time(event.until)))
        if event.run_id is not None:
            parts.append(m("log.run", run_id=event.run_id))
        lines.append("  ".join(parts))
    return lines


_CAUSES = frozenset(cause.value for cause in DeactivationCause)
_STANDBY_KINDS = frozenset({KeyEventKind.STANDBY_IN, KeyEventKind.STANDBY_BACK})


def sparkline(values: Sequence[int], width: int = SPARK_WIDTH) -> str:
    """Values as one cell each (summed in runs when there are more than `width`), scaled to
    their own peak: █ is the busiest cell, · a cell without any."""
    size = max(1, math.ceil(len(values) / width))
    # Cells are counted back from the latest value, so the last cell is always a whole one.
    cells = [sum(values[max(0, end - size) : end]) for end in range(len(values), 0, -size)][::-1]
    peak = max(cells, default=0)
    levels = len(SPARK_LEVELS)
    return "".join(
        _NO_CALL if cell == 0 else SPARK_LEVELS[max(0, math.ceil(cell / peak * levels) - 1)]
        for cell in cells
    )


def history_table(report: UsageReport, m: Messages) -> Table:
    """`history`: one line per key within 80 columns, on a terminal or not."""
    days = len(report.days)
    per_cell = max(1, math.ceil(days / SPARK_WIDTH))
    table = Table(
        title=m(
            "history.title",
            first=report.days[0].isoformat(),
            last=report.days[-1].isoformat(),
            days=days,
        ),
        caption=m("history.legend", raw_days=report.raw_days)
        + (m("history.per_cell", days=per_cell) if per_cell > 1 else ""),
        box=None,
        expand=False,
        pad_edge=False,
        show_edge=False,
        padding=(0, 1, 0, 0),
        width=HISTORY_WIDTH,
    )
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("#", "left"),
        (m("history.key"), "left"),
        (m("history.per_day"), "left"),
        (m("history.calls"), "right"),
        (m("history.success"), "right"),
        ("p50/p95 ms", "right"),
        (m("history.spent"), "right"),
    )
    for header, justify in columns:
        table.add_column(header, no_wrap=True, justify=justify)
    for key in report.keys:
        rate = key.success_rate
        table.add_row(
            f"#{key.key_index}" if key.key_index is not None else "-",
            key.preview or f"fp:{key.fingerprint[:8]}",
            sparkline(key.calls_per_day),
            f"{key.calls:,}",
            "-" if rate is None else f"{rate * 100:.1f}%",
            "-" if key.p50_ms is None else f"{key.p50_ms:.0f}/{key.p95_ms or 0:.0f}",
            str(len(key.quota_spent_days)),
        )
    return table
