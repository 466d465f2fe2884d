"""A pool you can watch, as users meet it: `log` and `history` after real runs against the local
gateway, each change of a key's fate written once when it happens."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from conftest import GatewayFactory, env_for, hex_key, invoke
from rich.cells import cell_len

from kto_keys.core.clock import FakeClock
from kto_keys.sim import BehaviourKind, ErrorRate, KeyBehaviour

# Every test runs in an empty folder, with no outside KTO_* setting, on the fake clock.
pytestmark = pytest.mark.usefixtures("isolated")


def log_json(env: dict[str, str], *options: str) -> list[dict[str, Any]]:
    """`log --json` with the given filters."""
    code, out, err = invoke("log", "--json", *options, env=env)
    assert code == 0, err
    rows: list[dict[str, Any]] = json.loads(out)
    return rows


def kinds_of(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(event, key) of each row, in order."""
    return [(row["event"], row["key"]) for row in rows]


def test_a_key_answering_31_is_written_once_and_log_filters_by_key_and_kind(
    gateway: GatewayFactory,
) -> None:
    """Four calls at a time, one key expired: one row for it, with the code, the cause, the run
    and its recovery time; `--key` and `--kind` narrow the log."""
    good, dead, other = hex_key(), hex_key(), hex_key()
    gw = gateway(
        {
            good: KeyBehaviour("good"),
            dead: KeyBehaviour("dead", BehaviourKind.EXPIRED),
            other: KeyBehaviour("other"),
        },
        sizes={"11": 40},
    )
    env = env_for([good, dead, other], gw.base_url)
    code, out, _ = invoke("collect", "--ldong", "11", "--page-size", "5", "--json", env=env)
    assert code == 0
    run_id = json.loads(out)["run_id"]
    rows = log_json(env)
    assert kinds_of(rows) == [("deactivated", "#1")]
    [row] = rows
    assert (row["code"], row["cause"], row["operation"], row["run_id"]) == (
        "31",
        "expired",
        "areaBasedList2",  # the province list went to key #0, the first list pages to every key
        run_id,
    )
    # An expired key is not probed again until its expiry date changes: no time to wait for.
    assert row["preview"] == dead[:10] + "..." and row["until"] is None
    assert dead not in json.dumps(rows)
    assert log_json(env, "--key", "1") == rows
    assert log_json(env, "--key", "0") == []
    assert log_json(env, "--kind", "deactivated") == rows
    assert log_json(env, "--kind", "recovered") == []
    code, out, _ = invoke("log", env=env)
    assert code == 0 and "deactivated" in out and "expired" in out and f"run #{run_id}" in out


def test_bad_log_filters_are_one_line_and_exit_2(gateway: GatewayFactory) -> None:
    """An unknown kind lists the kinds; a date that is none says so; no key #9."""
    key = hex_key()
    env = env_for([key], gateway({key: KeyBehaviour("k")}).base_url)
    invoke("disable", "0", env=env)
    code, _, err = invoke("log", "--kind", "exploded", env=env)
    assert code == 2 and "--kind='exploded' is not one of: deactivated, recovered" in err
    code, _, err = invoke("log", "--since", "yesterday", env=env)
    assert code == 2 and "--since 'yesterday' is not a date" in err and err.count("\n") == 1
    code, _, err = invoke("log", "--key", "9", env=env)
    assert code == 2 and "no key #9" in err


def test_log_and_history_before_any_database_say_so() -> None:
    """Nothing collected yet: one line naming the file, exit 2, and no file made."""
    for command in ("log", "history"):
        code, _, err = invoke("--lang", "en", command, env={"KTO_API_KEY": hex_key()})
        assert code == 2 and "no database at" in err
    assert not Path("data").exists()


def test_a_22_is_one_cooling_row_per_operation(gateway: GatewayFactory) -> None:
    """A key the gateway gives 3 calls a day answers 22 to every operation: one row each,
    however many calls were in flight."""
    small, good = hex_key(), hex_key()
    gw = gateway(
        {small: KeyBehaviour("small", daily_limit=3), good: KeyBehaviour("good")},
        sizes={"11": 60},
    )
    env = env_for([small, good], gw.base_url)
    code, _, _ = invoke("collect", "--ldong", "11", "--page-size", "5", env=env)
    assert code == 0
    rows = log_json(env, "--kind", "cooling")
    operations = [row["operation"] for row in rows]
    assert operations and len(operations) == len(set(operations))
    assert {row["key"] for row in rows} == {"#0"} and {row["code"] for row in rows} == {"22"}
    assert log_json(env, "--kind", "quota_spent") == []


