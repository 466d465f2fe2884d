"""The interactive menu, driven through a real pseudo-terminal as a person would use it."""

from __future__ import annotations

import inspect
import io
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest
from conftest import hex_key

from kto_keys.cli import app as cli
from kto_keys.cli.commands import CollectRequest
from kto_keys.cli.menu import collect_request, menu_lines
from kto_keys.cli.messages import Messages
from kto_keys.sim import GatewayConfig, GatewayThread, KeyBehaviour, run_gateway

PROMPT = "번호를 선택하세요 (0-9): "
HINT = "0부터 9까지의 번호를 입력하세요"
REGION_PROMPT = "지역 코드를 쉼표로 입력하세요"
SIZES = {"11": 30, "26": 12, "41": 5, "50": 4}
SCRIPT = shutil.which("kto-keys", path=str(Path(sys.executable).parent))


@pytest.fixture
def keys() -> list[str]:
    """Two fresh fake keys, both valid at the gateway."""
    return [hex_key(), hex_key()]


@pytest.fixture
def gateway(keys: list[str]) -> Iterator[GatewayThread]:
    """The local gateway in a background thread, with small provinces."""
    config = GatewayConfig(
        keys={key: KeyBehaviour(f"valid{n}") for n, key in enumerate(keys)}, sizes=SIZES
    )
    with run_gateway(config) as server:
        yield server


def menu_env(tmp_path: Path, keys: list[str], base_url: str) -> dict[str, str]:
    """The environment of a person's shell, with every path under tmp_path and no forced colour."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("KTO_") and name not in ("FORCE_COLOR", "PY_COLORS", "CI")
    }
    env.update(
        KTO_API_KEY=",".join(keys),
        KTO_API_BASE_URL=base_url,
        KTO_CACHE_PATH=str(tmp_path / "cache" / "api_key_cache.json"),
        KTO_DB_PATH=str(tmp_path / "kto.db"),
        KTO_LOG_DIR=str(tmp_path / "logs"),
        TERM="xterm",
        COLUMNS="160",
    )
    return env


def spawn_menu(tmp_path: Path, env: dict[str, str]) -> pexpect.spawn:
    """`kto-keys menu` on a 50x160 pseudo-terminal."""
    assert SCRIPT is not None, "the kto-keys script is not installed next to this Python"
    child = pexpect.spawn(
        SCRIPT,
        ["menu"],
        env=env,
        cwd=str(tmp_path),
        dimensions=(50, 160),
        encoding="utf-8",
        timeout=30,
    )
    child.logfile_read = io.StringIO()  # the whole screen output, for assertions at the end
    return child


def screen(child: pexpect.spawn) -> str:
    """Everything the child has written to the terminal so far."""
    log = child.logfile_read
    assert isinstance(log, io.StringIO)
    return log.getvalue()


PRESS_ENTER = "Enter를 누르면 메뉴로 돌아갑니다"


def back_to_menu(child: pexpect.spawn) -> None:
    """An item's result waits for Enter, then the menu returns."""
    child.expect_exact(PRESS_ENTER)
    child.sendline("")
    expect_menu(child)


def expect_menu(child: pexpect.spawn) -> None:
    """Every item of the issue, then the prompt."""
    for line in menu_lines(Messages("ko")):
        child.expect_exact(line)
    child.expect_exact(PROMPT)


def finish(child: pexpect.spawn) -> None:
    """Choose 0 and wait for the process to end."""
    child.sendline("0")
    child.expect_exact("종료합니다")
    child.expect_exact(pexpect.EOF)
    child.close()


def stored_contentids(db_path: Path) -> set[str]:
    """The contentids in the SQLite file the collection wrote."""
    with sqlite3.connect(db_path) as db:
        return {str(row[0]) for row in db.execute("SELECT contentid FROM restaurants")}


