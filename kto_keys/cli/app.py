"""The `kto-keys` command line: parse options, call the library, render, map errors to exit codes."""

from __future__ import annotations

import asyncio
import functools
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from kto_keys.cli.demo import DEMO_DIR, demo_gateway_config, demo_key_list, demo_settings
from kto_keys.cli.progress import ProgressDisplay
from kto_keys.cli.render import (
    health_lines,
    make_console,
    note_detail,
    print_json,
    region_table_view,
    status_table,
    summary_lines,
)
from kto_keys.cli.signals import run_async
from kto_keys.core.clock import KST, Clock, SystemClock
from kto_keys.core.codes import describe
from kto_keys.core.errors import KtoKeysError, SettingsError
from kto_keys.core.keys import ServiceKey, redact
from kto_keys.core.lang import pick
from kto_keys.core.pool import Reason
from kto_keys.core.regions import region_table, select
from kto_keys.core.version import __version__
from kto_keys.edges.atomic import atomic_write_text
from kto_keys.edges.logbook import setup_logging
from kto_keys.edges.settings import Settings, load_settings
from kto_keys.edges.store import Store
from kto_keys.jobs import keys as api
from kto_keys.jobs.collect import CollectOptions, last_report
from kto_keys.jobs.collect import collect as collect_job
from kto_keys.jobs.details import parse_kinds
from kto_keys.jobs.export import export_records
from kto_keys.jobs.listing import DEFAULT_PAGE_SIZE
from kto_keys.jobs.session import open_runtime

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
    resolved_lang: str = "ko"

    def settings(self, require_keys: bool = True, **overrides: str | None) -> Settings:
        """Load settings with the CLI's overrides on top."""
        merged = {"KTO_LANG": self.lang, **overrides}
        settings = load_settings(self.env_file, {k: v for k, v in merged.items() if v is not None})
        self.keys = settings.keys
        self.resolved_lang = settings.lang
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
            _fail(
                pick(
                    STATE.resolved_lang,
                    "중단됨: 작업은 저장되었습니다",
                    "interrupted: the work is kept",
                ),
                130,
            )
        except BrokenPipeError:  # the reader (e.g. `| head`) went away: stop quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(1) from None
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


Json = Annotated[bool, typer.Option("--json", help="Print JSON for scripts (on stdout).")]


@app.command()
@guarded
def status(as_json: Json = False) -> None:
    """Show every key: state, usage today per operation, errors, and when it is next usable."""
    settings = STATE.settings()
    rows = api.status_rows(settings, STATE.clock)
    now = STATE.clock.now()
    if as_json:
        print_json({"now": now.isoformat(), "keys": [row.to_json() for row in rows]})
        return
    make_console().print(status_table(rows, settings.lang))


@app.command()
@guarded
def health(as_json: Json = False) -> None:
    """Score the pool: exit 0 healthy, 1 warning, 2 danger or critical, 3 unknown."""
    try:
        settings = STATE.settings(require_keys=False)
        report = api.check_health(settings, STATE.clock) if settings.keys else None
    except KtoKeysError as error:
        sys.stderr.write(f"kto-keys: {redact(str(error), STATE.keys)}\n")
        raise typer.Exit(3) from None
    if report is None:
        sys.stderr.write("kto-keys: KTO_API_KEY is empty: health is unknown\n")
        if as_json:
            print_json({"level": "unknown", "score": None, "working": 0, "total": 0})
        raise typer.Exit(3)
    if as_json:
        print_json(
            {
                "level": str(report.level),
                "score": round(report.score, 1),
                "working": report.working,
                "total": report.total,
                "attention": [
                    {
                        "key": f"#{n.key.index}",
                        "preview": n.key.preview,
                        "reason": str(n.attention),
                        "detail": note_detail(n),
                        "recovery_at": n.until.isoformat() if n.until else None,
                    }
                    for n in report.attention
                ],
                "limits": [
                    {
                        "key": f"#{n.key.index}",
                        "preview": n.key.preview,
                        "limit": f"{'spent' if n.reason is Reason.QUOTA_SPENT else 'cooling'}:{n.operation}",
                        "until": n.until.isoformat() if n.until else None,
                    }
                    for n in report.limits
                ],
            }
        )
    else:
        console = make_console()
        for line in health_lines(report, settings.lang):
            console.print(line, markup=False)
    raise typer.Exit(report.exit_code)


