"""The shared key pool on a real Redis-protocol server: the acquire and record scripts' promises
(limits across pools, idempotent records, healed leases, one probe at a time), the server away
at the start, and the commands that work on the shared state."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from conftest import GatewayFactory, env_for, hex_key, invoke, make_settings
from shared_server import free_port

from kto_keys.core.answers import Outcome
from kto_keys.core.clock import FakeClock
from kto_keys.core.codes import OutcomeKind
from kto_keys.core.keys import ServiceKey
from kto_keys.core.pool import Exhausted, KeyPool, Lease, Wait
from kto_keys.core.shared import Fate, Grant, Refusal, Refused
from kto_keys.edges.settings import Settings
from kto_keys.edges.shared import SharedGate, SharedState, append_journal, journal_path
from kto_keys.sim import BehaviourKind, KeyBehaviour

LIST = "areaBasedList2"
SUCCESS = Outcome(OutcomeKind.SUCCESS, "0000")
NOT_REGISTERED = Outcome(OutcomeKind.KEY_UNUSABLE, "30", "SERVICE_KEY_IS_NOT_REGISTERED_ERROR")


def _settings(tmp_path: Path, keys: list[str], state_url: str, **more: str) -> Settings:
    return make_settings(
        tmp_path, keys, "http://127.0.0.1:9/B551011/KorService2", KTO_STATE_URL=state_url, **more
    )


def _pool(settings: Settings, clock: FakeClock) -> KeyPool:
    """One process's pool: its view loaded from the shared state."""
    states = SharedState(settings).load_view(settings.keys, clock.now())
    return KeyPool(settings.keys, settings.policy(), clock.now(), states)


async def _take(pool: KeyPool, gate: SharedGate, operation: str, clock: FakeClock) -> Grant | None:
    """A key for one call as the client takes it: the pool picks, the shared state admits."""
    while True:
        choice = pool.acquire(operation, clock.now())
        if isinstance(choice, Wait):
            return None
        if isinstance(choice, Exhausted):
            return None
        admitted = await gate.admit(choice, pool, clock.now())
        if isinstance(admitted, Grant):
            return admitted


async def _record(
    pool: KeyPool,
    gate: SharedGate,
    key: ServiceKey,
    grant: Grant,
    outcome: Outcome,
    clock: FakeClock,
) -> None:
    lease = Lease(key, grant.operation, probe=grant.probe)
    before = Fate.of(pool.peek(key))
    events = pool.record_outcome(lease, outcome, clock.now())
    await gate.settle(grant, lease, before, pool, outcome, events, clock.now())


async def test_two_pools_never_count_a_key_past_its_limit(
    tmp_path: Path, clock: FakeClock, state_url: str
) -> None:
    """Two processes' pools, each sure from its own view that the key has quota left, make no
    more calls together than the key's limit: the acquire script counts them atomically."""
    settings = _settings(tmp_path, [hex_key()], state_url, KTO_API_DAILY_LIMIT="5")
    first, second = _pool(settings, clock), _pool(settings, clock)
    shared_a, shared_b = SharedState(settings), SharedState(settings)
    limit = settings.policy().usable_limit
    granted = 0
    async with (
        shared_a.gate(lambda key: limit) as gate_a,
        shared_b.gate(lambda key: limit) as gate_b,
    ):
        key = settings.keys[0]
        warm = await _take(first, gate_a, LIST, clock)  # proven: calls may then run side by side
        assert warm is not None
        await _record(first, gate_a, key, warm, SUCCESS, clock)
        granted += 1
        for _ in range(6):
            for pool, gate in ((first, gate_a), (second, gate_b)):
                grant = await _take(pool, gate, LIST, clock)
                if grant is not None:
                    granted += 1
                    await _record(pool, gate, key, grant, SUCCESS, clock)
    assert granted == 5
    view = SharedState(settings).load_view(settings.keys, clock.now())
    assert view[key.fingerprint].usage == {LIST: 5}