def test_menu_walkthrough_shows_tables_hints_and_collects_chosen_regions(
    tmp_path: Path, keys: list[str], gateway: GatewayThread
) -> None:
    """Menu, 4, 5, bad choices, 2 with a bad then a good region list, records stored, 0 exits 0."""
    child = spawn_menu(tmp_path, menu_env(tmp_path, keys, gateway.base_url))

    # 1. The menu, with the labels.
    child.expect_exact("1. 전체 지역 수집")
    for line in menu_lines(Messages("ko"))[1:]:
        child.expect_exact(line)
    child.expect_exact(PROMPT)

    # 2. Item 4: the region codes table, Seoul's row with its area and province codes.
    child.sendline("4")
    child.expect(r"│ 1\s+│ 11\s+│ 서울특별시\s+│ Seoul")
    child.expect(r"│ 39\s+│ 50\s+│ 제주특별자치도")
    back_to_menu(child)
    # Item 5: the key status, one line per key, shown as #index and preview only.
    child.sendline("5")
    child.expect_exact("KTO API 키 상태")
    child.expect(r"#0\s+[0-9a-f]{10}\.\.\.\s+\S+\s+사용 가능")  # the key, its source, its state
    child.expect(r"#1\s+[0-9a-f]{10}\.\.\.\s+\S+\s+사용 가능")
    back_to_menu(child)
    assert keys[0] not in screen(child) and keys[1] not in screen(child)

    # 3. Bad choices: a letter, an unknown number, an empty line; each gets the hint and the prompt.
    for bad in ("x", "10", ""):
        child.sendline(bad)
        child.expect_exact(HINT)
        child.expect_exact(PROMPT)

    # 4. Item 2: a bad region list is refused with the valid codes, then a good one is collected.
    child.sendline("2")
    child.expect_exact(REGION_PROMPT)
    child.sendline("1,99,98")
    # One language at a time, in the menu's words (no command-line flag), every bad code named.
    child.expect_exact("알 수 없는 지역 코드 99, 98; 가능한 값: 1 서울특별시, 2 인천광역시")
    child.expect_exact("39 제주특별자치도")
    child.expect_exact(REGION_PROMPT)
    child.sendline("1,6")
    child.expect_exact("키 건강 상태: 정상 (100%, 작동 2/2)")
    child.expect_exact(
        "오늘 남은 호출: areaBasedList2 2,000 · detailIntro2 2,000 · detailCommon2 2,000"
    )
    child.expect_exact("수집 완료")
    child.expect_exact("기록: 42건")
    back_to_menu(child)
    assert "종료 코드" not in child.before
    expected = set(gateway.dataset.contentids(province="11")) | set(
        gateway.dataset.contentids(province="26")
    )
    assert len(expected) == 42
    assert stored_contentids(tmp_path / "kto.db") == expected
    assert gateway.total(operation="detailIntro2") == 42

    # 5. 0 leaves with exit 0.
    finish(child)
    assert child.exitstatus == 0
    assert "Traceback" not in screen(child)


