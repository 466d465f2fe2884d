"""Keys from every source, the encrypted key store, per-key limits, expiry and standby keys, as
a user meets them: `kto-keys keys …`, `status`, `health` and `collect` against the local gateway."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import START, GatewayFactory, base64_key, env_for, hex_key, invoke
from cryptography.fernet import Fernet

from kto_keys.core.clock import FakeClock, kst_day
from kto_keys.sim import BehaviourKind, KeyBehaviour

pytestmark = pytest.mark.usefixtures("isolated")
LIST = "areaBasedList2"
INTRO = "detailIntro2"


def keys_json(env: dict[str, str], *options: str) -> dict:
    code, out, err = invoke(*options, "keys", "list", "--json", env=env)
    assert code == 0, err
    return json.loads(out)


def key_bytes(raw: str) -> list[bytes]:
    """A key as it could be written: plain, percent-encoded, and any 16-character run of it."""
    forms = [raw, quote(raw, safe="")] + [raw[at : at + 16] for at in range(0, len(raw) - 15, 4)]
    return [form.encode() for form in forms]


def test_each_source_and_the_priority_store_then_file_then_environment(isolated: Path) -> None:
    """The pool is the union; a key in several sources shows its best source and its attributes."""
    in_env, in_both, in_all = hex_key(), hex_key(), base64_key()
    (isolated / "keys.txt").write_text(
        f"# ours\n{in_both} label=file-label limit=40\n{in_all} label=file-label\n",
        encoding="utf-8",
    )
    env = env_for([in_env, in_both, in_all], KTO_API_KEY_FILE="keys.txt")
    code, _, err = invoke(
        "keys", "add", "--label", "store-label", "--limit", "7", env=env, stdin=in_all
    )
    assert code == 0, err
    listed = keys_json(env)["keys"]
    assert [(k["preview"], k["source"], k["label"], k["limit"]) for k in listed] == [
        (in_all[:10] + "...", "store", "store-label", 7),
        (in_both[:10] + "...", "keys.txt", "file-label", 40),
        (in_env[:10] + "...", "environment", None, 1000),
    ]
    code, out, _ = invoke("status", env=env)
    assert code == 0 and "store" in out and "keys.txt" in out and "env" in out
    # In Korean, each table names the sources in Korean words; a file keeps its name.
    for command in (("status",), ("keys", "list")):
        code, out, _ = invoke(*command, env={**env, "KTO_LANG": "ko"})
        assert code == 0 and "저장소" in out and "환경" in out and "keys.txt" in out
        words = out.replace("store-label", "")  # the label given above is the user's own
        assert "store" not in words and "environment" not in words


def test_systemd_credentials_are_read_as_a_keys_file(isolated: Path) -> None:
    """$CREDENTIALS_DIRECTORY/kto_api_keys is a keys file when no other is named."""
    credentials = isolated / "credentials"
    credentials.mkdir()
    raw = hex_key()
    (credentials / "kto_api_keys").write_text(f"{raw} standby\n", encoding="utf-8")
    env = {**env_for([hex_key()]), "CREDENTIALS_DIRECTORY": str(credentials)}
    listed = keys_json(env)["keys"]
    assert (listed[0]["preview"], listed[0]["standby"]) == (raw[:10] + "...", True)


def test_a_bad_line_stops_every_command_with_exit_2_and_no_key_shown(isolated: Path) -> None:
    """One line naming the file and the line; no part of any key on screen."""
    good, bad = hex_key(), base64_key()
    (isolated / "keys.txt").write_text(f"{good}\n{bad} limit=many\n", encoding="utf-8")
    for command in (("status",), ("keys", "list"), ("collect", "--ldong", "11")):
        code, out, err = invoke("--keys-file", "keys.txt", *command, env=env_for([]))
        assert code == 2 and out == ""
        assert err == "kto-keys: keys file keys.txt, line 2: limit= must be a whole number from 1\n"
        assert good[:16] not in err and bad[:16] not in err


def test_keys_add_reads_stdin_and_the_store_holds_no_key_bytes(isolated: Path) -> None:
    """`keys add` through the installed script, the key piped in (never an argument): a master
    key file is made 0600 and named; the store file holds the key in no form."""
    raw = base64_key()
    env = {
        **os.environ,
        "KTO_LANG": "en",
        "KTO_API_KEY": "",
        "XDG_CONFIG_HOME": str(isolated / ".config"),
    }
    script = Path(sys.executable).with_name("kto-keys")
    result = subprocess.run(
        [str(script), "keys", "add", "--label", "night", "--expires", "2027-06-30"],
        input=raw + "\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=isolated,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    master = isolated / ".config" / "kto-keys" / "keystore.key"
    assert f"made a new master key: {master}" in result.stderr
    assert f"added key #0 {raw[:10]}..." in result.stderr
    assert oct(master.stat().st_mode & 0o777) == "0o600"
    store = (isolated / "data" / "keystore.db").read_bytes()
    for form in key_bytes(raw):
        assert form not in store
    assert raw[10:26] not in result.stdout + result.stderr
    listed = keys_json({"KTO_LANG": "en"})["keys"]
    assert [(k["source"], k["label"], k["expires"]) for k in listed] == [
        ("store", "night", "2027-06-30")
    ]


def test_keys_add_refuses_an_empty_input(isolated: Path) -> None:
    """Nothing piped in: exit 2, one line saying how to give the key; no store is made."""
    code, _, err = invoke("keys", "add", env=env_for([]), stdin="\n")
    assert code == 2 and "no key was given" in err and err.count("\n") == 1
    assert not (isolated / "data" / "keystore.db").exists()


def test_a_wrong_master_key_stops_every_command_before_any_call(
    isolated: Path, gateway: GatewayFactory
) -> None:
    """Exit 2 and one line naming the store; the gateway sees no call; the store file is as it was."""
    raw = hex_key()
    gw = gateway({raw: KeyBehaviour("k")}, sizes={"11": 5})
    right = Fernet.generate_key().decode()
    env = env_for([], gw.base_url, KTO_KEYSTORE_KEY=right)
    assert invoke("keys", "add", env=env, stdin=raw)[0] == 0
    store = isolated / "data" / "keystore.db"
    before = store.read_bytes()
    wrong = {**env, "KTO_KEYSTORE_KEY": Fernet.generate_key().decode()}
    for command in (("status",), ("collect", "--ldong", "11"), ("keys", "list"), ("health",)):
        code, out, err = invoke(*command, env=wrong)
        assert code == 2 and out == "", command
        assert err == (
            f"kto-keys: the key store {store} cannot be opened with this master key: check"
            " KTO_KEYSTORE_KEY or KTO_KEYSTORE_KEY_FILE (nothing was changed)\n"
        )
    assert gw.counts() == {}
    assert store.read_bytes() == before


def test_rekey_with_an_old_and_a_new_master_key(isolated: Path) -> None:
    """KTO_KEYSTORE_KEY=new,old reads both; `keys rekey` leaves the new one alone needed."""
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    raws = [hex_key(), base64_key()]
    env = env_for(raws, KTO_KEYSTORE_KEY=old)
    assert invoke("keys", "import", "--from-env", env=env)[0] == 0
    code, out, _ = invoke("keys", "rekey", env={**env, "KTO_KEYSTORE_KEY": f"{new},{old}"})
    assert code == 0 and "encrypted 2 keys again" in out
    only_new = {**env, "KTO_API_KEY": "", "KTO_KEYSTORE_KEY": new}
    assert [k["source"] for k in keys_json(only_new)["keys"]] == ["store", "store"]
    assert invoke("status", env={**only_new, "KTO_KEYSTORE_KEY": old})[0] == 2


def test_import_from_the_environment_then_the_store_is_authoritative(isolated: Path) -> None:
    """`keys import --from-env` says imported / already there; the keys then show the store."""
    raws = [hex_key(), hex_key(), base64_key()]
    env = env_for(raws)
    code, out, err = invoke("keys", "import", "--from-env", env=env)
    assert code == 0
    assert "imported into the key store: 3 new, 0 already there" in out
    assert "made a new master key" in err
    _, again, _ = invoke("keys", "import", "--from-env", env=env)
    assert "0 new, 3 already there" in again
    assert [k["source"] for k in keys_json(env)["keys"]] == ["store"] * 3
    assert [k["source"] for k in keys_json({"KTO_LANG": "en"})["keys"]] == ["store"] * 3


def test_an_import_carries_what_the_keys_file_says_of_a_key(isolated: Path) -> None:
    """A key in KTO_API_KEY and, with a label and a limit, in the keys file: the store keeps both
    attributes, so the keys file can go."""
    raw = hex_key()
    (isolated / "keys.txt").write_text(f"{raw} label=ops limit=300\n", encoding="utf-8")
    env = env_for([raw], KTO_API_KEY_FILE="keys.txt")
    assert invoke("keys", "import", "--from-env", env=env)[0] == 0
    [key] = keys_json({"KTO_LANG": "en"})["keys"]
    assert (key["source"], key["label"], key["limit"]) == ("store", "ops", 300)


def test_auto_import_moves_new_keys_once_with_one_line(isolated: Path) -> None:
    """KTO_KEYSTORE_AUTO_IMPORT=true: the first command moves the keys and says so; the next is
    silent; a key added to KTO_API_KEY later is moved by the command after."""
    first = [hex_key(), hex_key()]
    env = env_for(first, KTO_KEYSTORE_AUTO_IMPORT="true")
    code, _, err = invoke("status", env=env)
    assert code == 0 and err.count("moved 2 key(s) into the key store") == 1
    code, _, err = invoke("status", env=env)
    assert code == 0 and "moved" not in err
    later = {**env, "KTO_API_KEY": ",".join([*first, base64_key()])}
    code, _, err = invoke("status", env=later)
    assert "moved 1 key(s) into the key store" in err
    assert [k["source"] for k in keys_json(later)["keys"]] == ["store"] * 3


def test_a_removed_key_stays_out_while_kto_api_key_still_holds_it(
    isolated: Path, gateway: GatewayFactory
) -> None:
    """`keys remove 0`: every later run warns once by index and preview, and never calls it."""
    gone, kept = hex_key(), hex_key()
    gw = gateway({gone: KeyBehaviour("gone"), kept: KeyBehaviour("kept")}, sizes={"11": 20})
    env = env_for([gone, kept], gw.base_url)
    code, out, _ = invoke("keys", "remove", "0", env=env)
    assert code == 0 and f"removed key #0 {gone[:10]}..." in out
    code, _, err = invoke(
        "collect", "--ldong", "11", "--details", "none", "--page-size", "5", env=env
    )
    assert code == 0
    warning = f"key #0 {gone[:10]}... of environment was removed in the key store: left out"
    assert err.count(warning) == 1
    assert "gone" not in gw.counts() and gw.total(LIST, "kept") == 4
    assert [k["preview"] for k in keys_json(env)["keys"]] == [kept[:10] + "..."]


def test_a_per_key_limit_is_what_the_gateway_counts(
    isolated: Path, gateway: GatewayFactory, clock: FakeClock
) -> None:
    """limit=30 beside keys of 50: exactly 30 detail calls on it, the others carry the rest; the
    run stops for quota with the work kept, and the next day's run fetches only what is left."""
    small, first, second = hex_key(), hex_key(), base64_key()
    gw = gateway(
        {small: KeyBehaviour("small"), first: KeyBehaviour("a"), second: KeyBehaviour("b")},
        sizes={"11": 150},  # 150 detail calls: more than 30 + 50 + 50 in a day
    )
    (isolated / "keys.txt").write_text(f"{small} limit=30\n", encoding="utf-8")
    env = env_for(
        [first, second], gw.base_url, KTO_API_KEY_FILE="keys.txt", KTO_API_DAILY_LIMIT="50"
    )
    collect = ("collect", "--ldong", "11", "--details", "intro")
    code, _, err = invoke(*collect, env=env)
    assert code == 4, err
    counts = gw.counts()
    assert [counts[label][INTRO] for label in ("small", "a", "b")] == [30, 50, 50]
    clock.advance(86400)
    assert invoke(*collect, env=env)[0] == 0
    assert gw.total(INTRO) == 150  # each record's details fetched once, none twice
    assert gw.total(INTRO, "small") <= 60


