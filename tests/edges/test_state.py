"""The JSON state cache on real files: creation, round trip, secrecy, corruption, atomicity,
and two real processes sharing one file."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import re
import signal
import stat
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from conftest import START, base64_key, encoded, hex_key, make_policy
from test_files import read_only

from kto_keys.core.answers import Outcome
from kto_keys.core.clock import KST, FakeClock
from kto_keys.core.codes import OutcomeKind, lookup
from kto_keys.core.errors import FileAccessError
from kto_keys.core.keys import ServiceKey, parse_keys
from kto_keys.core.operations import Operation
from kto_keys.core.pool import MAX_PAUSE, DeactivationCause, ErrorRecord, KeyPool, KeyState, Lease
from kto_keys.edges.atomic import atomic_open, atomic_write_text
from kto_keys.edges.state import (
    CLOCK_SKEW,
    DEFAULT_MAX_WAIT,
    SCHEMA_VERSION,
    StateCache,
    state_from_dict,
    state_to_dict,
)

OP = Operation.LIST
OTHER = Operation.DETAIL_INTRO
SUCCESS = Outcome(OutcomeKind.SUCCESS, "0000")
FAULT = Outcome(OutcomeKind.TRANSIENT, "04", "HTTP_ERROR", "SERVICE ERROR - HTTP ROUTING ERROR")
WORKER = Path(__file__).with_name("cache_worker.py")
ASIDE = re.compile(r"^api_key_cache\.json\.(corrupt|invalid|unreadable)-\d{8}T\d{6}$")


def coded(code: str) -> Outcome:
    """The outcome of an answer that carried a gateway code."""
    row = lookup(code)
    assert row is not None
    return Outcome(row.kind, row.code, row.symbol, f"{row.code} {row.symbol}")


@pytest.fixture
def cache_path(tmp_path: Path) -> Path:
    """Where the cache lives: a folder that does not exist yet."""
    return tmp_path / "data" / "cache" / "api_key_cache.json"


def make_keys(*raws: str) -> tuple[ServiceKey, ...]:
    """Keys as the settings would parse them."""
    return parse_keys(",".join(raws), "environment").keys


def open_pool(cache: StateCache, keys: tuple[ServiceKey, ...], clock: FakeClock) -> KeyPool:
    """What a run does at start: load the cache, build the pool on it."""
    loaded = cache.load(clock.now())
    return KeyPool(keys, make_policy(), clock.now(), loaded.states)


def call(pool: KeyPool, clock: FakeClock, outcome: Outcome, operation: str = OP) -> Lease:
    """Acquire a key and record an answer."""
    lease = pool.acquire(operation, clock.now())
    assert isinstance(lease, Lease), lease
    pool.record_outcome(lease, outcome, clock.now())
    pool.release_reservations()  # as at the end of a run: the file counts exactly
    return lease


def document(path: Path) -> dict:
    """The cache file as JSON."""
    return json.loads(path.read_text(encoding="utf-8"))


def temporaries(folder: Path) -> list[str]:
    """Leftover temporary files of an atomic write."""
    return [path.name for path in folder.iterdir() if path.name.endswith(".tmp")]


# --- creation and round trip ------------------------------------------------------------------
def test_first_sync_creates_the_folder_and_the_file(cache_path, clock):
    """On first use the folder and the file appear, private (0600), with the schema and the key."""
    cache = StateCache(cache_path)
    keys = make_keys(hex_key())
    pool = open_pool(cache, keys, clock)
    assert not cache_path.exists()
    call(pool, clock, SUCCESS)
    cache.sync(pool)
    saved = document(cache_path)
    assert saved["schema"] == SCHEMA_VERSION
    assert list(saved["keys"]) == [keys[0].fingerprint]
    assert saved["keys"][keys[0].fingerprint]["usage"]["ops"] == {OP: 1}
    assert temporaries(cache_path.parent) == []
    assert stat.S_IMODE(cache_path.stat().st_mode) == 0o600


def test_loading_a_missing_cache_gives_fresh_state_without_a_notice(cache_path):
    """No file yet is not an error."""
    loaded = StateCache(cache_path).load(START)
    assert (loaded.states, loaded.notice, loaded.was_lost) == ({}, None, False)


def full_state(fingerprint: str, now: datetime) -> KeyState:
    """A key state with every field set away from its default."""
    return KeyState(
        fingerprint=fingerprint,
        first_seen=now - timedelta(days=3),
        usage_day=now.astimezone(KST).date(),
        usage={OP: 17, OTHER: 4},
        total_calls=321,
        total_successes=300,
        total_errors=21,
        consecutive_errors=2,
        last_error=ErrorRecord("22", "LIMITED_NUMBER", "일일 한도 초과", now, "daily_limit"),
        last_success=now - timedelta(minutes=1),
        latency_ms_avg=123.25,
        error_wait_until=now + timedelta(minutes=10),
        pause_until=now + timedelta(seconds=3),
        cooldowns={OTHER: now + timedelta(hours=1)},
        deactivated_at=now - timedelta(minutes=5),
        deactivation_cause=DeactivationCause.NOT_ACTIVATED_YET,
        deactivation_code="30",
        deactivation_reason="kept for the web team",
        disabled_by_hand=True,
        standing_in_for="a" * 16,
        standing_in_since=now - timedelta(minutes=2),
        standing_in_cause=DeactivationCause.EXPIRED,
        expiry_seen=date(2026, 11, 1),
    )


def test_full_state_sets_every_field(clock):
    """The round-trip fixture leaves no field at its default, so every field is checked."""
    state = full_state("f" * 16, clock.now())
    default = KeyState("f" * 16, state.first_seen)
    unset = [
        field.name
        for field in dataclasses.fields(KeyState)
        # `reserved` lives in memory only: the file counts it within the usage (see below).
        if field.name not in ("fingerprint", "first_seen", "reserved")
        and getattr(state, field.name) == getattr(default, field.name)
    ]
    assert unset == []


def test_every_field_survives_a_sync_and_a_load(cache_path, clock):
    """What one run saves, the next run loads unchanged, field by field."""
    key = make_keys(base64_key())[0]
    saved = full_state(key.fingerprint, clock.now())
    pool = KeyPool([key], make_policy(), clock.now(), {key.fingerprint: dataclasses.replace(saved)})
    StateCache(cache_path).sync(pool)
    loaded = StateCache(cache_path).load(START)
    assert loaded.notice is None
    assert loaded.states == {key.fingerprint: saved}


def test_state_dict_round_trip_is_exact(clock):
    """state_from_dict reads back exactly what state_to_dict wrote, through JSON."""
    state = full_state("0123456789abcdef", clock.now())
    assert state_from_dict(json.loads(json.dumps(state_to_dict(state)))) == state


def legacy_document(path: Path, now: datetime, **fields: object) -> str:
    """Write a cache file as versions before the typed cause wrote it; return the fingerprint."""
    state = state_to_dict(KeyState("0123456789abcdef", now - timedelta(days=3)))
    del state["deactivation_cause"]
    state.update({"deactivated_at": now.isoformat(), **fields})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"schema": SCHEMA_VERSION, "keys": {state["fingerprint"]: state}}))
    return str(state["fingerprint"])


@pytest.mark.parametrize(
    "fields, cause, reason",
    [
        pytest.param(
            {"deactivation_code": "31", "deactivation_reason": "31 DEADLINE_HAS_EXPIRED_ERROR"},
            DeactivationCause.EXPIRED,
            None,
            id="31-expired",
        ),
        pytest.param(
            {"deactivation_code": "20", "deactivation_reason": "20 SERVICE_ACCESS_DENIED_ERROR"},
            DeactivationCause.NOT_APPROVED,
            None,
            id="20-not-approved",
        ),
        pytest.param(
            {
                "deactivation_code": "30",
                "deactivation_reason": "30 SERVICE_KEY_IS_NOT_REGISTERED_ERROR (may not be activated yet)",
            },
            DeactivationCause.NOT_ACTIVATED_YET,
            None,
            id="30-with-the-activation-hint",
        ),
        pytest.param(
            {
                "deactivation_code": "30",
                "deactivation_reason": "30 SERVICE_KEY_IS_NOT_REGISTERED_ERROR",
            },
            DeactivationCause.NOT_REGISTERED,
            None,
            id="30-without-it",
        ),
        pytest.param(
            {"deactivation_code": "04", "deactivation_reason": "5 consecutive errors"},
            DeactivationCause.TOO_MANY_ERRORS,
            None,
            id="errors-in-a-row-with-a-code",
        ),
        pytest.param(
            {"deactivation_code": None, "deactivation_reason": "5 consecutive errors"},
            DeactivationCause.TOO_MANY_ERRORS,
            None,
            id="errors-in-a-row-without-a-code",
        ),
        pytest.param(
            {"deactivation_reason": "kept for the web team", "disabled_by_hand": True},
            None,
            "kept for the web team",
            id="by-hand-keeps-the-words",
        ),
        pytest.param(
            {
                "deactivation_code": "32",
                "deactivation_reason": "kept for the web team",
                "disabled_by_hand": True,
            },
            DeactivationCause.IP_RESTRICTED,
            "kept for the web team",
            id="by-hand-after-a-refusal",
        ),
    ],
)
def test_cache_written_before_the_typed_cause_still_loads_with_a_cause(
    cache_path, clock, fields, cause, reason
):
    """Old files have a code and a sentence: the cause comes from the code, a person's words stay."""
    fingerprint = legacy_document(cache_path, clock.now(), **fields)
    loaded = StateCache(cache_path).load(START)
    assert loaded.notice is None
    state = loaded.states[fingerprint]
    assert (state.deactivation_cause, state.deactivation_reason) == (cause, reason)


