"""The detail phase against the local gateway: per-operation quota, incremental, resumable."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest
from conftest import (
    GatewayFactory,
    exit_code,
    hex_key,
    make_settings,
    run_collect,
    said,
    stored_ids,
)

from kto_keys.core.clock import FakeClock
from kto_keys.core.errors import (
    BudgetExhaustedError,
    NoUsableKeyError,
    ServiceConfigError,
    SettingsError,
)
from kto_keys.core.operations import parse_detail_kinds
from kto_keys.jobs.export import export_records
from kto_keys.jobs.session import open_session
from kto_keys.sim import KeyBehaviour

INTRO, COMMON, IMAGE = "detailIntro2", "detailCommon2", "detailImage2"
BOTH = ("intro", "common")


def detail_calls(gw: object, operation: str) -> list[str]:
    """contentIds of the gateway's calls of one detail operation, in order."""
    return [c.params["contentId"] for c in gw.history() if c.operation == operation]  # type: ignore[attr-defined]


async def test_first_run_makes_one_call_per_record_and_operation(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock
) -> None:
    """N records: N detailIntro2 and N detailCommon2 calls, none twice; details stored and exported."""
    keys = [hex_key(), hex_key()]
    gw = gateway({k: KeyBehaviour(f"k{i}") for i, k in enumerate(keys)}, sizes={"11": 40, "26": 20})
    settings = make_settings(tmp_path, keys, gw.base_url)
    report = await run_collect(settings, clock, ("11", "26"), kinds=BOTH)
    ids = sorted(gw.dataset.contentids())
    assert sorted(detail_calls(gw, INTRO)) == ids
    assert sorted(detail_calls(gw, COMMON)) == ids
    assert all("contentTypeId" not in c.params for c in gw.history() if c.operation == COMMON)
    assert report.details.fetched == {INTRO: 60, COMMON: 60}
    out = tmp_path / "out.jsonl"
    export_records(settings.db_path, "jsonl", out)
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 60
    assert all(r["overview"] and "<br>" not in r["overview_text"] for r in records)
    with_intro = [r for r in records if r["firstmenu"]]
    assert 0 < len(with_intro) < 60  # some records have no intro data (items "")
    assert all(r["opentimefood"] and r["infocenterfood"] for r in with_intro)
    assert all(r["homepage"].startswith("http") for r in records if r["homepage"])


async def test_records_without_intro_data_are_not_asked_again(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock
) -> None:
    """A record whose intro answer is `items: ""` is recorded as having none."""
    key = hex_key()
    gw = gateway({key: KeyBehaviour("k")}, sizes={"11": 40})
    settings = make_settings(tmp_path, [key], gw.base_url)
    report = await run_collect(settings, clock, ("11",), kinds=("intro",))
    assert report.details.without_data[INTRO] >= 1
    gw.reset_counts()
    clock.advance(86400)
    await run_collect(settings, clock, ("11",), kinds=("intro",))
    assert gw.total(operation=INTRO) == 0


async def test_a_detail_operation_gone_stops_the_run_after_one_call_per_key(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock
) -> None:
    """The list works, then detailIntro2 answers `Unexpected errors` for every key: the records
    are stored, each key makes one detail call, and the run stops with exit 2, blaming no key."""
    keys = [hex_key() for _ in range(3)]
    gw = gateway(
        {k: KeyBehaviour(f"k{i}") for i, k in enumerate(keys)},
        sizes={"11": 40},
        wrong_url_operations=(INTRO,),
    )
    settings = make_settings(tmp_path, keys, gw.base_url)
    with pytest.raises(ServiceConfigError) as raised:
        await asyncio.wait_for(run_collect(settings, clock, ("11",), kinds=("intro",)), 60)
    assert exit_code(raised.value) == 2
    assert said(raised.value).startswith("configuration error: 'Unexpected errors'")
    assert len(stored_ids(settings, "11")) == 40
    assert sorted(c.label for c in gw.history() if c.operation == INTRO) == ["k0", "k1", "k2"]
    session = open_session(settings, clock)
    for key in session.pool.keys:
        state = session.pool.state(key)
        assert not state.is_deactivated and state.total_errors == 0


async def test_two_keys_of_200_a_day_enrich_300_records_without_code_22(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock
) -> None:
    """Quota is per operation: 600 detail calls fit in two keys of 200 calls per operation."""
    keys = [hex_key(), hex_key()]
    gw = gateway(
        {k: KeyBehaviour(f"k{i}", daily_limit=200) for i, k in enumerate(keys)}, sizes={"11": 300}
    )
    settings = make_settings(tmp_path, keys, gw.base_url, KTO_API_DAILY_LIMIT="200")
    report = await run_collect(settings, clock, ("11",), kinds=BOTH, page_size=100)
    assert report.outcome == "complete"
    assert not [c for c in gw.history() if c.outcome == "22"]
    assert gw.total(operation=INTRO) == gw.total(operation=COMMON) == 300


