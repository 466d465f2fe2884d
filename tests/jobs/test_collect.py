"""The list phase against the local gateway: complete, exactly once, resumable, exported."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import GatewayFactory, exit_code, hex_key, make_settings, said

from kto_keys.core.clock import FakeClock
from kto_keys.core.errors import NoUsableKeyError
from kto_keys.core.regions import Selection
from kto_keys.edges.settings import Settings
from kto_keys.jobs.collect import CollectOptions, CollectReport, collect
from kto_keys.jobs.export import export_records
from kto_keys.jobs.session import open_session
from kto_keys.sim import BehaviourKind, Fault, KeyBehaviour, Province

LIST = "areaBasedList2"


class Silent:
    """An observer that only remembers what it heard."""

    def __init__(self) -> None:
        self.pages = 0

    def province_planned(self, province: str, pages: int, total: int, done: int) -> None:
        """Ignore."""

    def page_stored(self, province: str, new: int, updated: int) -> None:
        """Count pages."""
        self.pages += 1

    def province_done(self, province: str, records: int, removed: int) -> None:
        """Ignore."""

    def details_planned(self, plan: Any) -> None:
        """Ignore."""

    def detail_stored(self, operation: str) -> None:
        """Ignore."""

    def keys_skipped(self, keys: Any, pool: Any) -> None:
        """Ignore."""

    def run_finished(self, report: Any) -> None:
        """Ignore."""


async def run(
    settings: Settings,
    clock: FakeClock,
    provinces: tuple[str, ...],
    observer: Any = None,
    **options: Any,
) -> CollectReport:
    """One collection run with the list phase only unless `kinds` is given."""
    session = open_session(settings, clock)
    options.setdefault("kinds", ())
    chosen = CollectOptions(Selection("ldong", provinces), **options)
    return await collect(session, chosen, observer or Silent())


def stored_ids(settings: Settings, province: str | None = None, removed: bool = False) -> list[str]:
    """contentids in the database, as a sorted list (duplicates would show)."""
    with sqlite3.connect(settings.db_path) as db:
        query = "SELECT contentid FROM restaurants WHERE (? IS NULL OR ldong_regn_cd = ?)"
        if not removed:
            query += " AND removed_at IS NULL"
        return sorted(row[0] for row in db.execute(query, (province, province)))


@pytest.fixture
def keys() -> list[str]:
    """Two fresh good keys."""
    return [hex_key(), hex_key()]


def good(keys: list[str]) -> dict[str, KeyBehaviour]:
    """Gateway behaviours: every key valid."""
    return {key: KeyBehaviour(f"good{i}") for i, key in enumerate(keys)}


async def test_every_record_is_stored_exactly_once_with_minimum_calls(
    tmp_path: Path,
    gateway: GatewayFactory,
    clock: FakeClock,
    keys: list[str],
) -> None:
    """Provinces with 0, 1, exactly a page and several pages: all records, one row each."""
    sizes = {"11": 23, "26": 10, "50": 1, "36": 0}
    gw = gateway(good(keys), sizes=sizes)
    settings = make_settings(tmp_path, keys, gw.base_url)
    report = await run(settings, clock, ("11", "26", "50", "36"), page_size=10)
    for province, size in sizes.items():
        assert stored_ids(settings, province) == sorted(gw.dataset.contentids(province=province))
        assert len(stored_ids(settings, province)) == size
    pages = 3 + 1 + 1 + 1
    assert gw.total(operation=LIST) == pages == report.listing.minimum_calls
    assert gw.total() == pages + 1  # plus one ldongCode2 for the province list
    assert report.listing.new == 34


async def test_records_without_a_legacy_area_code_are_not_lost(
    tmp_path: Path,
    gateway: GatewayFactory,
    clock: FakeClock,
    keys: list[str],
) -> None:
    """Filtering by lDongRegnCd keeps the ~55 % of records whose areacode is empty."""
    gw = gateway(good(keys), sizes={"11": 60})
    settings = make_settings(tmp_path, keys, gw.base_url)
    await run(settings, clock, ("11",))
    with sqlite3.connect(settings.db_path) as db:
        blank = db.execute("SELECT COUNT(*) FROM restaurants WHERE areacode = ''").fetchone()[0]
    assert blank > 20
    assert len(stored_ids(settings)) == 60
    assert all("areaCode" not in call.params for call in gw.history())


async def test_silently_capped_page_size_still_yields_every_record(
    tmp_path: Path,
    gateway: GatewayFactory,
    clock: FakeClock,
    keys: list[str],
) -> None:
    """Asked for 1,000 rows, given 7: the collector follows the service's page size."""
    gw = gateway(good(keys), sizes={"11": 50}, page_cap=7)
    settings = make_settings(tmp_path, keys, gw.base_url)
    report = await run(settings, clock, ("11",))
    assert stored_ids(settings) == sorted(gw.dataset.contentids(province="11"))
    assert gw.total(operation=LIST) == 8 == report.listing.minimum_calls