def test_end_of_input_at_the_menu_exits_0_without_traceback(
    tmp_path: Path, keys: list[str], gateway: GatewayThread
) -> None:
    """Ctrl-D at the prompt leaves cleanly."""
    child = spawn_menu(tmp_path, menu_env(tmp_path, keys, gateway.base_url))
    expect_menu(child)
    child.sendeof()
    child.expect_exact(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "Traceback" not in screen(child)


def test_ctrl_c_at_the_menu_exits_0_without_traceback(
    tmp_path: Path, keys: list[str], gateway: GatewayThread
) -> None:
    """Ctrl-C at the prompt leaves cleanly too."""
    child = spawn_menu(tmp_path, menu_env(tmp_path, keys, gateway.base_url))
    expect_menu(child)
    child.sendintr()
    child.expect_exact("종료합니다")
    child.expect_exact(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "Traceback" not in screen(child)


def test_ctrl_c_during_a_collection_returns_to_the_menu_with_the_work_kept(
    tmp_path: Path, keys: list[str]
) -> None:
    """Ctrl-C in the detail phase: exit code 130 is shown, the listed records stay, the menu returns."""
    config = GatewayConfig(
        keys={key: KeyBehaviour(f"valid{n}") for n, key in enumerate(keys)},
        sizes=SIZES,
        latency_s=0.3,  # slow enough that the detail phase is still running when Ctrl-C arrives
    )
    with run_gateway(config) as server:
        child = spawn_menu(tmp_path, menu_env(tmp_path, keys, server.base_url))
        expect_menu(child)
        child.sendline("2")
        child.expect_exact(REGION_PROMPT)
        child.sendline("1,6")
        child.expect_exact("📋 detailIntro2: 필요 42회")
        child.sendintr()
        child.expect_exact("kto-keys: 중단됨: 작업은 저장되었습니다")
        child.expect_exact("(종료 코드 130)")
        back_to_menu(child)
        listed = set(server.dataset.contentids(province="11")) | set(
            server.dataset.contentids(province="26")
        )
        assert stored_contentids(tmp_path / "kto.db") == listed
        assert server.total(operation="detailIntro2") < 42
        finish(child)
        assert child.exitstatus == 0
        assert "Traceback" not in screen(child)


def test_collection_without_a_usable_key_offers_recovery_first(tmp_path: Path) -> None:
    """Item 3 with the only key disabled: health shows it, recovery is offered and run, nothing is called."""
    only_key = hex_key()
    with run_gateway(GatewayConfig(keys={only_key: KeyBehaviour("only")}, sizes=SIZES)) as server:
        env = menu_env(tmp_path, [only_key], server.base_url)
        env["KTO_RECOVERY_AFTER_S"] = "86400"
        assert SCRIPT is not None
        subprocess.run([SCRIPT, "disable", "0"], env=env, cwd=tmp_path, check=True, timeout=30)
        child = spawn_menu(tmp_path, env)
        expect_menu(child)
        child.sendline("3")
        child.expect_exact("키 건강 상태: 치명적 (0%, 작동 0/1)")
        child.expect_exact("오늘 남은 호출: areaBasedList2 0 · detailIntro2 0 · detailCommon2 0")
        child.expect_exact("사용 가능한 키가 없습니다. 먼저 키 복구를 시도할까요? [y/N]: ")
        child.sendline("y")
        child.expect_exact("복구할 때가 된 비활성 키가 없습니다")
        child.expect_exact("사용 가능한 키가 없어 수집하지 않습니다")
        back_to_menu(child)
        finish(child)
        assert child.exitstatus == 0
        assert server.total() == 0


def test_menu_collections_pass_the_cli_defaults_explicitly() -> None:
    """The menu's collect request is exactly `collect`'s defaults apart from mode and regions."""
    defaults = {
        name: parameter.default
        for name, parameter in inspect.signature(cli.collect).parameters.items()
        if name != "ctx"
    }
    assert CollectRequest(**defaults) == CollectRequest()
    assert collect_request("regions", "1,6") == CollectRequest(mode="regions", regions="1,6")


def test_item_1_asks_before_spending_a_countrys_quota_and_item_7_can_force(
    tmp_path: Path, keys: list[str], gateway: GatewayThread
) -> None:
    """Item 1 answered no calls nothing; item 7 answered yes probes every key out, due or not."""
    env = menu_env(tmp_path, keys, gateway.base_url)
    env["KTO_RECOVERY_AFTER_S"] = "86400"
    assert SCRIPT is not None
    subprocess.run([SCRIPT, "disable", "1"], env=env, cwd=tmp_path, check=True, timeout=30)
    child = spawn_menu(tmp_path, env)
    expect_menu(child)
    child.sendline("1")
    child.expect_exact("계속할까요? [y/N]: ")
    child.sendline("n")
    back_to_menu(child)
    assert gateway.total() == 0
    child.sendline("7")
    child.expect_exact("모두 확인할까요? [y/N]: ")
    child.sendline("y")
    child.expect_exact("복구할 때가 된 비활성 키가 없습니다")  # a key out by hand is not probed
    back_to_menu(child)
    finish(child)
    assert child.exitstatus == 0


def test_the_menu_in_english_has_no_korean(
    tmp_path: Path, keys: list[str], gateway: GatewayThread
) -> None:
    """`kto-keys --lang en menu`: English items and prompts only."""
    import re

    assert SCRIPT is not None
    child = pexpect.spawn(
        SCRIPT,
        ["--lang", "en", "menu"],
        env=menu_env(tmp_path, keys, gateway.base_url),
        cwd=str(tmp_path),
        dimensions=(50, 160),
        encoding="utf-8",
        timeout=30,
    )
    child.logfile_read = io.StringIO()
    for line in menu_lines(Messages("en")):
        child.expect_exact(line)
    child.expect_exact("choose a number (0-9): ")
    child.sendline("0")
    child.expect_exact("bye")
    child.expect_exact(pexpect.EOF)
    child.close()
    assert not re.search(r"[\uac00-\ud7a3]", screen(child))


def test_items_8_and_9_show_the_rotation_log_and_the_usage_history(
    tmp_path: Path, keys: list[str], gateway: GatewayThread
) -> None:
    """After a key was disabled by hand, item 8 shows it in the log and item 9 a line per key."""
    env = menu_env(tmp_path, keys, gateway.base_url)
    assert SCRIPT is not None
    subprocess.run(
        [SCRIPT, "disable", "1", "--reason", "점검"], env=env, cwd=tmp_path, check=True, timeout=30
    )
    child = spawn_menu(tmp_path, env)
    expect_menu(child)
    child.sendline("8")
    child.expect(r"#1 [0-9a-f]{10}\.\.\.  수동 비활성화  \"점검\"")
    back_to_menu(child)
    child.sendline("9")
    child.expect_exact("키 사용 이력")
    child.expect(r"#0\s+[0-9a-f]{10}\.\.\.\s+·+\s+0\s+-")
    child.expect(r"#1\s+[0-9a-f]{10}\.\.\.")
    back_to_menu(child)
    finish(child)
    assert child.exitstatus == 0
    assert "종료 코드" not in screen(child)