async def test_a_retried_record_changes_nothing(
    tmp_path: Path, clock: FakeClock, state_url: str
) -> None:
    """Recording the same lease twice (a retry, a journal replayed) counts its outcome once."""
    settings = _settings(tmp_path, [hex_key()], state_url)
    pool, shared = _pool(settings, clock), SharedState(settings)
    key = settings.keys[0]
    async with shared.gate(lambda key: 1000) as gate:
        grant = await _take(pool, gate, LIST, clock)
        assert grant is not None
        lease = Lease(key, LIST)
        before = Fate.of(pool.peek(key))
        events = pool.record_outcome(lease, SUCCESS, clock.now())
        await gate.settle(grant, lease, before, pool, SUCCESS, events, clock.now())
        await gate.settle(grant, lease, before, pool, SUCCESS, events, clock.now())
    state = shared.load_view(settings.keys, clock.now())[key.fingerprint]
    assert (state.total_calls, state.total_successes, state.usage) == (1, 1, {LIST: 1})


async def test_a_dead_process_lease_heals_by_its_deadline(
    tmp_path: Path, clock: FakeClock, state_url: str
) -> None:
    """An unproven key with a call in flight takes no second call anywhere; when the process
    holding it died, its lease ends at its deadline and the key takes calls again."""
    settings = _settings(tmp_path, [hex_key()], state_url, KTO_REQUEST_DEADLINE_S="0.2")
    dead, alive = _pool(settings, clock), _pool(settings, clock)
    async with (
        SharedState(settings).gate(lambda key: 1000) as dying,
        SharedState(settings).gate(lambda key: 1000) as gate,
    ):
        assert await _take(dead, dying, LIST, clock) is not None  # never recorded: it died
        choice = alive.acquire(LIST, clock.now())
        assert isinstance(choice, Lease)
        refused = await gate.admit(choice, alive, clock.now())
        assert isinstance(refused, Refused) and refused.reason is Refusal.BUSY
        time.sleep(0.5)  # the server's own clock passes the lease's deadline (0.4 s)
        clock.advance(1)  # and this process's view lets the key be tried again
        assert await _take(alive, gate, LIST, clock) is not None


async def test_one_recovery_probe_at_a_time_over_all_processes(
    tmp_path: Path, clock: FakeClock, state_url: str
) -> None:
    """A deactivated key is probed by one process at a time; the other is refused, no call made."""
    settings = _settings(tmp_path, [hex_key()], state_url)
    first, second = _pool(settings, clock), _pool(settings, clock)
    key = settings.keys[0]
    async with (
        SharedState(settings).gate(lambda key: 1000) as gate_a,
        SharedState(settings).gate(lambda key: 1000) as gate_b,
    ):
        grant = await _take(first, gate_a, LIST, clock)
        assert grant is not None
        await _record(first, gate_a, key, grant, NOT_REGISTERED, clock)
        # The second process learns of the deactivation from the server, at its first try.
        choice = second.acquire(LIST, clock.now())
        assert isinstance(choice, Lease)
        refused = await gate_b.admit(choice, second, clock.now())
        assert isinstance(refused, Refused) and refused.reason is Refusal.DEACTIVATED
        assert second.peek(key).deactivated_at is not None
        probe_a = await gate_a.admit(first.begin_probe(key, LIST, clock.now()), first, clock.now())
        probe_b = await gate_b.admit(
            second.begin_probe(key, LIST, clock.now()), second, clock.now()
        )
        assert isinstance(probe_a, Grant)
        assert isinstance(probe_b, Refused) and probe_b.reason is Refusal.BUSY


def test_unreachable_server_stops_before_any_call_with_exit_6(
    isolated: Path, gateway: GatewayFactory
) -> None:
    """No server at KTO_STATE_URL: exit 6 and one line naming the URL, its password masked,
    and the gateway never called."""
    key = hex_key()
    server = gateway({key: KeyBehaviour("good")}, sizes={"11": 5})
    url = f"redis://kto:s3cret-pass@127.0.0.1:{free_port()}/0"
    env = env_for([key], server.base_url, KTO_STATE_URL=url, KTO_STATE_TIMEOUT_S="1")
    code, _, err = invoke("collect", "--ldong", "11", "--details", "none", env=env)
    assert code == 6
    lines = [line for line in err.splitlines() if line.startswith("kto-keys:")]
    assert len(lines) == 1
    assert f"redis://kto:***@127.0.0.1:{url.rsplit(':', 1)[1]}" in lines[0]
    assert "s3cret" not in err
    assert server.total() == 0