async def test_records_inserted_mid_run_are_not_lost(
    tmp_path: Path,
    gateway: GatewayFactory,
    clock: FakeClock,
    keys: list[str],
) -> None:
    """The totalCount grows between pages; the collector lists again what is missing."""
    gw = gateway(good(keys), sizes={"11": 40})
    settings = make_settings(tmp_path, keys, gw.base_url)

    class InsertOnce(Silent):
        def page_stored(self, province: str, new: int, updated: int) -> None:
            super().page_stored(province, new, updated)
            if self.pages == 1:
                gw.insert("11", 3)

    await run(settings, clock, ("11",), observer=InsertOnce(), page_size=10, concurrency=1)
    assert stored_ids(settings) == sorted(gw.dataset.contentids(province="11"))
    assert len(stored_ids(settings)) == 43


async def test_failures_cost_exactly_the_calls_they_force(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock
) -> None:
    """Gateway calls = the minimum + one per injected failure."""
    good_key, flaky = hex_key(), hex_key()
    gw = gateway(
        {
            flaky: KeyBehaviour(
                "flaky",
                BehaviourKind.FLAKY,
                failure_share=0.5,
                faults=(Fault.HTTP_500, Fault.CODE_01),
            ),
            good_key: KeyBehaviour("good"),
        },
        sizes={"11": 30, "26": 30},
    )
    settings = make_settings(tmp_path, [flaky, good_key], gw.base_url)
    report = await run(settings, clock, ("11", "26"), page_size=5)
    failures = sum(1 for call in gw.history() if call.outcome != "ok")
    assert failures >= 1
    assert gw.total() == report.listing.minimum_calls + 1 + failures
    assert len(stored_ids(settings)) == 60


async def test_removed_records_are_marked_not_deleted(
    tmp_path: Path,
    gateway: GatewayFactory,
    clock: FakeClock,
    keys: list[str],
) -> None:
    """A record the next complete listing no longer returns is marked removed, with the time."""
    gw = gateway(good(keys), sizes={"11": 12})
    settings = make_settings(tmp_path, keys, gw.base_url)
    await run(settings, clock, ("11",))
    hidden = gw.hide(2, province="11")
    clock.advance(86400)
    report = await run(settings, clock, ("11",))
    assert report.listing.removed == 2
    assert len(stored_ids(settings)) == 10
    assert len(stored_ids(settings, removed=True)) == 12
    with sqlite3.connect(settings.db_path) as db:
        marks = db.execute(
            "SELECT removed_at FROM restaurants WHERE contentid IN (?, ?)", hidden
        ).fetchall()
    assert all(mark[0] for mark in marks)


async def test_rerun_after_a_complete_run_lists_again_and_updates_in_place(
    tmp_path: Path,
    gateway: GatewayFactory,
    clock: FakeClock,
    keys: list[str],
) -> None:
    """A second run upserts: no duplicates, changed records counted as updated."""
    gw = gateway(good(keys), sizes={"11": 15})
    settings = make_settings(tmp_path, keys, gw.base_url)
    await run(settings, clock, ("11",))
    gw.modify(4, province="11")
    report = await run(settings, clock, ("11",))
    assert (report.listing.new, report.listing.updated) == (0, 4)
    assert len(stored_ids(settings)) == 15


async def test_no_usable_key_exits_4_without_calling_and_keeps_the_work(
    tmp_path: Path,
    gateway: GatewayFactory,
    clock: FakeClock,
    keys: list[str],
) -> None:
    """With every key spent, the run stops before any call; stored records stay."""
    gw = gateway(good(keys), sizes={"11": 5})
    settings = make_settings(tmp_path, keys, gw.base_url, KTO_API_DAILY_LIMIT="2")
    await run(settings, clock, ("11",))
    gw.reset_counts()
    session = open_session(settings, clock)
    for key in session.pool.keys:
        session.pool.state(key).usage[LIST] = 2
    session.save()
    with pytest.raises(NoUsableKeyError) as raised:
        await run(settings, clock, ("11",))
    assert exit_code(raised.value) == 4 and "recover" in said(raised.value)
    assert gw.total() == 0
    assert len(stored_ids(settings)) == 5


