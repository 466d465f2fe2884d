"""The list phase against the local gateway: complete, exactly once, resumable after a stop."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    GatewayFactory,
    Silent,
    exit_code,
    good,
    hex_key,
    make_settings,
    run_collect,
    said,
    stored_ids,
)

from kto_keys.core.clock import FakeClock
from kto_keys.core.errors import NoUsableKeyError
from kto_keys.core.regions import Selection
from kto_keys.jobs.collect import CollectOptions, collect
from kto_keys.jobs.session import open_session
from kto_keys.sim import BehaviourKind, Fault, KeyBehaviour, Province

LIST = "areaBasedList2"


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
    report = await run_collect(settings, clock, ("11", "26", "50", "36"), page_size=10)
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
    await run_collect(settings, clock, ("11",))
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
    report = await run_collect(settings, clock, ("11",))
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
        def province_planned(self, province: str, pages: int, total: int, done: int) -> None:
            # Told right after the first page came back, before page 2 is asked for.
            super().province_planned(province, pages, total, done)
            gw.insert("11", 3)

    await run_collect(settings, clock, ("11",), observer=InsertOnce(), page_size=10, concurrency=1)
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
    report = await run_collect(settings, clock, ("11", "26"), page_size=5)
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
    await run_collect(settings, clock, ("11",))
    hidden = gw.hide(2, province="11")
    clock.advance(86400)
    report = await run_collect(settings, clock, ("11",))
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
    await run_collect(settings, clock, ("11",))
    gw.modify(4, province="11")
    report = await run_collect(settings, clock, ("11",))
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
    await run_collect(settings, clock, ("11",))
    gw.reset_counts()
    session = open_session(settings, clock)
    for key in session.pool.keys:
        session.pool.state(key).usage[LIST] = 2
    session.save()
    with pytest.raises(NoUsableKeyError) as raised:
        await run_collect(settings, clock, ("11",))
    assert exit_code(raised.value) == 4 and "quotas reset" in said(raised.value)
    assert gw.total() == 0
    assert len(stored_ids(settings)) == 5


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
        def province_planned(self, province: str, pages: int, total: int, done: int) -> None:
            # Told right after the first page came back, before page 2 is asked for.
            super().province_planned(province, pages, total, done)
            hidden.extend(gw.hide(1, province="11"))

    await run_collect(settings, clock, ("11",), observer=HideOnce(), page_size=10, concurrency=1)
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
    await run_collect(settings, clock, ("11",))
    from kto_keys.core.regions import select
    from kto_keys.edges.store import Store

    with Store(settings.db_path) as store:
        listed = store.cached_provinces()[1]
    selection = select(None, None, "12", listed)
    session = open_session(settings, clock)
    await collect(session, CollectOptions(selection, kinds=()), Silent())
    assert len(stored_ids(settings, "12")) == 4


async def test_regions_5_and_38_lead_to_the_merged_province_12_once(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock, keys: list[str]
) -> None:
    """After the 2026 merger the service lists 12, not 29 and 46: `--regions 5,38` collects 12
    once, says so, and stores every record of it."""
    from kto_keys.core.regions import select

    gw = gateway(good(keys), merged_2026=True, sizes={"11": 3, "12": 9})
    settings = make_settings(tmp_path, keys, gw.base_url)
    session = open_session(settings, clock)

    class Listening(Silent):
        """Remembers the provinces followed to their successor."""

        def __init__(self) -> None:
            super().__init__()
            self.followed: list[Any] = []

        def provinces_followed(self, followed: Any, listed: Any) -> None:
            """Remember them."""
            self.followed.extend(followed)

    observer = Listening()
    report = await collect(session, CollectOptions(select("regions", "5,38"), kinds=()), observer)
    assert report.provinces == ("12",)
    assert report.followed == {"29": "12", "46": "12"}
    assert [(step.code, step.successor) for step in observer.followed] == [
        ("29", "12"),
        ("46", "12"),
    ]
    assert stored_ids(settings) == sorted(gw.dataset.contentids(province="12"))
    assert gw.total(operation="areaBasedList2") == 1