def test_a_spent_quota_is_one_row_per_key_and_operation_even_over_two_runs(
    gateway: GatewayFactory,
) -> None:
    """KTO_API_DAILY_LIMIT=3 and six list pages: both keys spend their list quota, one row each;
    a second run the same day stops for quota (exit 4) and writes no row again."""
    keys = [hex_key(), hex_key()]
    gw = gateway({k: KeyBehaviour(f"k{i}") for i, k in enumerate(keys)}, sizes={"11": 30})
    env = env_for(keys, gw.base_url, KTO_API_DAILY_LIMIT="3")
    command = ("collect", "--ldong", "11", "--page-size", "5", "--details", "none")
    assert invoke(*command, env=env)[0] == 0
    spent = [(row["key"], row["operation"]) for row in log_json(env, "--kind", "quota_spent")]
    assert sorted(spent) == [("#0", "areaBasedList2"), ("#1", "areaBasedList2")]
    assert invoke(*command, "--fresh", env=env)[0] == 4
    assert len(log_json(env, "--kind", "quota_spent")) == 2


def test_only_the_first_per_second_refusal_of_a_run_is_written(gateway: GatewayFactory) -> None:
    """A gateway allowing one call a second to each key, four calls at a time: one row a run."""
    keys = [hex_key(), hex_key()]
    gw = gateway(
        {k: KeyBehaviour(f"k{i}") for i, k in enumerate(keys)},
        sizes={"11": 40},
        per_second_limit=1,
    )
    env = env_for(keys, gw.base_url)
    code, _, _ = invoke(
        "collect", "--ldong", "11", "--page-size", "5", "--details", "none", env=env
    )
    assert code == 0 and sum(gw.per_second_refusals().values()) > 1
    rows = log_json(env, "--kind", "rate_limited")
    assert len(rows) == 1 and rows[0]["code"] == "23"


def test_a_key_not_active_yet_comes_back_through_a_probe_and_another_fails_its_probe(
    gateway: GatewayFactory, clock: FakeClock
) -> None:
    """A new key refused with 30 is out; after it activates, `recover` writes its recovery; an
    expired key's probe writes a failed probe; nothing is written twice."""
    new, dead, good = hex_key(), hex_key(), hex_key()
    gw = gateway(
        {
            new: KeyBehaviour("new", BehaviourKind.ACTIVATING, activate_after_s=600),
            dead: KeyBehaviour("dead", BehaviourKind.IP_BLOCKED),
            good: KeyBehaviour("good"),
        },
        sizes={"11": 5},
    )
    env = env_for([new, dead, good], gw.base_url, KTO_RECOVERY_AFTER_S="60")
    assert invoke("collect", "--ldong", "11", "--details", "none", env=env)[0] == 0
    assert kinds_of(log_json(env)) == [("deactivated", "#0"), ("deactivated", "#1")]
    assert log_json(env, "--key", "0")[0]["cause"] == "not_activated_yet"
    clock.advance(700)
    code, _, _ = invoke("recover", env=env)
    assert code == 1  # the key refused for its IP stays out
    later = log_json(env, "--since", "2026-11-24T10:05")
    assert sorted(kinds_of(later)) == [("probe_failed", "#1"), ("recovered", "#0")]
    assert all(row["run_id"] is None for row in later)  # a recovery outside a collection


def test_disable_and_enable_by_hand_are_written_with_the_persons_words(
    gateway: GatewayFactory,
) -> None:
    """`disable 1 --reason`, again, then `enable 1`: two rows, the words kept."""
    keys = [hex_key(), hex_key()]
    env = env_for(keys, gateway({k: KeyBehaviour(f"k{i}") for i, k in enumerate(keys)}).base_url)
    assert invoke("disable", "1", "--reason", "shared with the web team", env=env)[0] == 0
    assert invoke("disable", "1", env=env)[0] == 0
    assert invoke("enable", "1", env=env)[0] == 0
    rows = log_json(env)
    assert kinds_of(rows) == [("disabled", "#1"), ("enabled", "#1")]
    assert rows[0]["reason"] == "shared with the web team"
    code, out, _ = invoke("log", "--kind", "disabled", env=env)
    assert code == 0
    assert '"shared with the web team"' in out and "disabled by hand" in out