def test_a_korean_line_about_an_unreachable_server_leaves_its_words_to_a_detail_line(
    isolated: Path,
) -> None:
    """The server's own words (English, from the client library) never sit inside a Korean
    sentence: the line says what happened and what to do in Korean, the words follow on an
    indented detail line; English keeps its one line; the exit code stays 6."""
    port = free_port()
    url = f"redis://kto:s3cret-pass@127.0.0.1:{port}/0"
    env = env_for([hex_key()], KTO_STATE_URL=url, KTO_STATE_TIMEOUT_S="1", KTO_LANG="ko")
    code, _, err = invoke("status", env=env)
    assert code == 6
    line, detail = err.splitlines()
    shown = f"redis://kto:***@127.0.0.1:{port}/0"
    assert line == (
        f"kto-keys: 공유 키 풀 서버 {shown}에 연결할 수 없습니다: 호출은 하나도 하지 않았습니다. "
        "서버와 KTO_STATE_URL을 확인하세요"
    )
    assert detail.startswith("  상세: ") and "Connection refused" in detail
    code, _, err = invoke("--lang", "en", "status", env=env)
    assert code == 6 and err.count("\n") == 1
    assert err.startswith(f"kto-keys: cannot reach the shared key pool at {shown} (")
    assert "Connection refused" in err and "s3cret" not in err
    code, _, err = invoke("keys", "list", env=env)
    assert code == 0
    line, detail = err.splitlines()
    assert line.endswith(
        "에 연결할 수 없어 키 상태는 '알 수 없음'으로 보여 줍니다 (키 목록은 이 컴퓨터의 키 "
        "저장소, 키 파일, 환경 변수에서 읽었습니다)"
    )
    assert detail.startswith("  상세: ") and "Connection refused" in detail


def test_keys_list_answers_without_the_shared_server_with_states_unknown(isolated: Path) -> None:
    """`keys list` asks this machine (key store, keys file, environment): with KTO_STATE_URL
    out of reach it still lists every key with what its sources say, each state unknown, after
    one warning line naming the URL with its password masked, and exits 0; `status`, which
    needs the states, still stops with 6."""
    from_env, from_file = hex_key(), hex_key()
    (isolated / "keys.txt").write_text(
        f"{from_file} label=ops expires=2027-03-31 limit=500 standby\n", encoding="utf-8"
    )
    port = free_port()
    url = f"redis://kto:s3cret-pass@127.0.0.1:{port}/0"
    env = env_for(
        [from_env], KTO_STATE_URL=url, KTO_STATE_TIMEOUT_S="1", KTO_API_KEY_FILE="keys.txt"
    )
    code, out, err = invoke("keys", "list", "--json", env=env)
    assert code == 0, err
    listed = [
        (row["key"], row["source"], row["label"], row["limit"], row["expires"], row["state"])
        for row in json.loads(out)["keys"]
    ]
    assert listed == [
        ("#0", "keys.txt", "ops", 500, "2027-03-31", "unknown"),
        ("#1", "environment", None, 1000, None, "unknown"),
    ]
    shown = f"redis://kto:***@127.0.0.1:{port}/0"
    assert err.startswith(f"⚠️  cannot reach the shared key pool at {shown} (")
    assert err.endswith(
        "): key states are shown as unknown (the keys come from this machine's key store, "
        "keys file and environment)\n"
    )
    assert err.count("\n") == 1 and "s3cret" not in err
    code, out, err = invoke("keys", "list", env={**env, "KTO_LANG": "ko"})
    assert code == 0
    assert err.startswith(
        f"⚠️  공유 키 풀 서버 {shown}에 연결할 수 없어 키 상태는 '알 수 없음'으로 보여 줍니다"
    )
    assert "s3cret" not in err
    rows = [line for line in out.splitlines() if from_env[:10] in line or from_file[:10] in line]
    assert len(rows) == 2 and all("알 수 없음" in row for row in rows)
    assert "대기" in rows[0] and "예비로 보관" not in out  # its role, but no claim on its state
    assert invoke("status", env=env)[0] == 6


