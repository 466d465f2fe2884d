"""The `kto-keys` command line: typer parses, `commands` does and renders, `exits` gives the code."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Annotated

import typer

from kto_keys.cli import commands, exits
from kto_keys.cli.commands import CliOptions, CollectRequest
from kto_keys.core.version import __version__

app = typer.Typer(
    name="kto-keys",
    help="Collect TourAPI restaurant data across a pool of service keys.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,  # never a traceback with locals: no key can reach the screen
    add_completion=False,
)
DEFAULTS = CollectRequest()
Json = Annotated[bool, typer.Option("--json", help="Print JSON for scripts (on stdout).")]


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
        typer.Option("--env-file", help="Read settings from this file instead of ./.env."),
    ] = None,
    lang: Annotated[str | None, typer.Option("--lang", help="Message language: ko or en.")] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks of unexpected errors.")
    ] = False,
    allow_odd_keys: Annotated[
        bool,
        typer.Option(
            "--allow-odd-keys",
            help="Use KTO_API_KEY entries that are neither 64 hex nor 88 base64.",
        ),
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Collect TourAPI restaurant data across a pool of service keys."""
    # A caller (a test, an embedding program) may hand in options with its own clock.
    base = ctx.obj if isinstance(ctx.obj, CliOptions) else CliOptions()
    ctx.obj = dataclasses.replace(
        base, env_file=env_file, lang=lang, debug=debug, allow_odd_keys=allow_odd_keys
    )


@app.command()
def status(
    ctx: typer.Context,
    as_json: Json = False,
    wide: Annotated[
        bool, typer.Option("--wide", help="Every column (the compact view fits 80 columns).")
    ] = False,
) -> None:
    """Show every key: state, usage today per operation, errors, and when it is next usable."""
    _run(ctx, lambda: commands.status(_options(ctx), as_json, wide))


@app.command()
def health(ctx: typer.Context, as_json: Json = False) -> None:
    """Score the pool: exit 0 healthy, 1 warning, 2 danger or critical, 3 unknown."""
    _run(ctx, lambda: commands.health(_options(ctx), as_json))


@app.command()
def recover(
    ctx: typer.Context,
    force: Annotated[
        bool, typer.Option("--force", help="Probe every deactivated key now.")
    ] = False,
    as_json: Json = False,
) -> None:
    """Probe deactivated keys whose recovery time has come, each with one call of its own."""
    _run(ctx, lambda: commands.recover(_options(ctx), force, as_json))


@app.command("test-keys")
def test_keys(
    ctx: typer.Context,
    mode: Annotated[
        str, typer.Argument(help="basic: one call per key; monitor: health report; all: both.")
    ] = "all",
) -> None:
    """Test the keys and write api_key_test_YYYYMMDD_HHMMSS.log under KTO_LOG_DIR."""
    _run(ctx, lambda: commands.test_keys(_options(ctx), mode))


@app.command()
def disable(
    ctx: typer.Context,
    index: Annotated[int, typer.Argument(help="The key's #index.")],
    reason: Annotated[
        str, typer.Option("--reason", help="Why, shown in status.")
    ] = "disabled by hand",
) -> None:
    """Take key #N out of the pool until `enable N`."""
    _run(ctx, lambda: commands.disable(_options(ctx), index, reason))


@app.command()
def enable(
    ctx: typer.Context,
    index: Annotated[int, typer.Argument(help="The key's #index.")],
    force: Annotated[
        bool, typer.Option("--force", help="Put a key the gateway refused back without a probe.")
    ] = False,
) -> None:
    """Put key #N back into the pool (a key the gateway refused must pass a probe first)."""
    _run(ctx, lambda: commands.enable(_options(ctx), index, force))


