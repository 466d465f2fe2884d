"""The `kto-keys` command line: typer parses, `commands` does and renders, `exits` gives the code."""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer

from kto_keys.cli import commands, exits
from kto_keys.cli.commands import CliOptions, CollectRequest
from kto_keys.cli.messages import Messages
from kto_keys.core.keys import KeyAttributes
from kto_keys.core.version import __version__
from kto_keys.edges.settings import DEFAULT_HISTORY_WINDOW
from kto_keys.jobs.keyring import KeyChange


def _help_language(arguments: list[str], environ: Mapping[str, str]) -> str:
    """--help speaks the language asked for: --lang on the command line, else KTO_LANG."""
    for position, argument in enumerate(arguments):
        if argument == "--lang" and position + 1 < len(arguments):
            return arguments[position + 1]
        if argument.startswith("--lang="):
            return argument.partition("=")[2]
    return environ.get("KTO_LANG", "ko")


# Help texts are written when the app is built, before any option is parsed: look ahead.
H = Messages(_help_language(sys.argv[1:], os.environ))

app = typer.Typer(
    name="kto-keys",
    help=H("help.app"),
    no_args_is_help=True,
    pretty_exceptions_enable=False,  # never a traceback with locals: no key can reach the screen
    add_completion=False,
)
DEFAULTS = CollectRequest()
Json = Annotated[bool, typer.Option("--json", metavar="", help=H("help.json"))]


def _options(ctx: typer.Context) -> CliOptions:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, CliOptions) else CliOptions()


def _run(ctx: typer.Context, command: commands.Command) -> None:
    """Run a command through the one error choke point and exit with its code."""
    code = commands.run_guarded(_options(ctx), command)
    if code:
        raise typer.Exit(code)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"kto-keys {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    env_file: Annotated[
        Path | None,
        typer.Option("--env-file", help=H("help.env_file")),
    ] = None,
    lang: Annotated[str | None, typer.Option("--lang", help=H("help.lang"))] = None,
    keys_file: Annotated[Path | None, typer.Option("--keys-file", help=H("help.keys_file"))] = None,
    debug: Annotated[bool, typer.Option("--debug", metavar="", help=H("help.debug"))] = False,
    state_url: Annotated[
        str | None, typer.Option("--state-url", metavar="URL", help=H("help.state_url"))
    ] = None,
    allow_odd_keys: Annotated[
        bool,
        typer.Option(
            "--allow-odd-keys",
            metavar="",
            help=H("help.allow_odd"),
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", metavar="", callback=_version, is_eager=True, help=H("help.version")
        ),
    ] = False,
) -> None:
    """Collect TourAPI restaurant data across a pool of service keys."""
    # A caller (a test, an embedding program) may hand in options with its own clock.
    base = ctx.obj if isinstance(ctx.obj, CliOptions) else CliOptions()
    ctx.obj = dataclasses.replace(
        base,
        env_file=env_file,
        lang=lang,
        debug=debug,
        allow_odd_keys=allow_odd_keys,
        keys_file=keys_file,
        state_url=state_url,
    )


@app.command(help=H("help.cmd.status"))
def status(
    ctx: typer.Context,
    as_json: Json = False,
    wide: Annotated[bool, typer.Option("--wide", metavar="", help=H("help.wide"))] = False,
) -> None:
    """Show every key: state, usage today per operation, errors, and when it is next usable."""
    _run(ctx, lambda: commands.status(_options(ctx), as_json, wide))


@app.command(help=H("help.cmd.health"))
def health(ctx: typer.Context, as_json: Json = False) -> None:
    """Score the pool: exit 0 healthy, 1 warning, 2 danger or critical, 3 unknown."""
    _run(ctx, lambda: commands.health(_options(ctx), as_json))


@app.command(help=H("help.cmd.recover"))
def recover(
    ctx: typer.Context,
    force: Annotated[
        bool, typer.Option("--force", metavar="", help=H("help.force_recover"))
    ] = False,
    as_json: Json = False,
) -> None:
    """Probe deactivated keys whose recovery time has come, each with one call of its own."""
    _run(ctx, lambda: commands.recover(_options(ctx), force, as_json))