def test_export_round_trips_every_record(
    tmp_path: Path,
    gateway: GatewayFactory,
    clock: FakeClock,
    keys: list[str],
) -> None:
    """JSONL and CSV (UTF-8 with BOM) carry every record under the service's field names."""
    import asyncio
    import csv

    gw = gateway(good(keys), sizes={"11": 8, "26": 4})
    settings = make_settings(tmp_path, keys, gw.base_url)
    asyncio.run(run(settings, clock, ("11", "26")))
    jsonl, table = tmp_path / "out.jsonl", tmp_path / "out.csv"
    assert export_records(settings.db_path, "jsonl", jsonl) == 12
    assert export_records(settings.db_path, "csv", table) == 12
    records = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    assert sorted(r["contentid"] for r in records) == sorted(gw.dataset.contentids())
    sample = gw.dataset.record(records[0]["contentid"])
    assert sample is not None and records[0]["title"] == sample.title
    assert {"contentid", "title", "addr1", "lDongRegnCd", "mapx", "firstmenu", "overview"} <= set(
        records[0]
    )
    raw = table.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    assert sorted(r["contentid"] for r in rows) == sorted(gw.dataset.contentids())


def _kto_keys() -> str:
    return str(Path(sys.executable).with_name("kto-keys"))


def _slow_listing(provinces: str) -> list[str]:
    """A listing of small pages, one at a time: slow enough to interrupt half-way."""
    return [
        _kto_keys(),
        "collect",
        "--ldong",
        provinces,
        "--details",
        "none",
        "--page-size",
        "5",
        "--concurrency",
        "1",
    ]


def _env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KTO_")}
    for name in ("FORCE_COLOR", "PY_COLORS", "CI", "CLICOLOR_FORCE"):
        env.pop(name, None)
    env.update(
        {
            "KTO_API_KEY": ",".join(k.reveal() for k in settings.keys),
            "KTO_API_BASE_URL": settings.base_url,
            "KTO_CACHE_PATH": str(settings.cache_path),
            "KTO_DB_PATH": str(settings.db_path),
            "KTO_LOG_DIR": str(settings.log_dir),
            "KTO_LANG": "en",
        }
    )
    return env