def test_disable_status_and_enable_work_on_the_shared_state(isolated: Path, state_url: str) -> None:
    """`disable` writes to the server at once: a later `status` (any process, any host) shows
    it; `enable` puts the key back; no JSON cache is written."""
    keys = [hex_key(), hex_key()]
    env = env_for(keys, KTO_STATE_URL=state_url)
    assert invoke("disable", "1", "--reason", "lent to the web team", env=env)[0] == 0
    data = json.loads(invoke("status", "--json", env=env)[1])
    assert [row["state"] for row in data["keys"]] == ["active", "disabled"]
    assert invoke("enable", "1", env=env)[0] == 0
    data = json.loads(invoke("--state-url", state_url, "status", "--json", env=env_for(keys))[1])
    assert [row["state"] for row in data["keys"]] == ["active", "active"]
    assert not (isolated / "data" / "cache" / "api_key_cache.json").exists()


def test_state_import_and_export_move_a_running_pool(
    isolated: Path, gateway: GatewayFactory, state_url: str
) -> None:
    """A pool that ran on the JSON cache moves to the server with its usage and deactivations
    (`state import`), and back (`state export`)."""
    keys = [hex_key(), hex_key()]
    server = gateway(
        {keys[0]: KeyBehaviour("good"), keys[1]: KeyBehaviour("dead", BehaviourKind.EXPIRED)},
        sizes={"11": 8},
    )
    env = env_for(keys, server.base_url, KTO_KEY_RPS="1000")
    assert invoke("collect", "--ldong", "11", "--details", "intro", env=env)[0] == 0
    before = json.loads(invoke("status", "--json", env=env)[1])["keys"]
    code, _, err = invoke("--state-url", state_url, "state", "import", env=env)
    assert code == 0 and "moved the state of 2 keys" in err
    shared_env = {**env, "KTO_STATE_URL": state_url}
    moved = json.loads(invoke("status", "--json", env=shared_env)[1])["keys"]
    assert _fates(moved) == _fates(before)
    (isolated / "data" / "cache" / "api_key_cache.json").unlink()
    assert invoke("state", "export", env=shared_env)[0] == 0
    back = json.loads(invoke("status", "--json", env=env)[1])["keys"]
    assert _fates(back) == _fates(before)
    assert invoke("state", "export", env=env)[0] == 2  # no server named: a usage error


def _fates(rows: list[dict[str, Any]]) -> list[tuple[str, dict[str, int]]]:
    """Each key's state and its calls today (operations with none left out)."""
    return [(row["state"], {op: n for op, n in row["usage"].items() if n}) for row in rows]


def test_no_raw_key_reaches_the_server(tmp_path: Path, clock: FakeClock, state_url: str) -> None:
    """The server knows keys by fingerprint only: no key nor a 16-character piece of one."""
    raw = hex_key()
    settings = _settings(tmp_path, [raw], state_url)
    pool = _pool(settings, clock)

    async def one_call() -> None:
        async with SharedState(settings).gate(lambda key: 1000) as gate:
            grant = await _take(pool, gate, LIST, clock)
            assert grant is not None
            await _record(pool, gate, settings.keys[0], grant, NOT_REGISTERED, clock)

    asyncio.run(one_call())
    client = SharedState(settings).client()
    dump = []
    for name in client.scan_iter("*"):
        kind = client.type(name)
        value = (
            client.hgetall(name)
            if kind == "hash"
            else client.smembers(name)
            if kind == "set"
            else client.get(name)
        )
        dump.append(f"{name} {value}")
    text = " ".join(dump)
    assert "deactivated_at" in text
    assert all(raw[at : at + 16] not in text for at in range(len(raw) - 15))


def test_a_state_url_of_another_kind_is_refused_naming_the_setting(isolated: Path) -> None:
    """KTO_STATE_URL takes redis://, rediss://, unix:// or valkey:// only: anything else is a
    usage error (2) naming the setting, with any password in it masked."""
    env = env_for([hex_key()], KTO_STATE_URL="http://kto:hunter2@cache.internal:6379")
    code, _, err = invoke("status", env=env)
    assert code == 2
    assert "KTO_STATE_URL" in err and "redis://" in err and "valkey://" in err
    assert "hunter2" not in err


