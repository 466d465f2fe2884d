"""What cron monitoring reads about the commands that touch keys: each run kept in the database,
and the figures of the metrics file (KTO_METRICS_FILE) for Prometheus' textfile collector.

The figures are labelled by a key's index and preview, never by the key; the file is replaced
in one step and left readable by the collector, which runs as another user.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from kto_keys.core.metrics import Family, render
from kto_keys.core.operations import COLLECTION_OPERATIONS, Operation
from kto_keys.core.pool import DeactivationCause
from kto_keys.core.status import key_status
from kto_keys.edges.atomic import atomic_open
from kto_keys.edges.history import CommandRun, History
from kto_keys.jobs.session import Session
from kto_keys.jobs.watch import HistoryUnwritable

# node_exporter reads the file as its own user: the figures name keys by preview only.
METRICS_MODE = 0o644


def record_command(session: Session, run: CommandRun) -> HistoryUnwritable | None:
    """Keep one command run in the database (None), or say why it could not be kept."""
    path = session.settings.db_path
    try:
        with History(path) as history:
            history.add_command(run)
    except (sqlite3.Error, OSError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        return HistoryUnwritable(path, reason)
    return None


def calls_by_operation(session: Session) -> dict[str, dict[str, int]]:
    """The session's calls by operation and outcome kind."""
    calls: dict[str, dict[str, int]] = {}
    for (operation, outcome), count in sorted(session.outcomes.items()):
        calls.setdefault(operation, {})[outcome] = count
    return calls


def metrics_text(session: Session, current: CommandRun) -> str:
    """The metrics file: the latest run and last success of each command, quota left per
    operation, and each key's state, expiry when known, and calls today."""
    runs, successes, expired = _kept(session.settings.db_path)
    runs[current.command] = current
    if current.success:
        successes[current.command] = current.ended_at
    families = _run_families(runs, successes)
    families += _pool_families(session, expired)
    return render(families)


def write_metrics(path: Path, text: str) -> None:
    """Replace the metrics file in one step (FileAccessError when it cannot be written)."""
    with atomic_open(path) as handle:
        handle.write(text)
        os.fchmod(handle.fileno(), METRICS_MODE)


def _kept(
    db_path: Path,
) -> tuple[dict[str, CommandRun], dict[str, datetime], dict[str, datetime]]:
    """What the database keeps: latest runs, last successes, and when keys were found expired."""
    if not db_path.exists():
        return {}, {}, {}
    try:
        with History.open_readonly(db_path) as history:
            runs = {run.command: run for run in history.latest_commands()}
            successes = history.last_successes()
            expired = {
                event.fingerprint: event.at
                for event in history.events(kinds=["deactivated"])
                if event.cause == DeactivationCause.EXPIRED.value
            }
    except (sqlite3.Error, OSError):
        return {}, {}, {}  # the figures of this run and the pool still go out
    return runs, successes, expired


def _run_families(
    runs: Mapping[str, CommandRun], successes: Mapping[str, datetime]
) -> list[Family]:
    last_run = Family("last_run_timestamp_seconds", "When the command's latest run ended.")
    last_success = Family(
        "last_success_timestamp_seconds",
        "When the command's latest successful run ended (exit 0; for collect also 4, a stop "
        "for quota, unless KTO_PING_QUOTA_AS_FAILURE=true).",
    )
    exit_code = Family("last_exit_code", "The exit code of the command's latest run.")
    duration = Family("last_run_duration_seconds", "How long the command's latest run took.")
    calls = Family(
        "last_run_calls", "Calls the command's latest run made, by operation and outcome."
    )
    for command, run in sorted(runs.items()):
        label = {"command": command}
        last_run.add(run.ended_at.timestamp(), label)
        exit_code.add(run.exit_code, label)
        duration.add(run.duration_s, label)
        for operation, outcomes in sorted(run.calls.items()):
            for outcome, count in sorted(outcomes.items()):
                calls.add(count, {**label, "operation": operation, "outcome": outcome})
    for command, when in sorted(successes.items()):
        last_success.add(when.timestamp(), {"command": command})
    return [last_run, last_success, exit_code, duration, calls]


def _pool_families(session: Session, expired: Mapping[str, datetime]) -> list[Family]:
    pool, now = session.pool, session.clock.now()
    quota = Family(
        "quota_left", "Calls the working keys may still make today, by operation (KST day)."
    )
    for operation in Operation:
        quota.add(pool.pool_quota_left(operation, now), {"operation": operation.value})
    rows = key_status(pool, now, {})
    total = Family("keys_total", "Keys configured.")
    total.add(len(rows))
    working = Family("keys_working", "Keys in the pool: not taken out by the gateway or by hand.")
    working.add(sum(1 for row in rows if row.working))
    state = Family("key_state", "Each key's state (1 for the state it is in).")
    up = Family("key_working", "1 when the key is in the pool, 0 when it is out.")
    expiry = Family(
        "key_expiry_timestamp_seconds",
        "When the key's use period had ended, as far as known: the time the gateway first "
        "refused it as expired (code 31). Absent while unknown.",
    )
    today = Family("key_calls_today", "Calls made with the key today (KST), by operation.")
    for row in rows:
        key = {"index": str(row.index), "preview": row.preview}
        state.add(1, {**key, "state": row.state.value})
        up.add(1 if row.working else 0, key)
        if row.deactivation_cause is DeactivationCause.EXPIRED and row.fingerprint in expired:
            expiry.add(expired[row.fingerprint].timestamp(), key)
        used = {op.value: 0 for op in COLLECTION_OPERATIONS} | dict(row.usage)
        for name, count in sorted(used.items()):
            today.add(count, {**key, "operation": name})
    return [quota, total, working, state, up, expiry, today]