def test_killed_run_resumes_without_refetching_completed_pages(
    tmp_path: Path, gateway: GatewayFactory, keys: list[str]
) -> None:
    """SIGKILL mid-listing, then a second run fetches only the pages the first did not store."""
    gw = gateway(good(keys), sizes={"11": 60, "26": 40}, latency_s=0.05)
    settings = make_settings(tmp_path, keys, gw.base_url)
    command = [*_slow_listing("11,26"), "--quiet"]
    child = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stored = _wait_for_pages(settings, 6, child)
    child.kill()
    child.wait()
    assert stored >= 6, "the child stored too few pages before it was killed"
    with sqlite3.connect(settings.db_path) as db:
        done_before = {(p, n) for p, n in db.execute("SELECT province, page_no FROM list_pages")}
    assert len(done_before) < 20, "the child finished before it could be killed"
    gw.reset_counts()
    result = subprocess.run(
        command, cwd=tmp_path, env=_env(settings), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    fetched = {
        (c.params["lDongRegnCd"], int(c.params["pageNo"]))
        for c in gw.history()
        if c.operation == LIST
    }
    assert not fetched & done_before
    assert len(fetched) + len(done_before) == 20
    assert stored_ids(settings) == sorted(gw.dataset.contentids())


def test_cron_run_prints_plain_lines_without_escape_codes(
    tmp_path: Path, gateway: GatewayFactory, keys: list[str]
) -> None:
    """Without a terminal: timestamped lines, a summary, and no escape code at all."""
    gw = gateway(good(keys), sizes={"11": 12})
    settings = make_settings(tmp_path, keys, gw.base_url)
    env = _env(settings)
    env["TERM"] = "xterm-256color"
    result = subprocess.run(
        [_kto_keys(), "collect", "--ldong", "11", "--details", "none"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert "\x1b" not in output
    assert "KST]" in output and "collection complete" in output


def test_scripts_wrapper_runs_the_original_command_line(
    tmp_path: Path, gateway: GatewayFactory, keys: list[str]
) -> None:
    """`collect_restaurants_only.py --mode regions --regions "1,6"` stores Seoul and Busan."""
    gw = gateway(good(keys), sizes={"11": 7, "26": 3, "41": 5})
    settings = make_settings(tmp_path, keys, gw.base_url)
    script = Path(__file__).resolve().parents[2] / "scripts" / "collect_restaurants_only.py"
    result = subprocess.run(
        [
            sys.executable,
            str(script),
            "--mode",
            "regions",
            "--regions",
            "1,6",
            "--details",
            "none",
            "--json",
        ],
        cwd=tmp_path,
        env=_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["provinces"] == ["11", "26"] and summary["listing"]["records"] == 10
    assert stored_ids(settings) == sorted(
        gw.dataset.contentids(province="11") + gw.dataset.contentids(province="26")
    )


def _wait_for_pages(settings: Settings, pages: int, child: subprocess.Popen[bytes]) -> int:
    """Poll the database until the child has stored `pages` list pages (or gave up)."""
    deadline = time.monotonic() + 30
    done = 0
    while time.monotonic() < deadline and done < pages and child.poll() is None:
        if settings.db_path.exists():
            try:
                with sqlite3.connect(settings.db_path) as db:
                    done = db.execute("SELECT COUNT(*) FROM list_pages").fetchone()[0]
            except sqlite3.OperationalError:
                pass
        time.sleep(0.02)  # polling for the child's progress, not waiting for time to pass
    return done


def test_sigterm_stops_cleanly_with_143_and_keeps_the_work(
    tmp_path: Path, gateway: GatewayFactory, keys: list[str]
) -> None:
    """SIGTERM mid-run: exit 143, the run recorded as interrupted, stored pages kept."""
    import signal

    gw = gateway(good(keys), sizes={"11": 60}, latency_s=0.05)
    settings = make_settings(tmp_path, keys, gw.base_url)
    command = _slow_listing("11")
    child = subprocess.Popen(
        command, cwd=tmp_path, env=_env(settings), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert _wait_for_pages(settings, 3, child) >= 3
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=30)
    assert child.returncode == 143, err.decode()
    assert b"Traceback" not in err
    with sqlite3.connect(settings.db_path) as db:
        outcome = db.execute("SELECT outcome FROM runs ORDER BY id DESC LIMIT 1").fetchone()[0]
        kept = db.execute("SELECT COUNT(*) FROM restaurants").fetchone()[0]
    assert outcome == "interrupted" and kept >= 15


def test_second_collect_on_the_same_database_refuses(
    tmp_path: Path, gateway: GatewayFactory, keys: list[str]
) -> None:
    """While one collection holds the database, another says so and calls nothing."""
    from filelock import FileLock

    gw = gateway(good(keys), sizes={"11": 5})
    settings = make_settings(tmp_path, keys, gw.base_url)
    settings.db_path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(settings.db_path) + ".lock"):
        result = subprocess.run(
            [_kto_keys(), "collect", "--ldong", "11"],
            cwd=tmp_path,
            env=_env(settings),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert "another collection is running" in result.stderr
    assert gw.total() == 0


async def test_records_hidden_mid_run_do_not_hide_others(
    tmp_path: Path,
    gateway: GatewayFactory,
    clock: FakeClock,
    keys: list[str],
) -> None:
    """Pages shift when a record is hidden mid-run: the province is listed again, nothing missed."""
    gw = gateway(good(keys), sizes={"11": 30})
    settings = make_settings(tmp_path, keys, gw.base_url)
    hidden: list[str] = []

    class HideOnce(Silent):
        def page_stored(self, province: str, new: int, updated: int) -> None:
            super().page_stored(province, new, updated)
            if self.pages == 1:
                hidden.extend(gw.hide(1, province="11"))

    await run(settings, clock, ("11",), observer=HideOnce(), page_size=10, concurrency=1)
    assert stored_ids(settings) == sorted(gw.dataset.contentids(province="11"))
    assert hidden and hidden[0] not in stored_ids(settings)


async def test_the_province_list_is_paged_when_the_service_caps_it(
    tmp_path: Path,
    gateway: GatewayFactory,
    clock: FakeClock,
    keys: list[str],
) -> None:
    """`--mode all` with a page cap of 10 still sees all 17 provinces of ldongCode2."""
    gw = gateway(
        good(keys),
        page_cap=10,
        sizes=dict.fromkeys(
            [
                "11",
                "26",
                "27",
                "28",
                "29",
                "30",
                "31",
                "36",
                "41",
                "43",
                "44",
                "46",
                "47",
                "48",
                "50",
                "51",
                "52",
            ],
            2,
        ),
    )
    settings = make_settings(tmp_path, keys, gw.base_url)
    session = open_session(settings, clock)
    report = await collect(session, CollectOptions(Selection("all", ()), kinds=()), Silent())
    assert len(report.provinces) == 17
    assert len(stored_ids(settings)) == 34
    assert gw.total(operation="ldongCode2") == 2


async def test_a_province_only_the_service_lists_can_be_chosen(
    tmp_path: Path,
    gateway: GatewayFactory,
    clock: FakeClock,
    keys: list[str],
) -> None:
    """A merged code such as 12, listed by the service but not in the doc's table, is collected."""
    gw = gateway(
        good(keys),
        provinces=(Province("11", "서울특별시"), Province("12", "광주전남")),
        sizes={"11": 3, "12": 4},
    )
    settings = make_settings(tmp_path, keys, gw.base_url)
    await run(settings, clock, ("11",))
    from kto_keys.core.regions import select
    from kto_keys.edges.store import Store

    with Store(settings.db_path) as store:
        listed = store.cached_provinces()[1]
    selection = select(None, None, "12", listed)
    session = open_session(settings, clock)
    await collect(session, CollectOptions(selection, kinds=()), Silent())
    assert len(stored_ids(settings, "12")) == 4