def test_health_lists_keys_expiring_soon_and_exits_1_within_a_week(isolated: Path) -> None:
    """A key that expires in 5 days: listed with its date, exit 1; in 20 days: listed, exit 0."""
    today = kst_day(START)
    soon, later = hex_key(), hex_key()
    keys_file = isolated / "keys.txt"
    keys_file.write_text(f"{soon} expires={today.replace(day=today.day + 5)}\n", encoding="utf-8")
    env = env_for([later], KTO_API_KEY_FILE="keys.txt")
    code, out, _ = invoke("health", env=env)
    assert code == 1
    assert f"#0 {soon[:10]}...: expires on {today.replace(day=today.day + 5)} (5 days left)" in out
    report = json.loads(invoke("health", "--json", env=env)[1])
    assert [(e["key"], e["days_left"], e["estimated"]) for e in report["expiring"]] == [
        ("#0", 5, False)
    ]
    keys_file.write_text(f"{soon} expires=2026-12-14\n", encoding="utf-8")
    code, out, _ = invoke("health", env=env)
    assert code == 0 and "expires on 2026-12-14 (20 days left)" in out


def test_a_standby_key_replaces_a_key_that_answers_31_mid_run(
    isolated: Path, gateway: GatewayFactory
) -> None:
    """The active key works for 5 calls, then answers 31: the standby takes its place in the same
    run, the refused request is made again on it, and every record is stored. The gateway counts
    one refused call for the dead key; the log and `status` say which key replaced which, why."""
    dying, standby = hex_key(), hex_key()
    gw = gateway(
        {dying: KeyBehaviour("dying", expires_after_calls=5), standby: KeyBehaviour("standby")},
        sizes={"11": 60},
    )
    (isolated / "keys.txt").write_text(f"{standby} standby label=reserve\n", encoding="utf-8")
    env = env_for([dying], gw.base_url, KTO_API_KEY_FILE="keys.txt")
    collect = ("collect", "--ldong", "11", "--details", "none", "--page-size", "5")
    code, _, err = invoke(*collect, "--concurrency", "1", env=env)
    assert code == 0, err
    assert gw.total(label="dying") == 6  # 5 answered, 1 refused with 31
    assert [r.outcome for r in gw.history() if r.label == "dying"][-1] != "ok"
    with sqlite3.connect(isolated / "data" / "kto.db") as db:
        assert db.execute("SELECT COUNT(*) FROM restaurants").fetchone()[0] == 60
    assert f"standby key #0 {standby[:10]}... took the place of #1 {dying[:10]}..." in err
    code, out, _ = invoke("status", "--json", env=env)
    rows = {row["index"]: row for row in json.loads(out)["keys"]}
    assert (rows[0]["stands_in_for"], rows[1]["replaced_by"]) == (1, 0)
    assert rows[1]["deactivation_cause"] == "expired"
    code, out, _ = invoke("health", env=env)
    assert "My Page → Data Use → Open API → Application Status → Request an extension" in out
    code, out, _ = invoke("log", "--kind", "standby_in", env=env)
    assert f"#0 {standby[:10]}...  standby in" in out and f"for #1 {dying[:10]}..." in out
    code, out, _ = invoke("log", "--json", env=env)
    assert ("standby_in", "#0", f"#1 {dying[:10]}...") in [
        (row["event"], row["key"], row["reason"]) for row in json.loads(out)
    ]


