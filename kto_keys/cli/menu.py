"""The interactive menu: numbered items that run the same commands as the command line."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console
from rich.text import Text

from kto_keys.cli import commands
from kto_keys.cli.commands import CliOptions, CollectRequest
from kto_keys.cli.messages import Messages
from kto_keys.cli.render import health_lines, make_console
from kto_keys.core.errors import KtoKeysError, SettingsError
from kto_keys.core.operations import COLLECTION_OPERATIONS
from kto_keys.core.regions import area_codes
from kto_keys.jobs import keys as key_jobs
from kto_keys.jobs.session import open_session

# The labels stay as the issue wrote them, in either language: people find items by them.
# The items in the order shown; their words are in the catalog, one language at a time.
ITEMS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "0")
_YES = frozenset({"y", "yes", "예", "네", "ㅇ"})
_NO = frozenset({"", "n", "no", "아니오", "아니요", "ㄴ"})


def run_menu(options: CliOptions) -> int:
    """Loop over the menu until the user leaves; return the exit code."""
    console = make_console()
    m = Messages(_language(options))
    actions: dict[str, Callable[[], object]] = {
        "1": lambda: _collect_everything(console, m, options),
        "2": lambda: _collect_chosen_regions(console, m, options),
        "3": lambda: _collect(console, m, options, "major"),
        "4": lambda: _run(console, m, options, lambda: commands.regions(options, False)),
        "5": lambda: _run(console, m, options, lambda: commands.status(options, False)),
        "6": lambda: _run(console, m, options, lambda: commands.health(options, False)),
        "7": lambda: _recover(console, m, options),
        "8": lambda: _run(console, m, options, lambda: commands.log(options)),
        "9": lambda: _run(console, m, options, lambda: commands.history(options)),
    }
    while True:
        _show_menu(console, m)
        try:
            choice = _read_choice(console, m, actions)
        except (KeyboardInterrupt, EOFError):
            console.print()
            console.print(m("menu.bye"), markup=False)
            return 0
        if choice == "0":
            console.print(m("menu.bye"), markup=False)
            return 0
        try:
            actions[choice]()
            # The result stays on screen until the person has read it.
            _ask(console, m("menu.press_enter"))
        except KeyboardInterrupt:  # at one of the item's own prompts; a command maps it to 130
            console.print()
            console.print(m("menu.cancelled"), markup=False)
        except EOFError:  # input is gone: nobody is left to answer the menu
            console.print()
            return 0


def collect_request(mode: str, regions: str | None = None) -> CollectRequest:
    """`kto-keys collect --mode MODE [--regions R]`, every other option at its default."""
    return CollectRequest(mode=mode, regions=regions)


def _language(options: CliOptions) -> str:
    """The message language, read quietly: `--lang`, then KTO_LANG from the environment or .env."""
    try:
        return commands.load(options, require_keys=False).lang
    except KtoKeysError:  # the commands themselves report bad settings
        return "en" if options.lang == "en" else "ko"


def menu_lines(m: Messages) -> list[str]:
    """The menu's items as shown, `N. label`."""
    return [f"{number}. {m(f'menu.item.{number}')}" for number in ITEMS]


def _show_menu(console: Console, m: Messages) -> None:
    console.print()
    for line in menu_lines(m):
        console.print(line, markup=False)


def _read_choice(console: Console, m: Messages, actions: dict[str, Callable[[], object]]) -> str:
    """Ask until the answer is a menu number."""
    while True:
        answer = _ask(console, m("menu.choose"))
        if answer == "0" or answer in actions:
            return answer
        console.print(m("menu.choose_hint"), markup=False)


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


def _run(console: Console, m: Messages, options: CliOptions, command: commands.Command) -> int:
    """Run a command and return its exit code, shown when it is not 0."""
    code = commands.run_guarded(options, command)
    if code:
        console.print(m("menu.exit_code", code=code), markup=False)
    return code


def _collect_everything(console: Console, m: Messages, options: CliOptions) -> None:
    """Item 1 spends a whole country's quota: ask first."""
    if _ask_yes(console, m("menu.confirm_all")):
        _collect(console, m, options, "all")


def _recover(console: Console, m: Messages, options: CliOptions) -> None:
    """Item 7: the keys that are due, or with a yes every key that is out."""
    force = _ask_yes(console, m("menu.force_recovery"))
    _run(console, m, options, lambda: commands.recover(options, force, False))


def _collect_chosen_regions(console: Console, m: Messages, options: CliOptions) -> None:
    """Item 2: ask for legacy area codes until they are valid; an empty line goes back."""
    while True:
        answer = _ask(console, m("menu.area_codes"))
        if not answer:
            return
        try:
            area_codes(answer)
        except SettingsError as error:
            # In the menu's words (no command-line flag); soft_wrap: one logical line that the
            # terminal wraps, not lines broken by rich.
            console.print(m.menu_codes_problem(error), markup=False, soft_wrap=True)
            continue
        _collect(console, m, options, "regions", answer)
        return


def _collect(
    console: Console, m: Messages, options: CliOptions, mode: str, regions: str | None = None
) -> None:
    """Show key health and quota, offer recovery when no key works, then run `collect`."""
    if not _ready_to_collect(console, m, options):
        return
    request = collect_request(mode, regions)
    _run(console, m, options, lambda: commands.collect(options, request))


def _ready_to_collect(console: Console, m: Messages, options: CliOptions) -> bool:
    """Print the health line and today's quota; False when no key can work."""
    working = _show_health_and_quota(console, m, options)
    if working is None:
        return False
    if working > 0:
        return True
    if _ask_yes(console, m("menu.recover_first")):
        _run(console, m, options, lambda: commands.recover(options, False, False))
        working = _show_health_and_quota(console, m, options)
    if not working:
        console.print(m("menu.nothing_collected"), markup=False)
        return False
    return True


def _show_health_and_quota(console: Console, m: Messages, options: CliOptions) -> int | None:
    """One health line and one quota line; the working keys, or None when settings fail."""
    try:
        settings = commands.load(options)
        session = open_session(settings, options.clock)
        report = key_jobs.health_of(session)
    except KtoKeysError as error:
        commands.report_error(options, error)
        return None
    now = options.clock.now()
    pool = session.pool
    left = " · ".join(f"{op} {pool.pool_quota_left(op, now):,}" for op in COLLECTION_OPERATIONS)
    console.print(health_lines(report, m)[0], markup=False)
    console.print(m("menu.calls_left", left=left), markup=False)
    return report.working