@app.command()
def collect(
    ctx: typer.Context,
    mode: Annotated[
        str | None, typer.Option("--mode", help="major (default), all, or regions.")
    ] = DEFAULTS.mode,
    regions: Annotated[
        str | None, typer.Option("--regions", help='Legacy area codes, e.g. "1,6,31".')
    ] = DEFAULTS.regions,
    ldong: Annotated[
        str | None, typer.Option("--ldong", help="Province codes (lDongRegnCd), e.g. 11,26,41.")
    ] = DEFAULTS.ldong,
    details: Annotated[
        str, typer.Option("--details", help="intro,common,images, or none, or all.")
    ] = DEFAULTS.details,
    page_size: Annotated[
        int, typer.Option("--page-size", min=1, help="Rows per list page.")
    ] = DEFAULTS.page_size,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, max=64, help="Calls at once.")
    ] = DEFAULTS.concurrency,
    budget: Annotated[
        int | None, typer.Option("--budget", min=0, help="Most calls this run may make.")
    ] = DEFAULTS.budget,
    reserve: Annotated[
        int | None,
        typer.Option("--reserve", min=0, help="Calls per key and operation left unused."),
    ] = DEFAULTS.reserve,
    plan: Annotated[
        bool, typer.Option("--plan", help="Print the detail plan; make no detail call.")
    ] = DEFAULTS.plan,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Start today's listing over.")
    ] = DEFAULTS.fresh,
    quiet: Annotated[
        bool, typer.Option("--quiet", help="Only warnings and the summary.")
    ] = DEFAULTS.quiet,
    as_json: Json = DEFAULTS.as_json,
) -> None:
    """List every restaurant of the chosen provinces, then fetch their details."""
    request = CollectRequest(
        mode, regions, ldong, details, page_size, concurrency, budget, reserve, plan, fresh, quiet,
        as_json,
    )  # fmt: skip
    _run(ctx, lambda: commands.collect(_options(ctx), request))


@app.command()
def export(
    ctx: typer.Context,
    fmt: Annotated[str, typer.Option("--format", help="jsonl or csv.")] = "jsonl",
    output: Annotated[
        Path | None, typer.Option("--output", help="File to write (default: stdout).")
    ] = None,
    include_removed: Annotated[
        bool, typer.Option("--include-removed", help="Also records no longer listed.")
    ] = False,
) -> None:
    """Write the stored records as JSONL or CSV (UTF-8 with BOM), streamed."""
    _run(ctx, lambda: commands.export(_options(ctx), fmt, output, include_removed))


@app.command("regions")
def regions_command(ctx: typer.Context, as_json: Json = False) -> None:
    """Show the legacy area codes, province codes and names, with the service's own list."""
    _run(ctx, lambda: commands.regions(_options(ctx), as_json))


@app.command()
def gateway(
    ctx: typer.Context,
    port: Annotated[
        int, typer.Option("--port", min=1, max=65535, help="Port on 127.0.0.1.")
    ] = 8765,
    config: Annotated[
        Path | None, typer.Option("--config", help="Gateway config JSON (keys, behaviours, data).")
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
) -> None:
    """Run the local gateway, which behaves like the real one, faults included."""
    _run(ctx, lambda: commands.gateway(_options(ctx), port, config, host))


@app.command()
def demo(
    ctx: typer.Context,
    details: Annotated[
        str, typer.Option("--details", help="intro,common,images, or none, or all.")
    ] = DEFAULTS.details,
    reset: Annotated[
        bool, typer.Option("--reset", help="Delete the demo's earlier data first.")
    ] = False,
    as_json: Json = False,
) -> None:
    """Try the whole tool without a key: a local gateway, demo keys of every kind, a collection."""
    _run(ctx, lambda: commands.demo(_options(ctx), details, reset, as_json))


@app.command()
def menu(ctx: typer.Context) -> None:
    """Open the interactive menu: the same commands, chosen by number."""
    from kto_keys.cli.menu import run_menu

    raise typer.Exit(run_menu(_options(ctx)))


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
    with_value = {"--env-file", "--lang"}  # the global options that take a value
    skip = False
    for argument in arguments:
        if skip:
            skip = False
        elif argument in with_value:
            skip = True
        elif not argument.startswith("-"):
            return argument
    return None
