"""The `kto-keys` command line: parse options, call the library, render, map errors to exit codes."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from kto_keys import __version__
from kto_keys.clock import Clock, SystemClock
from kto_keys.errors import KtoKeysError
from kto_keys.keys import ServiceKey, redact
from kto_keys.render import make_console, print_json, status_table
from kto_keys.runtime import open_runtime
from kto_keys.settings import Settings, load_settings
from kto_keys.status import key_status

app = typer.Typer(
    name="kto-keys",
    help="Collect TourAPI restaurant data across a pool of service keys.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(slots=True)
class CliState:
    """Global options, shared by every command."""

    env_file: Path | None = None
    lang: str | None = None
    debug: bool = False
    clock: Clock = field(default_factory=SystemClock)
    keys: tuple[ServiceKey, ...] = ()

    def settings(self, require_keys: bool = True, **overrides: str | None) -> Settings:
        """Load settings with the CLI's overrides on top."""
        merged = {"KTO_LANG": self.lang, **overrides}
        settings = load_settings(self.env_file, {k: v for k, v in merged.items() if v is not None})
        self.keys = settings.keys
        for warning in settings.key_warnings:
            err_console().print(f"⚠️  {warning}")
        if require_keys:
            settings.require_keys()
        return settings


STATE = CliState()


def err_console() -> Any:
    """The console for logs, progress and errors."""
    return make_console(stderr=True)


def guarded(command: F) -> F:
    """Turn every error into one line on stderr and the exit code the interface promises."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except typer.Exit:
            raise
        except KtoKeysError as error:
            _fail(str(error), error.exit_code)
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except Exception as error:  # the last resort: one line, traceback only with --debug
            if STATE.debug:
                raise
            _fail(f"unexpected error: {type(error).__name__}: {error}", 1)

    return wrapper  # type: ignore[return-value]


def _fail(message: str, code: int) -> None:
    line = redact(" ".join(message.split()), STATE.keys)
    sys.stderr.write(f"kto-keys: {line}\n")
    raise typer.Exit(code)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"kto-keys {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    env_file: Annotated[
        Path | None,
        typer.Option("--env-file", help="Read settings from this file instead of ./.env."),
    ] = None,
    lang: Annotated[str | None, typer.Option("--lang", help="Message language: ko or en.")] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks of unexpected errors.")
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Collect TourAPI restaurant data across a pool of service keys."""
    STATE.env_file = env_file
    STATE.lang = lang
    STATE.debug = debug


@app.command()
@guarded
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Show every key: state, usage today per operation, errors, and when it is next usable."""
    settings = STATE.settings()
    runtime = open_runtime(settings, STATE.clock)
    now = STATE.clock.now()
    rows = key_status(runtime.pool, now, settings.lang)
    runtime.save()
    if runtime.cache_notice:
        err_console().print(f"⚠️  {runtime.cache_notice}")
    if as_json:
        print_json({"now": now.isoformat(), "keys": [row.to_json() for row in rows]})
        return
    make_console().print(status_table(rows, settings.lang))


def main() -> None:
    """Entry point of the `kto-keys` script."""
    app()