@app.command("test-keys", help=H("help.cmd.test_keys"))
def test_keys(
    ctx: typer.Context,
    mode: Annotated[str, typer.Argument(help=H("help.test_mode"))] = "all",
) -> None:
    """Test the keys and write api_key_test_YYYYMMDD_HHMMSS.log under KTO_LOG_DIR."""
    _run(ctx, lambda: commands.test_keys(_options(ctx), mode))


@app.command(help=H("help.cmd.disable"))
def disable(
    ctx: typer.Context,
    index: Annotated[int, typer.Argument(help=H("help.index"))],
    reason: Annotated[str | None, typer.Option("--reason", help=H("help.reason"))] = None,
) -> None:
    """Take key #N out of the pool until `enable N`."""
    _run(ctx, lambda: commands.disable(_options(ctx), index, reason))


@app.command(help=H("help.cmd.enable"))
def enable(
    ctx: typer.Context,
    index: Annotated[int, typer.Argument(help=H("help.index"))],
    force: Annotated[
        bool, typer.Option("--force", metavar="", help=H("help.force_enable"))
    ] = False,
) -> None:
    """Put key #N back into the pool (a key the gateway refused must pass a probe first)."""
    _run(ctx, lambda: commands.enable(_options(ctx), index, force))


@app.command(help=H("help.cmd.collect"))
def collect(
    ctx: typer.Context,
    mode: Annotated[str | None, typer.Option("--mode", help=H("help.mode"))] = DEFAULTS.mode,
    regions: Annotated[
        str | None, typer.Option("--regions", help=H("help.regions"))
    ] = DEFAULTS.regions,
    ldong: Annotated[str | None, typer.Option("--ldong", help=H("help.ldong"))] = DEFAULTS.ldong,
    details: Annotated[str, typer.Option("--details", help=H("help.details"))] = DEFAULTS.details,
    page_size: Annotated[
        int, typer.Option("--page-size", min=1, help=H("help.page_size"))
    ] = DEFAULTS.page_size,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, max=64, help=H("help.concurrency"))
    ] = DEFAULTS.concurrency,
    budget: Annotated[
        int | None, typer.Option("--budget", min=0, help=H("help.budget"))
    ] = DEFAULTS.budget,
    reserve: Annotated[
        int | None,
        typer.Option("--reserve", min=0, help=H("help.reserve")),
    ] = DEFAULTS.reserve,
    plan: Annotated[bool, typer.Option("--plan", metavar="", help=H("help.plan"))] = DEFAULTS.plan,
    fresh: Annotated[
        bool, typer.Option("--fresh", metavar="", help=H("help.fresh"))
    ] = DEFAULTS.fresh,
    quiet: Annotated[
        bool, typer.Option("--quiet", metavar="", help=H("help.quiet"))
    ] = DEFAULTS.quiet,
    as_json: Json = DEFAULTS.as_json,
) -> None:
    """List every restaurant of the chosen provinces, then fetch their details."""
    request = CollectRequest(
        mode, regions, ldong, details, page_size, concurrency, budget, reserve, plan, fresh, quiet,
        as_json,
    )  # fmt: skip
    _run(ctx, lambda: commands.collect(_options(ctx), request))


@app.command("log", help=H("help.cmd.log"))
def log_command(
    ctx: typer.Context,
    key: Annotated[int | None, typer.Option("--key", min=0, help=H("help.key"))] = None,
    since: Annotated[str | None, typer.Option("--since", help=H("help.since"))] = None,
    kind: Annotated[str | None, typer.Option("--kind", help=H("help.kind"))] = None,
    as_json: Json = False,
) -> None:
    """Show the rotation log: when and why each key was taken out or came back."""
    _run(ctx, lambda: commands.log(_options(ctx), key, since, kind, as_json))


@app.command("history", help=H("help.cmd.history"))
def history_command(
    ctx: typer.Context,
    days: Annotated[
        int, typer.Option("--days", min=1, max=366, help=H("help.days"))
    ] = DEFAULT_HISTORY_WINDOW,
    key: Annotated[int | None, typer.Option("--key", min=0, help=H("help.key"))] = None,
    as_json: Json = False,
) -> None:
    """Show each key over days: calls per day, success rate, p50/p95, days a quota ran out."""
    _run(ctx, lambda: commands.history(_options(ctx), days, key, as_json))