def test_a_cause_this_version_does_not_know_falls_back_to_the_code(cache_path, clock):
    """A newer version's cause is not corruption: the stored code still says why."""
    fingerprint = legacy_document(
        cache_path, clock.now(), deactivation_cause="lost_at_sea", deactivation_code="31"
    )
    loaded = StateCache(cache_path).load(START)
    assert loaded.notice is None
    assert loaded.states[fingerprint].deactivation_cause is DeactivationCause.EXPIRED


# --- secrecy -----------------------------------------------------------------------------------
def test_cache_file_never_holds_any_part_of_a_key_beyond_the_preview(cache_path, clock):
    """No raw or encoded key, nor any 11 characters of one, is ever written to the cache."""
    hex_raw, b64_raw = hex_key(), base64_key()
    keys = make_keys(hex_raw, encoded(b64_raw), hex_key())
    cache = StateCache(cache_path)
    pool = open_pool(cache, keys, clock)
    for outcome in (SUCCESS, FAULT, coded("22"), coded("30"), SUCCESS, coded("23")):
        call(pool, clock, outcome)
    pool.deactivate_by_hand(keys[2], "by hand", clock.now())
    cache.sync(pool)
    text = cache_path.read_text(encoding="utf-8")
    for raw in (hex_raw, b64_raw, keys[2].reveal()):
        for form in (raw, encoded(raw)):
            parts = [form[i : i + 11] for i in range(len(form) - 10)]
            assert [part for part in parts if part in text] == []
    assert all(key.fingerprint in text for key in keys)