async def test_a_keys_own_limit_holds_across_pools(
    tmp_path: Path, clock: FakeClock, state_url: str
) -> None:
    """A key with `limit=3` in the keys file beside the pool's 50: two processes together make 3
    calls with it, and the other key carries the rest."""
    small, big = hex_key(), hex_key()
    (tmp_path / "keys.txt").write_text(f"{small} limit=3\n", encoding="utf-8")
    settings = _settings(
        tmp_path,
        [big],
        state_url,
        KTO_API_DAILY_LIMIT="50",
        KTO_API_KEY_FILE=str(tmp_path / "keys.txt"),
    )
    pools = [_pool(settings, clock), _pool(settings, clock)]
    used: dict[str, int] = {}
    async with (
        SharedState(settings).gate(pools[0].limit_of) as gate_a,
        SharedState(settings).gate(pools[1].limit_of) as gate_b,
    ):
        for _ in range(60):
            for pool, gate in zip(pools, (gate_a, gate_b), strict=True):
                grant = await _take(pool, gate, LIST, clock)
                if grant is None:
                    continue
                key = next(k for k in pool.keys if k.fingerprint == grant.fingerprint)
                used[key.reveal()] = used.get(key.reveal(), 0) + 1
                await _record(pool, gate, key, grant, SUCCESS, clock)
    assert used == {small: 3, big: 50}


def test_a_server_that_refuses_or_speaks_no_redis_is_exit_6_and_a_bad_port_exit_2(
    isolated: Path, gateway: GatewayFactory, state_url: str
) -> None:
    """A database index the server does not have, or an HTTP server at the address: one line and
    exit 6, never "unexpected error"; a port that is no number is a setting to fix (exit 2)."""
    key = hex_key()
    server = gateway({key: KeyBehaviour("good")}, sizes={"11": 5})
    no_such_db = state_url.rsplit("/", 1)[0] + "/999"
    not_redis = "redis://" + server.base_url.split("//", 1)[1].split("/", 1)[0] + "/0"
    for url in (no_such_db, not_redis):
        env = env_for([key], server.base_url, KTO_STATE_URL=url, KTO_STATE_TIMEOUT_S="2")
        code, _, err = invoke("status", env=env)
        assert code == 6, (url, err)
        assert err.count("\n") == 1 and "unexpected" not in err
    env = env_for([key], server.base_url, KTO_STATE_URL="redis://127.0.0.1:notaport/0")
    code, _, err = invoke("status", env=env)
    assert code == 2 and "KTO_STATE_URL" in err
    assert server.total() == 0


# --- the journal a lost server leaves ----------------------------------------------------------
JOURNAL_ASIDE = re.compile(r"^shared_journal\.json\.(corrupt|invalid|unreadable)-\d{8}T\d{6}$")


def _journal(folder: Path) -> Path:
    """Where the CLI's settings (cwd `folder`) keep the journal: beside the key cache."""
    return folder / "data" / "cache" / "shared_journal.json"


def _facts(settings: Settings, index: int, **more: Any) -> dict[str, Any]:
    """One outcome as a run lost mid-call leaves it in the journal, for today on the server."""
    day = (SharedState(settings).server_day() - date(1970, 1, 1)).days
    return {
        "lease": uuid.uuid4().hex,
        "fp": settings.keys[index].fingerprint,
        "op": LIST,
        "day": day,
        "probe": False,
        **more,
    }


MALFORMED_JOURNALS = [
    pytest.param(b"this is not json", "corrupt", id="garbage-text"),
    pytest.param(b"\xff\xfe\x00\x81binary", "corrupt", id="binary"),
    pytest.param(b"[" * 100_000, "corrupt", id="nested-too-deep"),
    pytest.param(b'{"schema": 1, "records": "x"}', "corrupt", id="records-not-a-list"),
    pytest.param(b'{"records": []}', "corrupt", id="no-schema"),
    pytest.param(b'{"schema": 1, "records": [{"a": 1}]}', "invalid (lease)", id="entry-no-lease"),
    pytest.param(
        b'{"schema": 1, "records": [{"lease": "x", "fp": "ab", "op": "o", "day": "today"}]}',
        "invalid (day)",
        id="entry-day-not-a-number",
    ),
]


