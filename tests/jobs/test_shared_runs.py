"""Whole runs on one shared key pool: many processes at once, the server lost mid-run, and hosts
whose clocks disagree. Real child processes, the local gateway's counters, a real server."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from conftest import START, GatewayFactory, hex_key
from shared_server import StateServer

from kto_keys.sim import BehaviourKind, KeyBehaviour

DETAILS = ("detailIntro2", "detailCommon2")


def _kto_keys() -> str:
    return str(Path(sys.executable).with_name("kto-keys"))


def _env(
    folder: Path, keys: list[str], base_url: str, state_url: str, **more: str
) -> dict[str, str]:
    """One collector's settings: its own database, cache and logs, the shared pool's server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KTO_")}
    for name in ("FORCE_COLOR", "PY_COLORS", "CI", "CLICOLOR_FORCE"):
        env.pop(name, None)
    env.update(
        {
            "KTO_API_KEY": ",".join(keys),
            "KTO_API_BASE_URL": base_url,
            "KTO_CACHE_PATH": str(folder / "cache" / "api_key_cache.json"),
            "KTO_DB_PATH": str(folder / "kto.db"),
            "KTO_LOG_DIR": str(folder / "logs"),
            "KTO_LANG": "en",
            "KTO_KEY_RPS": "1000",
            "KTO_STATE_URL": state_url,
            **more,
        }
    )
    return env


def _collect(concurrency: int) -> list[str]:
    return [
        _kto_keys(), "collect", "--ldong", "11", "--details", "intro,common",
        "--concurrency", str(concurrency), "--quiet",
    ]  # fmt: skip


def _complete(db: Path) -> tuple[int, int]:
    """Records stored, and how many of them have both details."""
    with sqlite3.connect(db) as connection:
        total = connection.execute("SELECT COUNT(*) FROM restaurants").fetchone()[0]
        whole = connection.execute(
            "SELECT COUNT(*) FROM restaurants WHERE intro_at IS NOT NULL AND common_at IS NOT NULL"
        ).fetchone()[0]
    return int(total), int(whole)


def test_eight_processes_share_one_pool_within_every_limit(
    tmp_path: Path, gateway: GatewayFactory, state_url: str
) -> None:
    """8 collectors x 16 workers, 20 keys with 50 calls per operation: no key makes more than 50
    calls of an operation, the dead key makes 1 call in all, the key answering 22 one per
    operation, and every collector stores every record with its details."""
    keys = [hex_key() for _ in range(20)]
    behaviours = {key: KeyBehaviour(f"good{n}") for n, key in enumerate(keys[:18])}
    behaviours[keys[18]] = KeyBehaviour("dead", BehaviourKind.EXPIRED)
    behaviours[keys[19]] = KeyBehaviour("spent", daily_limit=0)
    # 8 x 110 = 880 calls per detail operation; the 18 good keys have 900.
    server = gateway(behaviours, sizes={"11": 110})
    children = [
        subprocess.Popen(
            _collect(16),
            env=_env(
                tmp_path / f"p{n}", keys, server.base_url, state_url, KTO_API_DAILY_LIMIT="50"
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for n in range(8)
    ]
    for child in children:
        _, err = child.communicate(timeout=300)
        assert child.returncode == 0, err.decode()
    counts = server.counts()
    good = {label: ops for label, ops in counts.items() if label.startswith("good")}
    assert max(n for ops in good.values() for n in ops.values()) <= 50
    assert sum(counts["dead"].values()) == 1
    assert all(n == 1 for n in counts["spent"].values())
    assert set(DETAILS) <= set(counts["spent"])
    for n in range(8):
        assert _complete(tmp_path / f"p{n}" / "kto.db") == (110, 110)
    assert sum(ops.get("detailIntro2", 0) for ops in good.values()) == 880


def test_server_lost_mid_run_exits_6_and_the_next_run_replays_the_journal(
    tmp_path: Path, gateway: GatewayFactory
) -> None:
    """The server stopped (SIGSTOP), then killed, during the details: the run takes no new key,
    lets its calls in flight finish, keeps their outcomes in the journal and stops with 6; the
    next run replays the journal first and completes, no record lost."""
    state = StateServer(tmp_path / "server", persistent=True).start()
    try:
        keys = [hex_key() for _ in range(4)]
        server = gateway(
            {key: KeyBehaviour(f"good{n}") for n, key in enumerate(keys)},
            sizes={"11": 80},
            latency_s=0.05,
        )
        env = _env(tmp_path / "run", keys, server.base_url, state.url, KTO_STATE_TIMEOUT_S="1")
        child = subprocess.Popen(
            _collect(8), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 60
        while server.total("detailIntro2") < 20:
            assert child.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        state.pause()
        time.sleep(0.5)
        state.kill()
        _, err = child.communicate(timeout=60)
        assert child.returncode == 6, err.decode()
        assert "lost the shared key pool at redis://127.0.0.1" in err.decode()
        journal = tmp_path / "run" / "cache" / "shared_journal.json"
        assert journal.exists()
        assert _complete(tmp_path / "run" / "kto.db")[1] < 80

        state = StateServer(tmp_path / "server", port=state.port, persistent=True).start()
        again = subprocess.run(_collect(8), env=env, capture_output=True, timeout=120)
        assert again.returncode == 0, again.stderr.decode()
        assert not journal.exists()
        assert _complete(tmp_path / "run" / "kto.db") == (80, 80)
    finally:
        state.stop()


def test_two_hosts_with_clocks_apart_count_one_day(
    tmp_path: Path, gateway: GatewayFactory, state_url: str
) -> None:
    """Two hosts whose clocks are 14.5 hours apart (one already on the next Korea day) share
    one day's quota: the server's clock names the day, so the keys make their limit once."""
    keys = [hex_key(), hex_key()]
    server = gateway(
        {key: KeyBehaviour(f"good{n}") for n, key in enumerate(keys)}, sizes={"11": 15}
    )
    here = Path(__file__).with_name("skewed_collect.py")
    moments = (START, START + timedelta(hours=14, minutes=30))  # 10:00 KST, then 00:30 KST
    children = [
        subprocess.Popen(
            [sys.executable, str(here), moment.isoformat()],
            env=_env(
                tmp_path / f"host{n}", keys, server.base_url, state_url, KTO_API_DAILY_LIMIT="10"
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for n, moment in enumerate(moments)
    ]
    codes = []
    for child in children:
        _, err = child.communicate(timeout=120)
        codes.append(child.returncode)
        assert child.returncode in (0, 4), err.decode()
    counts = server.counts()
    assert [counts[f"good{n}"]["detailIntro2"] for n in range(2)] == [10, 10]
    assert 4 in codes  # 30 details wanted, 20 calls in the day: someone stopped for quota