# --- corruption --------------------------------------------------------------------------------
def valid_cache_text(clock: FakeClock) -> str:
    """A real cache file's text, for truncating."""
    state = full_state("0123456789abcdef", clock.now())
    return json.dumps({"schema": SCHEMA_VERSION, "keys": {state.fingerprint: state_to_dict(state)}})


CORRUPT = [
    pytest.param(lambda _: b"this is not json", id="garbage-text"),
    pytest.param(lambda _: b"\xff\xfe\x00\x81\x00binary garbage\x9c", id="binary-garbage"),
    pytest.param(lambda _: b"", id="empty-file"),
    pytest.param(lambda clock: valid_cache_text(clock)[:150].encode(), id="truncated-json"),
    pytest.param(lambda _: b'{"schema": 999, "keys": {}}', id="unknown-schema"),
    pytest.param(lambda _: b'{"keys": {}}', id="no-schema"),
    pytest.param(lambda _: b"[1, 2, 3]", id="json-list"),
    pytest.param(lambda _: b'{"schema": 1, "keys": [1, 2]}', id="keys-not-a-table"),
    pytest.param(lambda _: b'{"schema": 1}', id="keys-missing"),
    pytest.param(
        lambda _: b'{"schema": 1, "keys": {"ab": {"fingerprint": "ab"}}}', id="state-incomplete"
    ),
    pytest.param(
        lambda _: b'{"schema": 1, "keys": {"ab": {"fingerprint": "ab", "first_seen": "x"}}}',
        id="state-bad-time",
    ),
    pytest.param(lambda _: b'{"schema": 1, "keys": {"ab": "text"}}', id="state-not-a-table"),
]


@pytest.mark.parametrize("content", CORRUPT)
def test_corrupt_cache_is_set_aside_with_a_one_line_notice(cache_path, clock, content):
    """A corrupt file is moved under a timestamped name, reported in one line; state is fresh."""
    cache_path.parent.mkdir(parents=True)
    original = content(clock)
    cache_path.write_bytes(original)
    loaded = StateCache(cache_path).load(START)
    assert loaded.states == {}
    assert loaded.was_lost
    assert loaded.notice is not None
    assert (loaded.notice.why, loaded.notice.path) == ("corrupt", cache_path)
    assert not cache_path.exists()
    [aside] = [path for path in cache_path.parent.iterdir() if ASIDE.match(path.name)]
    assert loaded.notice.moved_to == aside
    assert aside.read_bytes() == original


@pytest.mark.parametrize("content", CORRUPT[:4])
def test_run_carries_on_after_a_corrupt_cache(cache_path, clock, content):
    """After setting the corrupt file aside, the run saves a fresh, valid file."""
    cache_path.parent.mkdir(parents=True)
    cache_path.write_bytes(content(clock))
    cache = StateCache(cache_path)
    keys = make_keys(hex_key())
    pool = open_pool(cache, keys, clock)
    call(pool, clock, SUCCESS)
    cache.sync(pool)
    again = StateCache(cache_path).load(START)
    assert again.notice is None
    assert again.states[keys[0].fingerprint].usage == {OP: 1}


def test_cache_corrupted_during_a_run_is_set_aside_at_the_next_sync(cache_path, clock):
    """A file broken between load and sync is set aside too, and our state is saved."""
    cache = StateCache(cache_path)
    keys = make_keys(hex_key())
    pool = open_pool(cache, keys, clock)
    call(pool, clock, SUCCESS)
    cache.sync(pool)
    cache_path.write_text('{"schema": 1, "keys": {', encoding="utf-8")
    call(pool, clock, SUCCESS)
    cache.sync(pool)
    assert cache.notice is not None
    assert StateCache(cache_path).load(START).states[keys[0].fingerprint].usage == {OP: 2}


def test_unreadable_cache_is_set_aside_not_fatal(cache_path):
    """A cache path that cannot be read as a file is reported and moved aside."""
    cache_path.mkdir(parents=True)
    loaded = StateCache(cache_path).load(START)
    assert loaded.was_lost
    assert loaded.notice is not None and loaded.notice.why == "unreadable"
    assert loaded.notice.detail
    assert not cache_path.exists()