@app.command()
@guarded
def recover(
    force: Annotated[
        bool, typer.Option("--force", help="Probe every deactivated key now.")
    ] = False,
    as_json: Json = False,
) -> None:
    """Probe deactivated keys whose recovery time has come, each with one call of its own."""
    settings = STATE.settings()
    runtime = open_runtime(settings, STATE.clock)
    _setup_logs(settings)
    results = asyncio.run(api.recover_keys(runtime, force=force))
    if as_json:
        print_json(
            [
                {
                    "key": f"#{r.key.index}",
                    "preview": r.key.preview,
                    "recovered": r.recovered,
                    "code": r.outcome.code,
                    "outcome": str(r.outcome.kind),
                }
                for r in results
            ]
        )
        return
    console = make_console()
    if not results:
        console.print(
            pick(
                settings.lang,
                "복구할 때가 된 비활성 키가 없습니다 (--force로 모두 시도)",
                "no deactivated key is due for recovery (--force probes them all)",
            ),
            markup=False,
        )
    for result in results:
        what = (
            describe(result.outcome.code, settings.lang, result.outcome.symbol)
            if result.outcome.code
            else result.outcome.message or str(result.outcome.kind)
        )
        verdict = (
            pick(settings.lang, "♻️ 복구됨", "♻️ recovered")
            if result.recovered
            else pick(settings.lang, "⛔ 여전히 사용 불가", "⛔ still unusable")
        )
        console.print(f"#{result.key.index} {result.key.preview}: {verdict} ({what})", markup=False)


@app.command("test-keys")
@guarded
def test_keys(
    mode: Annotated[
        str, typer.Argument(help="basic: one call per key; monitor: health report; all: both.")
    ] = "all",
) -> None:
    """Test the keys and write api_key_test_YYYYMMDD_HHMMSS.log under KTO_LOG_DIR."""
    if mode not in ("basic", "monitor", "all"):
        raise SettingsError(f"test-keys: unknown mode {mode!r}; valid: basic, monitor, all")
    settings = STATE.settings()
    now = STATE.clock.now()
    log_path = settings.log_dir / f"api_key_test_{now.astimezone(KST):%Y%m%d_%H%M%S}.log"
    lines: list[str] = []
    code = 0
    if mode in ("basic", "all"):
        runtime = open_runtime(settings, STATE.clock)
        _setup_logs(settings)
        for test in asyncio.run(api.test_all_keys(runtime)):
            outcome = test.outcome
            what = (
                describe(outcome.code, settings.lang, outcome.symbol)
                if outcome.code
                else outcome.message
            )
            mark = "✅" if outcome.is_success else "❌"
            latency = f" {test.latency_ms:.0f}ms" if test.latency_ms is not None else ""
            lines.append(
                f"{mark} #{test.index} {test.preview}: {outcome.kind}{latency} {what or ''}".rstrip()
            )
            code = code if outcome.is_success else 1
    if mode in ("monitor", "all"):
        report = api.check_health(settings, STATE.clock)
        lines.extend(health_lines(report, settings.lang))
        code = max(code, report.exit_code)
    console = make_console()
    for line in lines:
        console.print(line, markup=False)
    atomic_write_text(log_path, redact("\n".join(lines) + "\n", settings.keys))
    err_console().print(
        pick(settings.lang, f"기록: {log_path}", f"written: {log_path}"), markup=False
    )
    raise typer.Exit(min(code, 1))


@app.command()
@guarded
def disable(
    index: Annotated[int, typer.Argument(help="The key's #index.")],
    reason: Annotated[
        str, typer.Option("--reason", help="Why, shown in status.")
    ] = "disabled by hand",
) -> None:
    """Take key #N out of the pool until `enable N`."""
    settings = STATE.settings()
    row = api.deactivate_key(index, reason, settings, STATE.clock)
    make_console().print(f"#{row.index} {row.preview}: {row.state} ({reason})", markup=False)