def _failing_twice_then_working(share: float) -> int:
    """A seed whose first two calls fail and the next two pass (the gateway draws in order)."""
    for seed in range(10_000):
        draws = random.Random(seed)
        if [draws.random() < share for _ in range(4)] == [True, True, False, False]:
            return seed
    raise AssertionError("no seed found")


def test_an_outage_begun_and_over_is_two_rows(gateway: GatewayFactory) -> None:
    """The gateway fails both keys' first calls, then works: the outage and its end, once each."""
    keys = [hex_key(), hex_key()]
    rate = ErrorRate(share=0.5, seed=_failing_twice_then_working(0.5))
    gw = gateway(
        {k: KeyBehaviour(f"k{i}") for i, k in enumerate(keys)}, sizes={"11": 3}, error_rate=rate
    )
    env = env_for(keys, gw.base_url)
    code, _, _ = invoke("collect", "--ldong", "11", "--details", "none", env=env)
    assert code == 0 and gw.total() == 4
    rows = log_json(env)
    assert [row["event"] for row in rows] == ["outage", "outage_over"]
    assert rows[0]["cause"] == "transient" and rows[0]["run_id"] == rows[1]["run_id"]


@pytest.mark.parametrize("lang", ["ko", "en"])
@pytest.mark.parametrize("days", ["14", "30", "90"])
def test_history_fits_80_columns_with_one_line_per_key(
    gateway: GatewayFactory, lang: str, days: str
) -> None:
    """Six keys after a run with an expired and a small one: each key one line, every line at
    most 80 cells, no escape code, with a sparkline, calls, success rate and p50/p95."""
    keys = [hex_key() for _ in range(6)]
    behaviours = {k: KeyBehaviour(f"k{i}") for i, k in enumerate(keys)}
    behaviours[keys[0]] = KeyBehaviour("dead", BehaviourKind.EXPIRED)
    behaviours[keys[5]] = KeyBehaviour("small", daily_limit=3)
    gw = gateway(behaviours, sizes={"11": 30})
    env = env_for(keys, gw.base_url)
    invoke("collect", "--ldong", "11", "--page-size", "5", env=env)
    code, out, _ = invoke("--lang", lang, "history", "--days", days, env=env)
    lines = out.rstrip("\n").splitlines()
    assert code == 0 and "\x1b" not in out
    assert all(cell_len(line) <= 80 for line in lines), lines
    for index, key in enumerate(keys):
        [line] = [line for line in lines if line.startswith(f"#{index} ")]
        assert key[:10] in line and "█" in line and "…" not in line
    [small] = [line for line in lines if line.startswith("#5 ")]
    assert small.rstrip().endswith(" 1")  # a day with a spent quota (code 22)


def test_history_json_matches_the_gateways_counts_and_survives_pruning(
    gateway: GatewayFactory, clock: FakeClock
) -> None:
    """Calls per key and day equal what the gateway saw; 40 days later, with raw calls kept 30
    days, the first day's raw calls are gone but its roll-up still counts in `history`."""
    keys = [hex_key(), hex_key()]
    gw = gateway({k: KeyBehaviour(f"k{i}") for i, k in enumerate(keys)}, sizes={"11": 12})
    env = env_for(keys, gw.base_url, KTO_HISTORY_DAYS="30")
    assert invoke("collect", "--ldong", "11", "--page-size", "5", env=env)[0] == 0
    first_day = gw.total()
    code, out, _ = invoke("history", "--json", env=env)
    report = json.loads(out)
    assert code == 0 and report["days"] == 14 and report["to"] == "2026-11-24"
    assert sum(key["calls"] for key in report["keys"]) == first_day
    assert all(key["success_rate"] == 1.0 for key in report["keys"])
    assert all(key["calls_per_day"]["2026-11-24"] == key["calls"] for key in report["keys"])
    clock.advance(40 * 86400)
    gw.reset_counts()
    assert invoke("collect", "--ldong", "11", "--page-size", "5", env=env)[0] == 0
    code, out, _ = invoke("history", "--days", "60", "--json", env=env)
    keys_now = json.loads(out)["keys"]
    assert sum(key["calls_per_day"]["2026-11-24"] for key in keys_now) == first_day
    assert sum(key["calls_per_day"]["2027-01-03"] for key in keys_now) == gw.total()
    only = json.loads(invoke("history", "--key", "1", "--json", env=env)[1])["keys"]
    assert [key["key"] for key in only] == ["#1"]