# --- atomicity ---------------------------------------------------------------------------------
def test_failed_sync_leaves_the_old_file_whole_and_no_temporary(cache_path, clock, monkeypatch):
    """A write that fails half-way (fsync error) keeps the old file, cleans up its twin, and
    says which file and why."""
    cache = StateCache(cache_path)
    keys = make_keys(hex_key())
    pool = open_pool(cache, keys, clock)
    call(pool, clock, SUCCESS)
    cache.sync(pool)
    before = cache_path.read_bytes()

    def broken_fsync(descriptor: int) -> None:
        raise OSError(errno.EIO, "simulated disk failure")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    call(pool, clock, SUCCESS)
    with pytest.raises(FileAccessError) as caught:
        cache.sync(pool)
    assert (caught.value.path, caught.value.reason, caught.value.code) == (
        cache_path,
        "simulated disk failure",
        "EIO",
    )
    assert cache_path.read_bytes() == before
    assert temporaries(cache_path.parent) == []
    monkeypatch.undo()
    cache.sync(pool)
    assert StateCache(cache_path).load(START).states[keys[0].fingerprint].usage == {OP: 2}


def test_interrupted_atomic_write_keeps_the_old_content(tmp_path):
    """An exception in the middle of writing leaves the target as it was."""
    target = tmp_path / "file.json"
    atomic_write_text(target, '{"old": true}')
    with pytest.raises(RuntimeError), atomic_open(target) as handle:
        handle.write('{"new": ')
        raise RuntimeError("killed mid-write")
    assert target.read_text(encoding="utf-8") == '{"old": true}'
    assert temporaries(tmp_path) == []


def test_atomic_write_creates_folders_and_replaces_whole(tmp_path):
    """The atomic write makes missing folders and swaps the content in one step."""
    target = tmp_path / "a" / "b" / "file.txt"
    atomic_write_text(target, "first")
    atomic_write_text(target, "second, longer")
    assert target.read_text(encoding="utf-8") == "second, longer"
    assert temporaries(target.parent) == []


def worker_env(keys: list[str]) -> dict[str, str]:
    """The environment of a worker process: the fake keys and the project on its path."""
    env = dict(os.environ)
    env["KTO_TEST_KEYS"] = ",".join(keys)
    return env


def test_kill_during_syncs_leaves_a_readable_file(cache_path):
    """`kill -9` at a random moment between and during saves leaves a loadable cache."""
    raws = [hex_key(), base64_key()]
    worker = subprocess.Popen(
        [sys.executable, str(WORKER), "loop", str(cache_path)],
        stdout=subprocess.PIPE,
        text=True,
        env=worker_env(raws),
    )
    try:
        assert worker.stdout is not None
        synced = [int(worker.stdout.readline()) for _ in range(25)][-1]
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    loaded = StateCache(cache_path).load(START)
    assert loaded.notice is None
    assert sum(state.total_calls for state in loaded.states.values()) >= synced


# --- sharing between processes -----------------------------------------------------------------
def test_two_processes_add_up_their_counts_exactly(cache_path):
    """Two real processes syncing 200 calls each to one file leave exactly 400 counted."""
    raws = [hex_key(), base64_key()]
    calls = 200
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), "count", str(cache_path), str(calls)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=worker_env(raws),
        )
        for _ in range(2)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None
            assert worker.stdout.readline().strip() == "ready"
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        for worker in workers:
            out, _ = worker.communicate(timeout=60)
            assert worker.returncode == 0
            assert out.strip() == "done"
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    states = StateCache(cache_path).load(START).states.values()
    assert sum(state.total_calls for state in states) == 2 * calls
    assert sum(state.total_successes for state in states) == 2 * calls
    for operation in (OP, OTHER):
        assert sum(state.usage.get(operation, 0) for state in states) == calls


def test_two_caches_in_one_process_merge_their_counts(cache_path, clock):
    """Interleaved syncs of two runs add their calls; neither undoes the other."""
    keys = make_keys(hex_key(), hex_key())
    first_cache, second_cache = StateCache(cache_path), StateCache(cache_path)
    first = open_pool(first_cache, keys, clock)
    second = open_pool(second_cache, keys, clock)
    for _ in range(3):
        call(first, clock, SUCCESS)
    first_cache.sync(first)
    for _ in range(5):
        call(second, clock, SUCCESS)
    second_cache.sync(second)
    call(first, clock, SUCCESS, OTHER)
    call(first, clock, SUCCESS)
    first_cache.sync(first)
    second_cache.sync(second)
    states = StateCache(cache_path).load(START).states.values()
    assert sum(state.usage.get(OP, 0) for state in states) == 9
    assert sum(state.usage.get(OTHER, 0) for state in states) == 1
    assert sum(state.total_calls for state in states) == 10
    assert sum(first.state(key).total_calls for key in keys) == 10