@app.command()
@guarded
def enable(index: Annotated[int, typer.Argument(help="The key's #index.")]) -> None:
    """Put key #N back into the pool."""
    settings = STATE.settings()
    row = api.reactivate_key(index, settings, STATE.clock)
    make_console().print(f"#{row.index} {row.preview}: {row.state}", markup=False)


@app.command()
@guarded
def collect(
    mode: Annotated[
        str | None, typer.Option("--mode", help="major (default), all, or regions.")
    ] = None,
    regions: Annotated[
        str | None, typer.Option("--regions", help='Legacy area codes, e.g. "1,6,31".')
    ] = None,
    ldong: Annotated[
        str | None, typer.Option("--ldong", help="Province codes (lDongRegnCd), e.g. 11,26,41.")
    ] = None,
    details: Annotated[
        str, typer.Option("--details", help="intro,common,images, or none, or all.")
    ] = "intro,common",
    page_size: Annotated[
        int, typer.Option("--page-size", min=1, help="Rows per list page.")
    ] = DEFAULT_PAGE_SIZE,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, max=64, help="Calls at once.")
    ] = 4,
    budget: Annotated[
        int | None, typer.Option("--budget", min=0, help="Most calls this run may make.")
    ] = None,
    reserve: Annotated[
        int | None,
        typer.Option("--reserve", min=0, help="Calls per key and operation left unused."),
    ] = None,
    plan: Annotated[
        bool, typer.Option("--plan", help="Print the detail plan; make no detail call.")
    ] = False,
    fresh: Annotated[bool, typer.Option("--fresh", help="Start today's listing over.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="Only warnings and the summary.")] = False,
    as_json: Json = False,
) -> None:
    """List every restaurant of the chosen provinces, then fetch their details."""
    kinds = parse_kinds(details)
    settings = STATE.settings(KTO_RESERVE=None if reserve is None else str(reserve))
    selection = select(mode, regions, ldong, _cached_provinces(settings))
    options = CollectOptions(selection, kinds, page_size, concurrency, budget, plan, fresh)
    _run_collect(settings, options, quiet=quiet, as_json=as_json)


@app.command()
@guarded
def export(
    fmt: Annotated[str, typer.Option("--format", help="jsonl or csv.")] = "jsonl",
    output: Annotated[
        Path | None, typer.Option("--output", help="File to write (default: stdout).")
    ] = None,
    include_removed: Annotated[
        bool, typer.Option("--include-removed", help="Also records no longer listed.")
    ] = False,
) -> None:
    """Write the stored records as JSONL or CSV (UTF-8 with BOM), streamed."""
    settings = STATE.settings(require_keys=False)
    count = export_records(settings.db_path, fmt.lower(), output, include_removed)
    if output is not None:
        err_console().print(
            pick(
                settings.lang, f"{count}건 기록: {output}", f"{count} records written to {output}"
            ),
            markup=False,
        )


def _cached_provinces(settings: Settings) -> dict[str, str] | None:
    """The service's province list as last fetched, or None when never fetched."""
    if not settings.db_path.exists():
        return None
    with Store(settings.db_path) as store:
        _, cached = store.cached_provinces()
    return cached or None


@app.command("regions")
@guarded
def regions_command(as_json: Json = False) -> None:
    """Show the legacy area codes, province codes and names, with the service's own list."""
    settings = STATE.settings(require_keys=False)
    rows = region_table(_cached_provinces(settings))
    if as_json:
        print_json(
            [
                {
                    "area": r.area,
                    "lDongRegnCd": r.ldong,
                    "name": r.name_ko,
                    "name_en": r.name_en,
                    "listed": r.listed,
                }
                for r in rows
            ]
        )
        return
    make_console().print(region_table_view(rows, settings.lang))


@app.command()
@guarded
def gateway(
    port: Annotated[int, typer.Option("--port", help="Port on 127.0.0.1.")] = 8765,
    config: Annotated[
        Path | None, typer.Option("--config", help="Gateway config JSON (keys, behaviours, data).")
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
) -> None:
    """Run the local gateway, which behaves like the real one, faults included."""
    from kto_keys.sim import GatewayConfig, GatewayConfigError, serve

    if config is None:
        gateway_config = demo_gateway_config()
        env_path = DEMO_DIR / "gateway.env"
        base_url = f"http://{host}:{port}/B551011/KorService2"
        atomic_write_text(
            env_path,
            f"KTO_API_KEY={demo_key_list()}\nKTO_API_BASE_URL={base_url}\n"
            f"KTO_CACHE_PATH={DEMO_DIR}/gateway_cache.json\nKTO_DB_PATH={DEMO_DIR}/gateway.db\n",
        )
        err_console().print(f"demo keys: kto-keys --env-file {env_path} status", markup=False)
    else:
        try:
            gateway_config = GatewayConfig.from_json(config)
        except (GatewayConfigError, OSError) as error:
            raise SettingsError(f"--config {config}: {error}") from None
    serve(gateway_config, host=host, port=port)


@app.command()
@guarded
def demo(
    details: Annotated[
        str, typer.Option("--details", help="intro,common,images, or none, or all.")
    ] = "intro,common",
    reset: Annotated[
        bool, typer.Option("--reset", help="Delete the demo's earlier data first.")
    ] = False,
    as_json: Json = False,
) -> None:
    """Try the whole tool without a key: a local gateway, demo keys of every kind, a collection."""
    from kto_keys.sim import run_gateway

    kinds = parse_kinds(details)
    if reset:
        shutil.rmtree(DEMO_DIR, ignore_errors=True)
    with run_gateway(demo_gateway_config()) as server:
        settings = demo_settings(server.base_url, lang=STATE.lang)
        STATE.keys = settings.keys
        options = CollectOptions(select("major"), kinds)
        err_console().print(
            pick(
                settings.lang,
                f"🧪 데모: 로컬 게이트웨이 {server.base_url}, 데모 키 {len(settings.keys)}개 (정상 3, 미등록 1, 한도 작음 1, 불안정 1)",
                f"🧪 demo: local gateway at {server.base_url}, {len(settings.keys)} demo keys (3 good, 1 unregistered, 1 small quota, 1 flaky)",
            ),
            markup=False,
        )
        _run_collect(settings, options, quiet=False, as_json=as_json, after=_demo_epilogue)


@app.command()
def menu() -> None:
    """Open the interactive menu: the same commands, chosen by number."""
    from kto_keys.cli.menu import run_menu

    raise typer.Exit(run_menu())


def _demo_epilogue(settings: Settings) -> None:
    console = err_console()
    console.print(
        pick(
            settings.lang,
            f"📦 데모 기록: {settings.db_path}\n   내보내기: KTO_DB_PATH={settings.db_path} kto-keys export --format csv --output restaurants.csv\n   키 상태: 위 요약의 #0(미등록)은 한 번만 호출된 뒤 제외되었습니다",
            f"📦 demo records: {settings.db_path}\n   export: KTO_DB_PATH={settings.db_path} kto-keys export --format csv --output restaurants.csv\n   keys: #0 (unregistered) was called once, then left out",
        ),
        markup=False,
    )


def _setup_logs(settings: Settings) -> Path:
    return setup_logging(settings.log_dir, settings.keys, STATE.clock.now())


def _run_collect(
    settings: Settings,
    options: CollectOptions,
    quiet: bool,
    as_json: bool,
    after: Callable[[Settings], None] | None = None,
) -> None:
    runtime = open_runtime(settings, STATE.clock)
    _setup_logs(settings)
    console = err_console()
    display = ProgressDisplay(console, settings.lang, STATE.clock, quiet=quiet, pool=runtime.pool)
    error: BaseException | None = None
    try:
        with display:
            run_async(collect_job(runtime, options, display))
    except (KtoKeysError, KeyboardInterrupt) as caught:
        error = caught  # the summary comes first, whatever stopped the run
    report = last_report()
    if report is not None:
        data = report.to_json()
        if as_json:
            print_json(data)
        else:
            for line in summary_lines(data, settings.lang):
                console.print(line, markup=False)
    if error is not None:
        raise error
    if after is not None:
        after(settings)


def main() -> None:
    """Entry point of the `kto-keys` script."""
    app()