@app.command(help=H("help.cmd.export"))
def export(
    ctx: typer.Context,
    fmt: Annotated[str, typer.Option("--format", help=H("help.format"))] = "jsonl",
    output: Annotated[Path | None, typer.Option("--output", help=H("help.output"))] = None,
    include_removed: Annotated[
        bool, typer.Option("--include-removed", metavar="", help=H("help.include_removed"))
    ] = False,
) -> None:
    """Write the stored records as JSONL or CSV (UTF-8 with BOM), streamed."""
    _run(ctx, lambda: commands.export(_options(ctx), fmt, output, include_removed))


@app.command("regions", help=H("help.cmd.regions"))
def regions_command(ctx: typer.Context, as_json: Json = False) -> None:
    """Show the legacy area codes, province codes and names, with the service's own list."""
    _run(ctx, lambda: commands.regions(_options(ctx), as_json))


@app.command(help=H("help.cmd.gateway"))
def gateway(
    ctx: typer.Context,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help=H("help.port"))] = 8765,
    config: Annotated[Path | None, typer.Option("--config", help=H("help.config"))] = None,
    host: Annotated[str, typer.Option("--host", help=H("help.host"))] = "127.0.0.1",
) -> None:
    """Run the local gateway, which behaves like the real one, faults included."""
    _run(ctx, lambda: commands.gateway(_options(ctx), port, config, host))


@app.command(help=H("help.cmd.demo"))
def demo(
    ctx: typer.Context,
    details: Annotated[str, typer.Option("--details", help=H("help.details"))] = DEFAULTS.details,
    reset: Annotated[bool, typer.Option("--reset", metavar="", help=H("help.reset"))] = False,
    as_json: Json = False,
) -> None:
    """Try the whole tool without a key: a local gateway, demo keys of every kind, a collection."""
    _run(ctx, lambda: commands.demo(_options(ctx), details, reset, as_json))


state_app = typer.Typer(name="state", help=H("help.cmd.state"), no_args_is_help=True)
app.add_typer(state_app)


@state_app.command("export", help=H("help.cmd.state_export"))
def state_export(ctx: typer.Context) -> None:
    """Write the keys' state from the shared server to the JSON cache."""
    _run(ctx, lambda: commands.state_move(_options(ctx), "export"))


@state_app.command("import", help=H("help.cmd.state_import"))
def state_import(ctx: typer.Context) -> None:
    """Write the keys' state from the JSON cache to the shared server."""
    _run(ctx, lambda: commands.state_move(_options(ctx), "import"))


@app.command(help=H("help.cmd.menu"))
def menu(ctx: typer.Context) -> None:
    """Open the interactive menu: the same commands, chosen by number."""
    from kto_keys.cli.menu import run_menu

    raise typer.Exit(run_menu(_options(ctx)))


keys_app = typer.Typer(name="keys", help=H("help.cmd.keys"), no_args_is_help=True)
app.add_typer(keys_app)
Label = Annotated[str | None, typer.Option("--label", help=H("help.label"))]
Expires = Annotated[
    str | None, typer.Option("--expires", metavar="YYYY-MM-DD", help=H("help.expires"))
]
Limit = Annotated[int | None, typer.Option("--limit", min=1, help=H("help.limit"))]


@keys_app.command("list", help=H("help.cmd.keys_list"))
def keys_list(ctx: typer.Context, as_json: Json = False) -> None:
    """Every key from every source, with its source, label, limit, expiry and role."""
    _run(ctx, lambda: commands.keys_list(_options(ctx), as_json))


@keys_app.command("add", help=H("help.cmd.keys_add"))
def keys_add(
    ctx: typer.Context,
    label: Label = None,
    expires: Expires = None,
    limit: Limit = None,
    standby: Annotated[bool, typer.Option("--standby", metavar="", help=H("help.standby"))] = False,
) -> None:
    """Add one key to the key store: from a hidden prompt, or stdin when it is no terminal."""

    def add() -> int:
        attributes = KeyAttributes(label, commands.expiry_option(expires), limit, standby)
        return commands.keys_add(_options(ctx), _secret_input(ctx), attributes)

    _run(ctx, add)