def test_a_deactivation_in_one_run_survives_another_runs_usage_sync(cache_path, clock):
    """One run's deactivation and cool-down are kept when another run saves only usage."""
    keys = make_keys(hex_key(), hex_key())
    first_cache, second_cache = StateCache(cache_path), StateCache(cache_path)
    first = open_pool(first_cache, keys, clock)
    second = open_pool(second_cache, keys, clock)
    first.record_outcome(Lease(keys[0], OP), coded("31"), clock.now())
    first.record_outcome(Lease(keys[1], OTHER), coded("22"), clock.now())
    first_cache.sync(first)
    call(second, clock, SUCCESS)
    second_cache.sync(second)
    loaded = StateCache(cache_path).load(START).states
    assert loaded[keys[0].fingerprint].deactivation_code == "31"
    assert OTHER in loaded[keys[1].fingerprint].cooldowns
    assert second.state(keys[0]).is_deactivated


def test_reordered_keys_keep_their_history_and_new_keys_start_fresh(cache_path, clock):
    """History follows the key, not its position; an unknown key starts at zero."""
    old_first, old_second, newcomer = hex_key(), base64_key(), hex_key()
    cache = StateCache(cache_path)
    keys = make_keys(old_first, old_second)
    pool = open_pool(cache, keys, clock)
    for _ in range(4):
        pool.record_outcome(Lease(keys[1], OP), SUCCESS, clock.now())
    pool.record_outcome(Lease(keys[0], OP), coded("31"), clock.now())
    cache.sync(pool)
    reordered = make_keys(newcomer, encoded(old_second))
    later = open_pool(StateCache(cache_path), reordered, clock)
    assert reordered[1].index == 1
    assert later.state(reordered[1]).total_successes == 4
    assert later.state(reordered[0]).total_calls == 0
    assert not later.state(reordered[0]).is_deactivated
    assert set(later.states()) == {key.fingerprint for key in reordered}


# --- the time of a set-aside file ---------------------------------------------------------------
def test_a_corrupt_file_is_stamped_with_the_time_the_run_gives_in_korea_time(cache_path):
    """The cache reads no clock: the set-aside name carries load(now)'s moment, in KST."""
    cache_path.parent.mkdir(parents=True)
    cache_path.write_text("{not json", encoding="utf-8")
    loaded = StateCache(cache_path).load(datetime(2026, 11, 24, 1, 2, 3, tzinfo=UTC))
    assert loaded.notice is not None
    assert (cache_path.parent / "api_key_cache.json.corrupt-20261124T100203").exists()


def test_a_file_broken_again_in_the_same_run_keeps_both_copies(cache_path, clock):
    """A second set-aside with the same stamp gets a suffix instead of replacing the first."""
    cache_path.parent.mkdir(parents=True)
    cache_path.write_text("{not json", encoding="utf-8")
    cache = StateCache(cache_path)
    pool = open_pool(cache, make_keys(hex_key()), clock)
    cache_path.write_text("[broken again", encoding="utf-8")
    cache.sync(pool)
    aside = sorted(path.name for path in cache_path.parent.iterdir() if "corrupt" in path.name)
    assert aside == [
        "api_key_cache.json.corrupt-20261124T100000",
        "api_key_cache.json.corrupt-20261124T100000-2",
    ]
    assert StateCache(cache_path).load(START).notice is None


def test_loaded_times_are_aware(cache_path, clock):
    """Times come back timezone-aware, comparable with the clock's."""
    cache = StateCache(cache_path)
    pool = open_pool(cache, make_keys(hex_key()), clock)
    call(pool, clock, FAULT)
    cache.sync(pool)
    [state] = StateCache(cache_path).load(START).states.values()
    assert state.error_wait_until is not None
    assert state.error_wait_until - datetime(2026, 11, 24, 1, 0, tzinfo=UTC) == timedelta(
        minutes=10
    )


def test_mid_run_the_file_counts_the_reserved_block_and_memory_the_real_calls(cache_path, clock):
    """Saved before a block's first call leaves, the file is ahead by at most a block; the pool
    keeps counting real calls, and a clean end gives the rest back."""
    cache = StateCache(cache_path)
    keys = make_keys(hex_key())
    pool = open_pool(cache, keys, clock)
    for _ in range(3):
        lease = pool.acquire(OP, clock.now())
        assert isinstance(lease, Lease)
        if lease.reserved:
            cache.sync(pool)
        pool.record_outcome(lease, SUCCESS, clock.now())
    state = pool.state(keys[0])
    assert document(cache_path)["keys"][keys[0].fingerprint]["usage"]["ops"] == {OP: 5}
    assert state.usage == {OP: 3}
    cache.sync(pool)
    assert pool.state(keys[0]).usage == {OP: 3}
    pool.release_reservations()
    cache.sync(pool)
    assert document(cache_path)["keys"][keys[0].fingerprint]["usage"]["ops"] == {OP: 3}


# --- values no version of this tool writes -------------------------------------------------------
FINGERPRINT = "0123456789abcdef"