def test_an_expired_key_is_probed_again_only_once_its_date_changes(
    isolated: Path, gateway: GatewayFactory, clock: FakeClock
) -> None:
    """After a 31, `recover` leaves the key alone, hours later too; `keys set N --expires` (the
    portal extended it) makes the next `recover` probe it, with one call."""
    dead, good = hex_key(), hex_key()
    gw = gateway(
        {dead: KeyBehaviour("dead", BehaviourKind.EXPIRED), good: KeyBehaviour("good")},
        sizes={"11": 10},
    )
    env = env_for([dead, good], gw.base_url)
    collect = ("collect", "--ldong", "11", "--details", "none")
    assert invoke(*collect, env=env)[0] == 0
    assert gw.total(label="dead") == 1
    clock.advance(6 * 3600)
    assert invoke("recover", env=env)[0] == 1  # nothing due, but an expired key stays out
    assert gw.total(label="dead") == 1
    code, _, err = invoke("keys", "set", "0", "--expires", "2028-11-30", env=env)
    assert code == 0 and "made a new master key" in err
    assert keys_json(env)["keys"][0]["expires"] == "2028-11-30"
    assert invoke("recover", env=env)[0] == 1  # probed: still 31 at this gateway, so still out
    assert gw.total(label="dead") == 2