async def test_nightly_rerun_fetches_details_of_changed_records_only(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock
) -> None:
    """5 modified, 3 inserted, 2 hidden: exactly 8 calls per detail operation; hidden leave the export."""
    keys = [hex_key(), hex_key()]
    gw = gateway({k: KeyBehaviour(f"k{i}") for i, k in enumerate(keys)}, sizes={"11": 50})
    settings = make_settings(tmp_path, keys, gw.base_url)
    await run_collect(settings, clock, ("11",), kinds=BOTH)
    modified = gw.modify(5, province="11")
    inserted = gw.insert("11", 3)
    hidden = gw.hide(2, province="11")
    gw.new_day()
    gw.reset_counts()
    clock.advance(86400)
    report = await run_collect(settings, clock, ("11",), kinds=BOTH)
    changed = sorted(set(modified) - set(hidden) | set(inserted))
    assert sorted(detail_calls(gw, INTRO)) == changed
    assert sorted(detail_calls(gw, COMMON)) == changed
    assert len(changed) == 8 or set(modified) & set(hidden)
    assert gw.total(operation="areaBasedList2") == 1
    assert report.listing.removed == 2
    out = tmp_path / "out.jsonl"
    export_records(settings.db_path, "jsonl", out)
    exported = {
        json.loads(line)["contentid"] for line in out.read_text(encoding="utf-8").splitlines()
    }
    assert not exported & set(hidden)
    assert len(exported) == 51


async def test_too_little_quota_stops_with_exit_4_and_the_next_run_makes_exactly_the_rest(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock
) -> None:
    """Run 1 stops at the quota with everything kept; run 2 on a fresh day does only the rest."""
    key = hex_key()
    gw = gateway({key: KeyBehaviour("k", daily_limit=30)}, sizes={"11": 50})
    settings = make_settings(tmp_path, [key], gw.base_url, KTO_API_DAILY_LIMIT="30")
    with pytest.raises(NoUsableKeyError) as raised:
        await run_collect(settings, clock, ("11",), kinds=BOTH)
    assert exit_code(raised.value) == 4
    first = set(detail_calls(gw, INTRO)), set(detail_calls(gw, COMMON))
    assert len(first[0]) == len(first[1]) == 30
    assert len(stored_ids(settings)) == 50
    gw.new_day()
    gw.reset_counts()
    clock.advance(86400)
    await run_collect(settings, clock, ("11",), kinds=BOTH)
    second = set(detail_calls(gw, INTRO)), set(detail_calls(gw, COMMON))
    assert len(second[0]) == len(second[1]) == 20
    assert not first[0] & second[0] and not first[1] & second[1]


async def test_reserve_is_respected_per_key_and_operation(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock
) -> None:
    """With a limit of 25 and a reserve of 5, no key makes more than 20 calls of an operation."""
    keys = [hex_key(), hex_key()]
    gw = gateway({k: KeyBehaviour(f"k{i}") for i, k in enumerate(keys)}, sizes={"11": 60})
    settings = make_settings(tmp_path, keys, gw.base_url, KTO_API_DAILY_LIMIT="25", KTO_RESERVE="5")
    with pytest.raises(NoUsableKeyError):
        await run_collect(settings, clock, ("11",), kinds=BOTH)
    for label, operations in gw.counts().items():
        assert operations[INTRO] == operations[COMMON] == 20, label


async def test_plan_counts_calls_and_makes_no_detail_call(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock
) -> None:
    """`--plan`: needed, left today, this run and days to go; no detail call."""
    keys = [hex_key(), hex_key()]
    gw = gateway({k: KeyBehaviour(f"k{i}") for i, k in enumerate(keys)}, sizes={"11": 90})
    settings = make_settings(tmp_path, keys, gw.base_url, KTO_API_DAILY_LIMIT="20")
    report = await run_collect(settings, clock, ("11",), kinds=BOTH, plan_only=True, page_size=50)
    plan = report.details.plan
    assert plan is not None
    intro = next(op for op in plan.operations if op.operation == INTRO)
    assert (intro.needed, intro.left_today, intro.this_run, intro.more_days) == (90, 40, 40, 2)
    assert gw.total(operation=INTRO) == gw.total(operation=COMMON) == 0


async def test_budget_caps_the_run_and_the_rest_waits_for_the_next(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock
) -> None:
    """`--budget 21`: 1 list call, 20 detail calls, exit 4 with the work kept."""
    key = hex_key()
    gw = gateway({key: KeyBehaviour("k")}, sizes={"11": 30})
    settings = make_settings(tmp_path, [key], gw.base_url)
    session = open_session(settings, clock)
    session.save()
    with pytest.raises(BudgetExhaustedError) as raised:
        await run_collect(settings, clock, ("11",), kinds=BOTH, budget=22)
    assert exit_code(raised.value) == 4
    assert gw.total() == 22  # ldongCode2 + one list page + 20 detail calls


async def test_images_go_into_a_table_of_their_own(
    tmp_path: Path, gateway: GatewayFactory, clock: FakeClock
) -> None:
    """`--details all` adds detailImage2, one call per record, images stored per record."""
    key = hex_key()
    gw = gateway({key: KeyBehaviour("k")}, sizes={"11": 12})
    settings = make_settings(tmp_path, [key], gw.base_url)
    await run_collect(settings, clock, ("11",), kinds=parse_detail_kinds("all"))
    assert gw.total(operation=IMAGE) == 12
    with sqlite3.connect(settings.db_path) as db:
        assert db.execute("SELECT COUNT(*) FROM restaurant_images").fetchone()[0] > 0


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        pytest.param("none", (), id="none"),
        pytest.param("all", ("intro", "common", "images"), id="all"),
        pytest.param("intro", ("intro",), id="intro"),
        pytest.param(" common , intro ", ("common", "intro"), id="spaces"),
    ],
)
def test_details_option_values(text: str, kinds: tuple[str, ...]) -> None:
    """`--details` takes a list of intro, common, images, or none, or all."""
    assert parse_detail_kinds(text) == kinds


def test_unknown_details_value_lists_the_valid_ones() -> None:
    """A bad `--details` value is a usage error naming what is valid."""
    with pytest.raises(SettingsError) as raised:
        parse_detail_kinds("menu")
    assert said(raised.value) == (
        "--details: unknown value menu; valid: intro, common, images, none, all"
    )