def write_state(path: Path, now: datetime, **raw_json: str) -> None:
    """A cache file of one valid key state whose named fields hold the given JSON text as is
    (so that `1e400`, `NaN` and other values json.dumps would not write can be put in)."""
    state = state_to_dict(full_state(FINGERPRINT, now))
    text = json.dumps({"schema": SCHEMA_VERSION, "keys": {FINGERPRINT: state}})
    for name, value in raw_json.items():
        text = text.replace(f'"{name}": ', f'"{name}": {value}, "{name}_was": ', 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


INVALID = [
    pytest.param({"total_calls": "1e400"}, "total_calls", id="total-1e400"),
    pytest.param({"total_calls": str(10**30)}, "total_calls", id="total-10e30"),
    pytest.param({"total_errors": "-1"}, "total_errors", id="total-negative"),
    pytest.param({"total_successes": "12.5"}, "total_successes", id="total-fraction"),
    pytest.param({"consecutive_errors": "1e400"}, "consecutive_errors", id="consecutive-1e400"),
    pytest.param(
        {"usage": '{"day": "2026-11-24", "ops": {"x": -1000000}}'}, "usage", id="usage-neg"
    ),
    pytest.param({"usage": '{"day": "2026-11-24", "ops": {"x": 1e30}}'}, "usage", id="usage-1e30"),
    pytest.param(
        {"usage": f'{{"day": null, "ops": {{"x": {10**30}}}}}'}, "usage", id="usage-10e30"
    ),
    pytest.param({"usage": '{"day": "2026-11-24", "ops": {"x": true}}'}, "usage", id="usage-bool"),
    pytest.param({"usage": '{"day": "1970-01-01", "ops": {}}'}, "usage", id="usage-day-1970"),
    pytest.param({"latency_ms_avg": "NaN"}, "latency_ms_avg", id="latency-nan"),
    pytest.param({"latency_ms_avg": "1e400"}, "latency_ms_avg", id="latency-infinite"),
    pytest.param({"latency_ms_avg": "-3"}, "latency_ms_avg", id="latency-negative"),
    pytest.param({"first_seen": '"1999-12-31T23:59:59+00:00"'}, "first_seen", id="before-2000"),
    pytest.param({"pause_until": '"9999-12-31T23:59:59+00:00"'}, "pause_until", id="year-9999"),
    pytest.param(
        {"deactivated_at": '"9999-12-31T23:59:59-12:00"'}, "deactivated_at", id="past-year-9999"
    ),
    pytest.param({"cooldowns": '{"x": "2150-01-01T00:00:00+09:00"}'}, "cooldowns", id="cool-2150"),
    pytest.param({"last_success": "12345"}, "last_success", id="time-a-number"),
    pytest.param({"deactivation_code": "31"}, "deactivation_code", id="code-a-number"),
    pytest.param({"fingerprint": '"fedcba9876543210"'}, "fingerprint", id="filed-under-another"),
]


@pytest.mark.parametrize("fields, field", INVALID)
def test_a_value_no_version_writes_sets_the_file_aside_as_invalid(cache_path, fields, field):
    """Out-of-range counts, non-finite numbers, times outside 2000-2099: set aside, one notice."""
    write_state(cache_path, START, **fields)
    original = cache_path.read_bytes()
    loaded = StateCache(cache_path).load(START)
    assert loaded.states == {}
    assert loaded.notice is not None
    assert (loaded.notice.why, loaded.notice.detail) == ("invalid", field)
    [aside] = [path for path in cache_path.parent.iterdir() if ASIDE.match(path.name)]
    assert aside.name.startswith("api_key_cache.json.invalid-")
    assert loaded.notice.moved_to == aside and aside.read_bytes() == original
    assert not cache_path.exists()


def test_the_file_written_by_this_version_is_valid(cache_path):
    """The validation's own fixture: with nothing changed, the file loads as it is."""
    write_state(cache_path, START)
    loaded = StateCache(cache_path).load(START)
    assert loaded.notice is None and list(loaded.states) == [FINGERPRINT]


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"total_calls": "1e400"}, id="1e400"),
        pytest.param({"pause_until": '"9999-12-31T23:59:59+00:00"'}, id="year-9999"),
    ],
)
@pytest.mark.parametrize("command", [["status"], ["health"], ["disable", "0"]])
def test_every_command_runs_on_after_an_invalid_cache_with_one_line(
    clean_env, clock, fields, command
):
    """What used to crash every command with exit 1 is set aside with one line; the command runs."""
    from typer.testing import CliRunner

    from kto_keys.cli.app import app
    from kto_keys.cli.commands import CliOptions

    write_state(clean_env / "data" / "cache" / "api_key_cache.json", START, **fields)
    result = CliRunner().invoke(
        app,
        command,
        env={"KTO_API_KEY": hex_key(), "KTO_LANG": "en"},
        catch_exceptions=False,
        obj=CliOptions(clock=clock),
    )
    assert result.exit_code in (0, 3), result.stderr  # health: unknown, the state was lost
    [line] = result.stderr.splitlines()
    assert line.startswith(f"⚠️  key cache {clean_env}/data/cache/api_key_cache.json was invalid (")
    assert "moved to api_key_cache.json.invalid-20261124T100000" in line


# --- times too far ahead: cut to what the policy makes ----------------------------------------------
def loaded_state(cache_path: Path, cache: StateCache | None = None, **fields: str) -> KeyState:
    """Write one state with the given JSON fields, load it at START, return it."""
    write_state(cache_path, START, **fields)
    loaded = (cache or StateCache(cache_path)).load(START)
    assert loaded.notice is None
    return loaded.states[FINGERPRINT]


def json_time(when: datetime) -> str:
    """A time as the cache file holds it, quoted."""
    return json.dumps(when.isoformat())


