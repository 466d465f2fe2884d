"""The interactive menu: numbered items that run the same command functions as the CLI."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console
from rich.text import Text

from kto_keys.cli import app as cli
from kto_keys.cli.render import health_lines, make_console
from kto_keys.core.errors import KtoKeysError
from kto_keys.core.keys import redact
from kto_keys.core.lang import pick
from kto_keys.core.regions import area_codes
from kto_keys.edges.settings import load_settings
from kto_keys.jobs import keys as api
from kto_keys.jobs.listing import DEFAULT_PAGE_SIZE
from kto_keys.jobs.session import open_runtime

# The labels stay as the issue wrote them, in either language: people find items by them.
ITEMS: tuple[tuple[str, str], ...] = (
    ("1", "전체 지역 수집 (all regions)"),
    ("2", "특정 지역 수집 (choose regions)"),
    ("3", "주요 지역 수집 (major: Seoul, Busan, Gyeonggi, Jeju)"),
    ("4", "지역 코드 보기 (show region codes)"),
    ("5", "API 키 상태 (key status)"),
    ("6", "API 키 건강 검사 (key health check)"),
    ("7", "키 복구 시도 (try to recover keys)"),
    ("0", "종료 (exit)"),
)
# The operations a collection spends quota on, in the order it spends it.
QUOTA_OPERATIONS = ("areaBasedList2", "detailIntro2", "detailCommon2")
_YES = frozenset({"y", "yes", "예", "네", "ㅇ"})
_NO = frozenset({"", "n", "no", "아니오", "아니요", "ㄴ"})


def run_menu() -> int:
    """Loop over the menu until the user leaves; return the exit code."""
    console = make_console()
    lang = _language()
    actions: dict[str, Callable[[Console, str], object]] = {
        "1": lambda c, lg: _collect(c, lg, "all"),
        "2": _collect_chosen_regions,
        "3": lambda c, lg: _collect(c, lg, "major"),
        "4": lambda c, lg: _run_command(c, lg, cli.regions_command),
        "5": lambda c, lg: _run_command(c, lg, cli.status),
        "6": lambda c, lg: _run_command(c, lg, cli.health),
        "7": lambda c, lg: _run_command(c, lg, cli.recover),
    }
    while True:
        _show_menu(console)
        try:
            choice = _read_choice(console, lang, actions)
        except (KeyboardInterrupt, EOFError):
            console.print()
            return 0
        if choice == "0":
            console.print(pick(lang, "종료합니다", "bye"), markup=False)
            return 0
        try:
            actions[choice](console, lang)
        except KeyboardInterrupt:  # at one of the item's own prompts; a command maps it to 130
            console.print()
            console.print(pick(lang, "취소: 메뉴로 돌아갑니다", "cancelled: back to the menu"))
        except EOFError:  # input is gone: nobody is left to answer the menu
            console.print()
            return 0


def collect_arguments(mode: str, regions: str | None = None) -> dict[str, Any]:
    """The arguments of `kto-keys collect --mode MODE [--regions R]`, every other option at its default."""
    return {
        "mode": mode,
        "regions": regions,
        "ldong": None,
        "details": "intro,common",
        "page_size": DEFAULT_PAGE_SIZE,
        "concurrency": 4,
        "budget": None,
        "reserve": None,
        "plan": False,
        "fresh": False,
        "quiet": False,
        "as_json": False,
    }


def _language() -> str:
    """The message language, read quietly: `--lang`, then KTO_LANG from the environment or .env."""
    overrides = {"KTO_LANG": cli.STATE.lang} if cli.STATE.lang else {}
    try:
        return load_settings(cli.STATE.env_file, overrides).lang
    except KtoKeysError:  # the commands themselves report bad settings
        return "en" if cli.STATE.lang == "en" else "ko"


def _show_menu(console: Console) -> None:
    console.print()
    for number, label in ITEMS:
        console.print(f"{number}. {label}", markup=False)


def _read_choice(console: Console, lang: str, actions: dict[str, Callable[..., object]]) -> str:
    """Ask until the answer is a menu number."""
    while True:
        answer = _ask(console, pick(lang, "번호를 선택하세요 (0-7): ", "choose a number (0-7): "))
        if answer == "0" or answer in actions:
            return answer
        console.print(
            pick(lang, "0부터 7까지의 번호를 입력하세요", "enter a number from 0 to 7"),
            markup=False,
        )


def _ask(console: Console, prompt: str) -> str:
    # Text, not markup: a prompt such as "[y/N]" must show as written.
    return console.input(Text(prompt)).strip()


def _ask_yes(console: Console, prompt: str) -> bool:
    """A yes/no question; an empty answer is no."""
    while True:
        answer = _ask(console, prompt).lower()
        if answer in _YES:
            return True
        if answer in _NO:
            return False


def _run_command(console: Console, lang: str, command: Callable[[], object]) -> int:
    """Run a CLI command function and return its exit code, shown when it is not 0."""
    try:
        command()
        code = 0
    except typer.Exit as done:
        code = done.exit_code
    if code:
        console.print(pick(lang, f"(종료 코드 {code})", f"(exit code {code})"), markup=False)
    return code


def _collect_chosen_regions(console: Console, lang: str) -> None:
    """Item 2: ask for legacy area codes until they are valid; an empty line goes back."""
    prompt = pick(
        lang,
        "지역 코드를 쉼표로 입력하세요 (예: 1,6,31; 빈 줄은 메뉴로): ",
        "area codes separated by commas (e.g. 1,6,31; empty line: back to the menu): ",
    )
    while True:
        answer = _ask(console, prompt)
        if not answer:
            return
        try:
            area_codes(answer)
        except KtoKeysError as error:
            # soft_wrap: one logical line that the terminal wraps, not lines broken by rich
            console.print(" ".join(str(error).split()), markup=False, soft_wrap=True)
            continue
        _collect(console, lang, "regions", answer)
        return


def _collect(console: Console, lang: str, mode: str, regions: str | None = None) -> None:
    """Show key health and quota, offer recovery when no key works, then run `collect`."""
    if not _ready_to_collect(console, lang):
        return
    _run_command(console, lang, lambda: cli.collect(**collect_arguments(mode, regions)))


def _ready_to_collect(console: Console, lang: str) -> bool:
    """Print the health line and today's quota; False when no key can work."""
    working = _show_health_and_quota(console, lang)
    if working is None:
        return False
    if working > 0:
        return True
    question = pick(
        lang,
        "사용 가능한 키가 없습니다. 먼저 키 복구를 시도할까요? [y/N]: ",
        "no key is usable. Try to recover keys first? [y/N]: ",
    )
    if _ask_yes(console, question):
        _run_command(console, lang, cli.recover)
        working = _show_health_and_quota(console, lang)
    if not working:
        console.print(
            pick(
                lang,
                "사용 가능한 키가 없어 수집하지 않습니다 (5번: 다음 사용 가능 시각)",
                "no usable key: nothing collected (item 5 shows when keys are next usable)",
            ),
            markup=False,
        )
        return False
    return True


def _show_health_and_quota(console: Console, lang: str) -> int | None:
    """One health line and one quota line; the working keys, or None when settings fail."""
    clock = cli.STATE.clock
    try:
        settings = cli.STATE.settings()
        report = api.check_health(settings, clock)
        pool = open_runtime(settings, clock).pool
    except KtoKeysError as error:
        line = redact(" ".join(str(error).split()), cli.STATE.keys)
        sys.stderr.write(f"kto-keys: {line}\n")
        return None
    now = clock.now()
    left = " · ".join(f"{op} {pool.pool_quota_left(op, now):,}" for op in QUOTA_OPERATIONS)
    console.print(health_lines(report, lang)[0], markup=False)
    console.print(pick(lang, f"오늘 남은 호출: {left}", f"calls left today: {left}"), markup=False)
    return report.working