@pytest.mark.parametrize(("content", "shown"), MALFORMED_JOURNALS)
def test_a_malformed_journal_is_set_aside_whole_with_one_line_and_the_command_goes_on(
    isolated: Path, state_url: str, content: bytes, shown: str
) -> None:
    """As a corrupt key cache: the journal is moved aside under a stamped name with its bytes,
    one line names it, where it went and what was not done, and the command ends as usual."""
    journal = _journal(isolated)
    journal.parent.mkdir(parents=True)
    journal.write_bytes(content)
    code, out, err = invoke("status", "--json", env=env_for([hex_key()], KTO_STATE_URL=state_url))
    assert code == 0, err
    assert json.loads(out)["keys"][0]["state"] == "active"
    [aside] = [path for path in journal.parent.iterdir() if JOURNAL_ASIDE.match(path.name)]
    assert aside.name.startswith(f"shared_journal.json.{shown.split()[0]}-")
    assert aside.read_bytes() == content
    assert not journal.exists()
    assert err == (
        f"⚠️  shared journal {journal} was {shown}; moved to {aside.name}, its outcomes not "
        "replayed onto the shared key pool (look into it, then delete it)\n"
    )


def test_a_journal_that_is_a_folder_is_set_aside_in_korean_too(
    isolated: Path, state_url: str
) -> None:
    """A journal the system will not read (a folder in its place) is no "unexpected error": one
    Korean line says it was unreadable and where it went, and `status` exits 0."""
    journal = _journal(isolated)
    journal.mkdir(parents=True)
    env = {**env_for([hex_key()], KTO_STATE_URL=state_url), "KTO_LANG": "ko"}
    code, _, err = invoke("status", env=env)
    assert code == 0, err
    [aside] = [path for path in journal.parent.iterdir() if JOURNAL_ASIDE.match(path.name)]
    assert aside.is_dir() and aside.name.startswith("shared_journal.json.unreadable-")
    assert err == (
        f"⚠️  공유 풀 저널 {journal}: 읽을 수 없음 (파일이 아니라 폴더입니다); {aside.name}(으)로 "
        "옮겼고, 그 안의 호출 결과는 공유 키 풀에 반영하지 않았습니다 (내용을 확인한 뒤 지워도 "
        "됩니다)\n"
    )
    assert "예기치" not in err and "unexpected" not in err


def test_a_journal_broken_when_an_outcome_is_added_is_set_aside_not_written_over(
    tmp_path: Path, state_url: str
) -> None:
    """A run that loses the server and finds the journal broken keeps the broken file aside
    (and says so) and starts a new journal with its outcome: nothing is written over."""
    settings = _settings(tmp_path, [hex_key()], state_url)
    journal = journal_path(settings)
    journal.parent.mkdir(parents=True)
    journal.write_bytes(b'{"schema": 1, "records": [')
    facts = _facts(settings, 0, success=True)
    broken = append_journal(journal, facts)
    assert broken is not None and broken.why == "corrupt" and broken.moved_to is not None
    assert broken.moved_to.read_bytes() == b'{"schema": 1, "records": ['
    assert json.loads(journal.read_text(encoding="utf-8"))["records"] == [facts]


def test_the_next_run_replays_the_journal_and_says_how_many_outcomes(
    isolated: Path, state_url: str
) -> None:
    """Outcomes a lost server left in the journal reach the shared pool at the next command,
    which says so in one line (Korean by default, English with --lang en)."""
    keys = [hex_key(), hex_key()]
    env = env_for(keys, KTO_STATE_URL=state_url)
    settings = _settings(isolated, keys, state_url)
    journal = _journal(isolated)
    dead = {"cause": "not_registered", "code": "30"}
    append_journal(journal, _facts(settings, 0, failed=True, errors_add=1, deactivate=dead))
    append_journal(journal, _facts(settings, 1, success=True))
    code, out, err = invoke("status", "--json", env=env)
    assert code == 0
    assert [row["state"] for row in json.loads(out)["keys"]] == ["deactivated", "active"]
    assert err == (
        f"🔁 replayed 2 call outcome(s) from the shared journal {journal} onto the shared key "
        f"pool at {state_url}\n"
    )
    assert not journal.exists()
    append_journal(journal, _facts(settings, 1, success=True))
    code, _, err = invoke("status", env={**env, "KTO_LANG": "ko"})
    assert code == 0
    assert err == (
        f"🔁 공유 풀 저널 {journal}에 남아 있던 호출 결과 1건을 공유 키 풀 {state_url}에 "
        "반영했습니다\n"
    )
    assert invoke("status", env=env)[2] == ""  # replayed once: nothing more to say