def test_a_pause_until_2036_ends_within_the_longest_pause(cache_path):
    """A per-second-limit pause stored for years is cut to MAX_PAUSE: no wait of years."""
    state = loaded_state(
        cache_path,
        pause_until='"2036-01-01T00:00:00+09:00"',
        disabled_by_hand="false",
        deactivated_at="null",
        error_wait_until="null",
    )
    assert state.pause_until == START + MAX_PAUSE
    keys = [ServiceKey(0, FINGERPRINT, "abcdef0123...", "environment", "x" * 64)]
    pool = KeyPool(keys, make_policy(), START, {FINGERPRINT: dataclasses.replace(state)})
    availability = pool.availability(keys[0], OP, START)
    assert availability.until is not None and availability.until <= START + MAX_PAUSE


@pytest.mark.parametrize(
    "max_wait",
    [pytest.param(None, id="default-a-day"), pytest.param(timedelta(hours=2), id="policy-2h")],
)
def test_error_waits_and_cool_downs_end_within_the_policys_longest_wait(cache_path, max_wait):
    """Waits stored a month or ten years ahead end at load(now) + max_wait (a day by default)."""
    cache = StateCache(cache_path) if max_wait is None else StateCache(cache_path, 30.0, max_wait)
    longest = max_wait or DEFAULT_MAX_WAIT
    state = loaded_state(
        cache_path,
        cache,
        error_wait_until=json_time(START + timedelta(days=30)),
        cooldowns=json.dumps({OTHER: (START + timedelta(days=3650)).isoformat()}),
    )
    assert state.error_wait_until == START + longest
    assert state.cooldowns == {OTHER: START + longest}


AHEAD = START + timedelta(days=365)


@pytest.mark.parametrize(
    "field, written, cut",
    [
        pytest.param("first_seen", AHEAD, START, id="first-seen"),
        pytest.param("last_success", AHEAD, START, id="last-success"),
        pytest.param("deactivated_at", AHEAD, START, id="deactivated-at"),
        pytest.param("error_wait_until", AHEAD, START + DEFAULT_MAX_WAIT, id="error-wait"),
        pytest.param("pause_until", AHEAD, START + MAX_PAUSE, id="pause"),
    ],
)
def test_one_time_too_far_ahead_is_cut_alone(cache_path, field, written, cut):
    """Any one time beyond what load(now) allows is enough to cut it, and only it is changed."""
    as_written = loaded_state(cache_path)
    state = loaded_state(cache_path, **{field: json_time(written)})
    assert getattr(state, field) == cut
    assert dataclasses.replace(state, **{field: getattr(as_written, field)}) == as_written


def test_one_cool_down_too_far_ahead_is_cut_alone(cache_path):
    """A cool-down alone beyond load(now) + the longest wait is cut; the others stay."""
    cooldowns = {OP: START.isoformat(), OTHER: AHEAD.isoformat()}
    state = loaded_state(cache_path, cooldowns=json.dumps(cooldowns))
    assert state.cooldowns == {OP: START, OTHER: START + DEFAULT_MAX_WAIT}


def test_an_error_stamped_too_far_ahead_alone_is_read_as_now(cache_path):
    """The last error's moment alone beyond load(now) + the skew is read as now."""
    error = {"code": "22", "symbol": "X", "message": "", "at": AHEAD.isoformat()}
    state = loaded_state(cache_path, last_error=json.dumps(error))
    assert state.last_error is not None and state.last_error.at == START


def test_moments_that_passed_but_lie_ahead_are_read_as_now(cache_path):
    """A deactivation, first sight, success or error stamped a year ahead counts from now."""
    ahead = json_time(START + timedelta(days=365))
    error = {
        "code": "22",
        "symbol": "X",
        "message": "",
        "at": (START + timedelta(days=365)).isoformat(),
    }
    state = loaded_state(
        cache_path,
        first_seen=ahead,
        last_success=ahead,
        deactivated_at=ahead,
        last_error=json.dumps(error),
    )
    assert state.first_seen == state.last_success == state.deactivated_at == START
    assert state.last_error is not None and state.last_error.at == START


@pytest.mark.parametrize(
    "ahead, kept",
    [
        pytest.param(timedelta(minutes=5), True, id="minutes-ahead-kept"),
        pytest.param(CLOCK_SKEW, True, id="the-skew-kept"),
        pytest.param(CLOCK_SKEW + timedelta(seconds=1), False, id="beyond-read-as-now"),
    ],
)
def test_another_clock_up_to_the_skew_ahead_is_believed(cache_path, ahead, kept):
    """A moment that passed up to CLOCK_SKEW (an hour) after load(now) is kept as written;
    later, it is read as now."""
    state = loaded_state(cache_path, deactivated_at=json_time(START + ahead))
    assert state.deactivated_at == (START + ahead if kept else START)


