"""The session's watch against the local gateway: each change of a key's fate one row, with the
run it happened in; the history rolled up at the end of a collection."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from conftest import GatewayFactory, hex_key, make_settings, run_collect

from kto_keys.core.clock import FakeClock
from kto_keys.core.operations import DetailKind
from kto_keys.edges.history import History
from kto_keys.jobs import keys as key_jobs
from kto_keys.jobs.session import open_session
from kto_keys.jobs.watch import HistoryUnwritable, Notice
from kto_keys.sim import BehaviourKind, KeyBehaviour


async def test_a_key_answering_32_is_one_row_of_its_run_and_a_failed_probe_another(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock
) -> None:
    """The refused key is written once, with code, cause, recovery time and the run's id; the
    probe at the next run's start is written too, and given that run's id."""
    good, dead = hex_key(), hex_key()
    gw = gateway(
        {good: KeyBehaviour("good"), dead: KeyBehaviour("dead", BehaviourKind.IP_BLOCKED)},
        sizes={"11": 30},
    )
    settings = make_settings(tmp_path, [dead, good], gw.base_url, KTO_RECOVERY_AFTER_S="60")
    first = await run_collect(settings, clock, ("11",), page_size=5, concurrency=4)
    clock.advance(120)
    second = await run_collect(settings, clock, ("11",), page_size=5)
    with History.open_readonly(settings.db_path) as history:
        rows = history.events()
    assert [(row.kind, row.key_index, row.run_id) for row in rows] == [
        ("deactivated", 0, first.run_id),
        ("probe_failed", 0, second.run_id),
    ]
    out = rows[0]
    assert (out.code, out.cause, out.reason) == ("32", "ip_restricted", "UNREGISTERED_IP_ERROR")
    assert out.until is not None and out.until > out.at and out.host


async def test_disable_and_enable_are_written_only_when_they_change_something(
    tmp_path: Path, clock: FakeClock
) -> None:
    """Disabling a disabled key or enabling a working one writes nothing."""
    settings = make_settings(
        tmp_path, [hex_key(), hex_key()], "http://127.0.0.1:9/B551011/KorService2"
    )
    session = open_session(settings, clock)
    key_jobs.disable(session, 1, "shared with the web team")
    key_jobs.disable(session, 1, "still shared")
    key_jobs.enable(session, 1)
    key_jobs.enable(session, 1)
    key_jobs.enable(session, 0)
    session.close()
    with History.open_readonly(settings.db_path) as history:
        rows = history.events()
    assert [(row.kind, row.key_index, row.reason) for row in rows] == [
        ("disabled", 1, "shared with the web team"),
        ("enabled", 1, None),
    ]


async def test_a_history_that_cannot_be_written_is_one_notice_and_the_run_goes_on(
    tmp_path: Path, clock: FakeClock
) -> None:
    """A file where the database's folder should be: the key is disabled anyway, one notice."""
    (tmp_path / "blocked").write_text("a file, not a folder")
    settings = make_settings(
        tmp_path,
        [hex_key()],
        "http://127.0.0.1:9/B551011/KorService2",
        KTO_DB_PATH=str(tmp_path / "blocked" / "kto.db"),
    )
    heard: list[Notice] = []
    session = open_session(settings, clock, notices=heard.append)
    row = key_jobs.disable(session, 0)
    key_jobs.enable(session, 0)
    session.close()
    assert row.state == "disabled"
    assert len(heard) == 1 and isinstance(heard[0], HistoryUnwritable)


async def test_a_collection_rolls_up_its_calls_by_day(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock
) -> None:
    """At the end of a collection today's roll-up equals today's raw calls, per key."""
    keys = [hex_key(), hex_key()]
    gw = gateway({k: KeyBehaviour(f"k{i}") for i, k in enumerate(keys)}, sizes={"11": 12})
    settings = make_settings(tmp_path, keys, gw.base_url)
    await run_collect(settings, clock, ("11",), page_size=5, kinds=(DetailKind.INTRO,))
    with sqlite3.connect(settings.db_path) as db:
        raw = db.execute(
            "SELECT fingerprint, operation, COUNT(*) FROM calls GROUP BY 1, 2 ORDER BY 1, 2"
        ).fetchall()
        rolled = db.execute(
            "SELECT fingerprint, operation, calls FROM call_days ORDER BY 1, 2"
        ).fetchall()
        previews = {row[0] for row in db.execute("SELECT preview FROM call_days")}
    assert raw == rolled and sum(row[2] for row in raw) == gw.total()
    assert previews <= {key[:10] + "..." for key in keys}