def test_recover_names_each_expired_key_that_waits_for_a_new_date_and_exits_1(
    isolated: Path, gateway: GatewayFactory, clock: FakeClock
) -> None:
    """Keys out as expired (code 31, or an expiry date past) get no probe from `recover`: it says
    which keys wait, with the very lines `health` gives them and what to do, and exits 1, since
    they stay out (Korean by default, English with --lang en)."""
    dated, dead, good = hex_key(), hex_key(), hex_key()
    (isolated / "keys.txt").write_text(f"{dated} expires=2026-11-01\n", encoding="utf-8")
    gw = gateway(
        {dead: KeyBehaviour("dead", BehaviourKind.EXPIRED), good: KeyBehaviour("good")},
        sizes={"11": 10},
    )
    env = env_for([dead, good], gw.base_url, KTO_API_KEY_FILE="keys.txt")
    assert invoke("collect", "--ldong", "11", "--details", "none", env=env)[0] == 0
    clock.advance(6 * 3600)
    code, out, _ = invoke("recover", env=env)
    assert code == 1
    extend = (
        "expired: on data.go.kr, My Page → Data Use → Open API → Application Status → Request "
        "an extension, then give the new date (keys set N --expires DATE)"
    )
    assert out.splitlines() == [
        "no deactivated key is due for recovery (--force probes them all)",
        f"  ⚠️ #0 {dated[:10]}...: {extend}",
        f"  ⚠️ #1 {dead[:10]}...: {extend} (31 DEADLINE_HAS_EXPIRED_ERROR)",
        "💡 expired keys #0 #1: extend them on the portal, then keys set N --expires DATE "
        "(recover leaves them alone until their date changes)",
    ]
    health = invoke("health", env=env)[1].splitlines()
    assert out.splitlines()[1:] == [line for line in health if "⚠️" in line or "💡" in line]
    code, out, _ = invoke("recover", env={**env, "KTO_LANG": "ko"})
    assert code == 1
    assert out.splitlines()[1:3] == [
        f"  ⚠️ #0 {dated[:10]}...: 사용 기간 만료: data.go.kr 마이페이지 → 데이터활용 → Open API → "
        "활용신청 현황 → 활용기간 연장신청 후 새 만료일을 적으세요 (keys set N --expires 날짜)",
        f"  ⚠️ #1 {dead[:10]}...: 사용 기간 만료: data.go.kr 마이페이지 → 데이터활용 → Open API → "
        "활용신청 현황 → 활용기간 연장신청 후 새 만료일을 적으세요 (keys set N --expires 날짜) "
        "(31 DEADLINE_HAS_EXPIRED_ERROR)",
    ]
    code, out, _ = invoke("recover", "--json", env=env)
    assert code == 1
    assert [(r["key"], r["probed"], r["recovered"], r["code"]) for r in json.loads(out)] == [
        ("#0", False, False, None),
        ("#1", False, False, "31"),
    ]
    assert gw.total(label="dead") == 1  # no probe was spent on it