@pytest.mark.parametrize(
    "day, kept",
    [
        pytest.param("2026-11-25", True, id="tomorrow-kept"),
        pytest.param("2026-11-26", False, id="after-tomorrow-invalid"),
        pytest.param("2030-05-05", False, id="years-ahead-invalid"),
    ],
)
def test_a_usage_day_after_tomorrow_sets_the_file_aside(cache_path, day, kept):
    """The later day's usage wins every merge, so a day years ahead would keep a key spent until
    then: a day after tomorrow (Korea time) is refused as invalid, not cut."""
    write_state(cache_path, START, usage=f'{{"day": "{day}", "ops": {{"x": 7}}}}')
    loaded = StateCache(cache_path).load(START)
    if kept:
        assert loaded.notice is None
        assert loaded.states[FINGERPRINT].usage == {"x": 7}
    else:
        assert loaded.notice is not None
        assert (loaded.notice.why, loaded.notice.detail) == ("invalid", "usage")


def test_a_cut_wait_is_written_back_cut(cache_path, clock):
    """After a load that cut a wait, the next sync saves the cut value, not the stored one."""
    write_state(cache_path, START, pause_until='"2036-01-01T00:00:00+09:00"')
    cache = StateCache(cache_path)
    loaded = cache.load(START)
    key = ServiceKey(0, FINGERPRINT, "abcdef0123...", "environment", "x" * 64)
    pool = KeyPool([key], make_policy(), START, loaded.states)
    cache.sync(pool)
    saved = document(cache_path)["keys"][FINGERPRINT]["pause_until"]
    assert datetime.fromisoformat(saved) == START + MAX_PAUSE


def test_sync_with_now_cuts_what_another_process_wrote_since(cache_path, clock):
    """A wait written too far ahead by another process after our load is cut at our next sync."""
    keys = make_keys(hex_key())
    cache = StateCache(cache_path)
    pool = open_pool(cache, keys, clock)
    cache.sync(pool)
    data = document(cache_path)
    data["keys"][keys[0].fingerprint]["pause_until"] = "2036-01-01T00:00:00+09:00"
    cache_path.write_text(json.dumps(data), encoding="utf-8")
    cache.sync(pool, now=START)
    assert pool.state(keys[0]).pause_until == START + MAX_PAUSE


# --- folders that refuse -------------------------------------------------------------------------
def saved_cache(cache_path: Path, clock: FakeClock) -> tuple[ServiceKey, ...]:
    """A cache file with one key that made one call, and no lock sidecar beside it."""
    keys = make_keys(hex_key())
    cache = StateCache(cache_path)
    pool = open_pool(cache, keys, clock)
    call(pool, clock, SUCCESS)
    cache.sync(pool)
    Path(str(cache_path) + ".lock").unlink(missing_ok=True)
    return keys


def test_a_read_only_folder_is_read_without_its_lock_and_without_a_word(cache_path, clock):
    """Where the lock sidecar cannot be made, the cache is still read; nothing is created."""
    keys = saved_cache(cache_path, clock)
    with read_only(cache_path.parent):
        loaded = StateCache(cache_path).load(START)
        assert loaded.notice is None
        assert loaded.states[keys[0].fingerprint].usage == {OP: 1}
        assert sorted(path.name for path in cache_path.parent.iterdir()) == [cache_path.name]


def test_a_corrupt_cache_in_a_read_only_folder_is_reported_and_left_in_place(cache_path):
    """It cannot be moved aside: the one line says so (no `moved to`), the state starts fresh."""
    cache_path.parent.mkdir(parents=True)
    cache_path.write_text("{not json", encoding="utf-8")
    with read_only(cache_path.parent):
        loaded = StateCache(cache_path).load(START)
    assert loaded.notice is not None
    assert (loaded.notice.why, loaded.notice.moved_to) == ("corrupt", None)
    assert cache_path.read_text(encoding="utf-8") == "{not json"


@pytest.mark.parametrize("lock_there", [True, False], ids=["lock-there", "lock-missing"])
def test_saving_into_a_read_only_folder_names_the_file_and_the_reason(
    cache_path, clock, lock_there
):
    """A save the folder refuses says which file could not be made (the lock or the cache's
    temporary twin) and why: one FileAccessError."""
    keys = saved_cache(cache_path, clock)
    cache = StateCache(cache_path)
    pool = open_pool(cache, keys, clock)
    lock = Path(str(cache_path) + ".lock")
    if not lock_there:
        lock.unlink()
    with read_only(cache_path.parent), pytest.raises(FileAccessError) as caught:
        cache.sync(pool)
    assert caught.value.path == (cache_path if lock_there else lock)
    assert caught.value.code in ("EACCES", "EPERM", "EROFS")


def test_loading_creates_no_folder(cache_path):
    """Reading a cache that does not exist yet leaves the disk as it was."""
    assert StateCache(cache_path).load(START).states == {}
    assert not cache_path.parent.exists()


def test_a_cache_path_under_a_file_loads_fresh_and_fails_to_save_in_one_error(tmp_path, clock):
    """A file where the data folder should be: nothing to read, and saving says ENOTDIR."""
    (tmp_path / "data").write_text("a file", encoding="utf-8")
    cache_path = tmp_path / "data" / "cache" / "api_key_cache.json"
    cache = StateCache(cache_path)
    pool = open_pool(cache, make_keys(hex_key()), clock)
    assert cache.notice is None
    with pytest.raises(FileAccessError) as caught:
        cache.sync(pool)
    assert (caught.value.path, caught.value.code) == (cache_path, "ENOTDIR")
