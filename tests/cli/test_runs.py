"""Collections as cron and a shell run them: the installed script in a child process, killed,
terminated, locked out, and the original command-line wrapper."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from conftest import GatewayFactory, good, make_settings, stored_ids

from kto_keys.edges.settings import Settings

LIST = "areaBasedList2"


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
            "KTO_KEY_RPS": "1000",  # as fast as the local gateway answers: pacing is tested apart
        }
    )
    return env


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


def test_sigterm_stops_cleanly_with_143_and_keeps_the_work(
    tmp_path: Path, gateway: GatewayFactory, keys: list[str]
) -> None:
    """SIGTERM mid-run: exit 143, the run recorded as interrupted, stored pages kept."""
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
    assert result.returncode == 75  # sysexits EX_TEMPFAIL: try again later
    assert "another collection is running" in result.stderr
    assert gw.total() == 0


def _wait_for_calls(gateway: Any, calls: int, child: subprocess.Popen[bytes]) -> int:
    """Poll the gateway's own count until the child has made `calls` calls (or ended)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and gateway.total() < calls and child.poll() is None:
        time.sleep(0.005)  # polling for the child's progress, not waiting for time to pass
    return int(gateway.total())


def _cache_usage(settings: Settings) -> dict[str, dict[str, int]]:
    """Usage per key fingerprint and operation, as the cache file says."""
    document = json.loads(settings.cache_path.read_text(encoding="utf-8"))
    return {fp: dict(state["usage"]["ops"]) for fp, state in document["keys"].items()}


def test_kill_9_at_random_moments_never_leaves_the_cache_counting_less_than_the_gateway(
    tmp_path: Path, gateway: GatewayFactory, keys: list[str]
) -> None:
    """30 SIGKILLs at random points of a collection with details: after each, the cache counts
    every call the gateway saw, and at most one usage block (5) more per kill; then a last run
    stores every record exactly once."""
    import random

    from kto_keys.core.keys import fingerprint_of
    from kto_keys.core.pool import USAGE_BLOCK

    gw = gateway(good(keys), sizes={"11": 120}, latency_s=0.01)
    settings = make_settings(tmp_path, keys, gw.base_url)
    labels = {fingerprint_of(key): f"good{i}" for i, key in enumerate(keys)}
    command = [
        _kto_keys(), "collect", "--ldong", "11", "--page-size", "5", "--concurrency", "2",
        "--quiet",
    ]  # fmt: skip
    rng = random.Random(18)
    kills = 0
    for _ in range(30):
        target = gw.total() + rng.randint(1, 12)
        child = subprocess.Popen(
            command, cwd=tmp_path, env=_env(settings),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait_for_calls(gw, target, child)
        child.kill()
        child.wait()
        kills += 1
        if not settings.cache_path.exists():
            continue
        cached = _cache_usage(settings)
        seen = gw.counts()
        for fingerprint, label in labels.items():
            for operation, count in seen.get(label, {}).items():
                held = cached.get(fingerprint, {}).get(operation, 0)
                assert count <= held <= count + USAGE_BLOCK * kills, (label, operation)
    result = subprocess.run(
        command, cwd=tmp_path, env=_env(settings), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert stored_ids(settings) == sorted(gw.dataset.contentids())