def test_calls_waiting_on_a_key_that_dies_are_not_sent(
    isolated: Path, gateway: GatewayFactory
) -> None:
    """At concurrency 4 and the default pace, calls queued on the key when it answers 31 go to
    the standby instead: the gateway sees one refused call, and the key is reported out once."""
    dying, standby = hex_key(), hex_key()
    gw = gateway(
        {dying: KeyBehaviour("dying", expires_after_calls=5), standby: KeyBehaviour("standby")},
        sizes={"11": 60},
    )
    (isolated / "keys.txt").write_text(f"{standby} standby\n", encoding="utf-8")
    env = env_for([dying], gw.base_url, KTO_API_KEY_FILE="keys.txt")
    code, _, err = invoke(
        "collect", "--ldong", "11", "--details", "none", "--page-size", "5", env=env
    )
    assert code == 0, err
    refused = [r for r in gw.history() if r.label == "dying" and r.outcome != "ok"]
    assert len(refused) == 1
    assert err.count("deactivated") == 1
    with sqlite3.connect(isolated / "data" / "kto.db") as db:
        assert db.execute("SELECT COUNT(*) FROM restaurants").fetchone()[0] == 60


def test_rekey_without_a_store_makes_no_file(isolated: Path) -> None:
    """Nothing to re-encrypt: exit 2 and one line; no empty store is left to break the next run."""
    (isolated / "data").mkdir()
    env = env_for([hex_key()], KTO_KEYSTORE_KEY=Fernet.generate_key().decode())
    code, _, err = invoke("keys", "rekey", env=env)
    assert code == 2 and "there is no key store at" in err
    assert not (isolated / "data" / "keystore.db").exists()
    assert invoke("status", env=env)[0] == 0