def _secret_input(ctx: typer.Context) -> str:
    """A key typed at a prompt that does not echo it, or piped on stdin; never an argument."""
    if sys.stdin.isatty():
        lang = _options(ctx).lang or os.environ.get("KTO_LANG", "ko")
        return str(typer.prompt(Messages(lang)("keys.prompt"), hide_input=True))
    return sys.stdin.read()


@keys_app.command("import", help=H("help.cmd.keys_import"))
def keys_import(
    ctx: typer.Context,
    source: Annotated[
        str | None, typer.Argument(metavar="[-|PATH]", help=H("help.source_arg"))
    ] = None,
    from_env: Annotated[
        bool, typer.Option("--from-env", metavar="", help=H("help.from_env"))
    ] = False,
    from_file: Annotated[Path | None, typer.Option("--from-file", help=H("help.from_file"))] = None,
) -> None:
    """Move keys from KTO_API_KEY, a keys file or stdin into the key store."""

    def run() -> int:
        if source is not None and source != "-" and from_file is None:
            chosen_file: Path | None = Path(source)  # `keys import PATH` is --from-file PATH
        else:
            chosen_file = from_file
        reads_stdin = source == "-" or chosen_file == Path("-")
        stdin = sys.stdin.read() if reads_stdin else None
        chosen = None if chosen_file == Path("-") else chosen_file
        return commands.keys_import(_options(ctx), from_env, chosen, stdin)

    _run(ctx, run)


@keys_app.command("remove", help=H("help.cmd.keys_remove"))
def keys_remove(
    ctx: typer.Context, index: Annotated[int, typer.Argument(help=H("help.index"))]
) -> None:
    """Remove key #N in the key store; it stays out even while another source holds it."""
    _run(ctx, lambda: commands.keys_remove(_options(ctx), index))


@keys_app.command("set", help=H("help.cmd.keys_set"))
def keys_set(
    ctx: typer.Context,
    index: Annotated[int, typer.Argument(help=H("help.index"))],
    label: Label = None,
    expires: Expires = None,
    limit: Limit = None,
    standby: Annotated[
        bool | None, typer.Option("--standby/--active", help=H("help.standby"))
    ] = None,
) -> None:
    """Change key #N's label, expiry date, daily limit, or whether it is a standby key."""

    def change() -> int:
        wanted = KeyChange(label, commands.expiry_option(expires), limit, standby)
        return commands.keys_set(_options(ctx), index, wanted)

    _run(ctx, change)


@keys_app.command("rekey", help=H("help.cmd.keys_rekey"))
def keys_rekey(ctx: typer.Context) -> None:
    """Encrypt every stored key again with the first master key of KTO_KEYSTORE_KEY."""
    _run(ctx, lambda: commands.keys_rekey(_options(ctx)))


def main() -> None:
    """Entry point of the `kto-keys` script."""
    command = _command_name(sys.argv[1:])
    if command not in exits.HEALTH_COMMANDS:
        app()
        return
    # `health` and `test-keys` speak the monitoring convention: even typer's own usage errors
    # (a mistyped option) are 3, unknown, so that their 2 always means danger.
    try:
        code = app(standalone_mode=False)
    except typer.Abort:
        sys.exit(exits.INTERRUPTED)
    except Exception as error:
        # Click's usage errors (typer ships its own copy of click) show themselves and carry 2.
        show = getattr(error, "show", None)
        if show is None or getattr(error, "exit_code", None) != exits.USAGE:
            raise
        show()
        sys.exit(exits.UNKNOWN)
    sys.exit(code if isinstance(code, int) else exits.OK)


def _command_name(arguments: list[str]) -> str | None:
    """The first word that is not a global option (nor its value)."""
    # The global options that take a value.
    with_value = {"--env-file", "--lang", "--keys-file", "--state-url"}
    skip = False
    for argument in arguments:
        if skip:
            skip = False
        elif argument in with_value:
            skip = True
        elif not argument.startswith("-"):
            return argument
    return None