def test_keys_add_and_import_say_what_is_wrong_with_their_input(isolated: Path) -> None:
    """Not a key, two keys to `add`, or `import` told nothing: one line each, exit 2."""
    env = env_for([])
    code, _, err = invoke("keys", "add", env=env, stdin="not-a-key\n")
    assert code == 2 and "is no key" in err and "KTO_API_KEY" not in err
    code, _, err = invoke("keys", "add", env=env, stdin=f"{hex_key()}\n{hex_key()}\n")
    assert code == 2 and "keys add takes one key (2 were given)" in err
    code, _, err = invoke("keys", "import", env=env)
    assert code == 2 and "say what to import: --from-env, --from-file PATH, or -" in err


def test_a_reserve_that_leaves_a_key_nothing_is_refused(isolated: Path) -> None:
    """KTO_RESERVE at or above a key's own limit: exit 2 naming the key, not a silent dead key."""
    raw = hex_key()
    (isolated / "keys.txt").write_text(f"{raw} limit=30\n", encoding="utf-8")
    env = env_for([hex_key()], KTO_API_KEY_FILE="keys.txt", KTO_RESERVE="30")
    code, _, err = invoke("status", env=env)
    assert code == 2 and "KTO_RESERVE=30 leaves no calls of key #0's own limit=30" in err


def test_the_installed_script_keeps_health_usage_errors_at_3_with_a_keys_file(
    isolated: Path,
) -> None:
    """`kto-keys --keys-file F health --bogus` through the script itself: 3, as without it."""
    (isolated / "keys.txt").write_text(f"{hex_key()}\n", encoding="utf-8")
    script = Path(sys.executable).with_name("kto-keys")
    for options in ([], ["--keys-file", "keys.txt"], ["--state-url", "redis://h/0"]):
        result = subprocess.run(
            [str(script), *options, "health", "--bogus"],
            capture_output=True,
            cwd=isolated,
            timeout=60,
            check=False,
        )
        assert result.returncode == 3, options
