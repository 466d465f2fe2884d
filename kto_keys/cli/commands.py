"""What each command does for a person: load settings, call a job, render the result, and give
the exit code. The typer app and the menu both call these; neither does work of its own."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from kto_keys.cli import exits
from kto_keys.cli.demo import DEMO_DIR, demo_gateway_config, demo_key_list, demo_settings
from kto_keys.cli.messages import Messages
from kto_keys.cli.monitor import Monitor, monitoring
from kto_keys.cli.progress import ProgressDisplay
from kto_keys.cli.render import (
    attention_line,
    expired_advice,
    health_lines,
    history_table,
    keys_json,
    keys_table,
    log_lines,
    make_console,
    print_json,
    region_table_view,
    status_lines,
    status_table,
    summary_lines,
)
from kto_keys.cli.signals import run_async
from kto_keys.core.clock import KST, Clock
from kto_keys.core.errors import (
    KtoKeysError,
    ServiceConfigError,
    SettingsError,
    SettingsProblem,
    SharedStateLostError,
)
from kto_keys.core.health import HealthLevel, KeyNote
from kto_keys.core.keyring import parse_expiry, parse_keys_file
from kto_keys.core.keys import (
    KeyAttributes,
    ServiceKey,
    fingerprint_of,
    has_known_shape,
    normalize_key,
    redact,
)
from kto_keys.core.operations import parse_detail_kinds
from kto_keys.core.pool import KeyPool, PoolEvent
from kto_keys.core.regions import region_table, select
from kto_keys.core.shared import mask_url
from kto_keys.core.status import KeyStatusRow
from kto_keys.edges.atomic import atomic_write_text
from kto_keys.edges.client import ProbeResult
from kto_keys.edges.clock import SystemClock
from kto_keys.edges.keystore import Added
from kto_keys.edges.logbook import logger, setup_logging
from kto_keys.edges.settings import (
    DEFAULT_CONCURRENCY,
    DEFAULT_DETAILS,
    DEFAULT_HISTORY_WINDOW,
    DEFAULT_PAGE_SIZE,
    Settings,
    load_settings,
    read_keys_file,
)
from kto_keys.edges.store import Store
from kto_keys.jobs import keyring as keyring_jobs
from kto_keys.jobs import keys as key_jobs
from kto_keys.jobs import watch as watch_jobs
from kto_keys.jobs.collect import CollectOptions, CollectReport
from kto_keys.jobs.collect import collect as collect_job
from kto_keys.jobs.export import export_records
from kto_keys.jobs.session import Session, open_session
from kto_keys.jobs.watch import Notice


@dataclass(frozen=True, slots=True)
class CliOptions:
    """The global options of one invocation (typer keeps them on its context)."""

    env_file: Path | None = None
    lang: str | None = None
    debug: bool = False
    allow_odd_keys: bool = False
    keys_file: Path | None = None
    clock: Clock = field(default_factory=SystemClock)
    # --state-url: the shared key pool's server, over KTO_STATE_URL.
    state_url: str | None = None


@dataclass(frozen=True, slots=True)
class CollectRequest:
    """The options of `kto-keys collect`; every default is the settings' own."""

    mode: str | None = None
    regions: str | None = None
    ldong: str | None = None
    details: str = ",".join(DEFAULT_DETAILS)
    page_size: int = DEFAULT_PAGE_SIZE
    concurrency: int = DEFAULT_CONCURRENCY
    budget: int | None = None
    reserve: int | None = None
    plan: bool = False
    fresh: bool = False
    quiet: bool = False
    as_json: bool = False


Command = Callable[[], int]


# --- the one choke point ------------------------------------------------------------------------
def run_guarded(options: CliOptions, command: Command) -> int:
    """Run a command; turn whatever stops it into one line on stderr and the promised exit code."""
    try:
        return command()
    except (KtoKeysError, KeyboardInterrupt) as error:
        return report_error(options, error)
    except BrokenPipeError:  # the reader (e.g. `| head`) went away: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return exits.FAILED
    except Exception as error:  # the last resort: one line, traceback only with --debug
        if options.debug:
            raise
        return report_error(options, error)


def report_error(options: CliOptions, error: BaseException) -> int:
    """Write one line for an error on stderr, in the user's language; return its exit code."""
    lang, keys = _language_and_keys(options)
    # One line, whatever the error's words held; a detail line (Korean) stays a line of its own.
    first, *details = Messages(lang).error(error).split("\n")
    text = "\n".join([f"kto-keys: {' '.join(first.split())}", *details])
    sys.stderr.write(redact(text, keys) + "\n")
    return exits.exit_code_for(error)


def _language_and_keys(options: CliOptions) -> tuple[str, tuple[ServiceKey, ...]]:
    """The language to speak and the keys to mask, as far as the settings can be read."""
    try:
        settings = load_settings(options.env_file, _lang_override(options))
    except KtoKeysError:
        wanted = options.lang or os.environ.get("KTO_LANG", "")
        return ("en" if wanted.strip().lower() == "en" else "ko"), ()
    return settings.lang, settings.keys


def _lang_override(options: CliOptions) -> dict[str, str]:
    overrides = {"KTO_LANG": options.lang} if options.lang else {}
    if options.allow_odd_keys:
        overrides["KTO_ALLOW_ODD_KEYS"] = "true"
    if options.keys_file is not None:
        overrides["KTO_API_KEY_FILE"] = str(options.keys_file)
    if options.state_url is not None:
        overrides["KTO_STATE_URL"] = options.state_url
    return overrides


@contextlib.contextmanager
def _building() -> Iterator[None]:
    """Start-up builds long-lived objects by the ten thousand (keys, their states, the pool):
    the cyclic garbage collector would walk them again and again and find no garbage. It is
    paused while they are built, and they are kept out of its later passes (gc.freeze); the
    process is the command line's own, so this decides for no one else."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def load(options: CliOptions, require_keys: bool = True, **overrides: str | None) -> Settings:
    """Settings with the command line's options on top; odd key entries are warned about."""
    merged = {k: v for k, v in {**_lang_override(options), **overrides}.items() if v is not None}
    with _building():
        settings = load_settings(options.env_file, merged)
    m = Messages(settings.lang)
    imported = keyring_jobs.auto_import(settings, options.clock)
    if imported is not None:
        _say_store(m, imported.store)
        _say(m("keys.auto_imported", imported=imported.imported, path=imported.store.path))
        settings = load_settings(options.env_file, merged)
    for warning in settings.key_warnings:
        _say(f"⚠️  {m.key_warning(warning)}")
    for removed in settings.removed_keys:
        _say(m("warning.removed_key", **dataclasses.asdict(removed)))
    if require_keys:
        settings.require_keys()
    return settings


def _open(
    options: CliOptions,
    settings: Settings,
    logs: bool = False,
    quiet: bool = False,
    monitor: Monitor | None = None,
) -> Session:
    """A session whose key events become log lines, and whose lost cache is reported; with a
    monitor, the session whose keys the monitored command touches.

    Under --quiet stderr shows only what a person must act on (a key taken out, a request the
    service refused as ours, a history or an event command that failed), once each; the log file
    keeps every line.
    """
    m = Messages(settings.lang)
    if logs:
        level = logging.ERROR if quiet else logging.WARNING
        setup_logging(
            settings.log_dir,
            settings.keys,
            options.clock.now(),
            console_level=level,
            on_file_error=lambda error: _say(m.log_unwritable(error)),
        )

    def log_event(event: PoolEvent, pool: KeyPool) -> None:
        level, line = m.event(event, pool)
        logger().log(level, line)

    def notice(notice: Notice) -> None:
        line = redact(m.notice(notice), settings.keys)
        if logs:
            logger().error(line)
        else:
            _say(line)

    with _building():
        session = open_session(settings, options.clock, log_event, notices=notice)
    if session.cache_notice:
        _say(m.cache_lost(session.cache_notice))
    journal = session.journal
    if journal is not None and journal.replayed and settings.state_url is not None:
        line = m(
            "journal.replayed",
            count=journal.replayed,
            path=journal.path,
            url=mask_url(settings.state_url),
        )
        if logs:  # news, not a thing to act on: under --quiet it goes to the log file alone
            logger().warning(line)
        else:
            _say(line)
    return monitor.attach(session) if monitor is not None else session


def _say_store(m: Messages, store: keyring_jobs.StoreReport) -> None:
    """Say where a master key file was made, the one time it is made."""
    if store.master_created is not None:
        _say(m("keys.master_created", path=store.master_created))


def _program() -> str:
    """How to run this very command again: the script's own path, so hints work without an
    activated virtual environment."""
    script = Path(sys.argv[0])
    return str(script.resolve()) if script.name == "kto-keys" else "kto-keys"


def _say(line: str) -> None:
    """One whole line on stderr: never wrapped, so that a log reader sees it as one."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


# --- the commands -----------------------------------------------------------------------------
def status(options: CliOptions, as_json: bool, wide: bool = False) -> int:
    """Every key: state, usage today per operation, errors, next usable."""
    settings = load(options)
    session = _open(options, settings)
    rows = key_jobs.status_of(session)
    if as_json:
        now = options.clock.now()
        print_json({"now": now.isoformat(), "keys": [row.to_json() for row in rows]})
        return exits.OK
    view = status_table if wide else status_lines
    make_console().print(view(rows, Messages(settings.lang)))
    return exits.OK


def health(options: CliOptions, as_json: bool) -> int:
    """The health score: exit 0 healthy, 1 warning, 2 danger or critical, 3 unknown."""
    try:
        settings = load(options, require_keys=False)
        report = key_jobs.health_of(_open(options, settings)) if settings.keys else None
    except KtoKeysError as error:
        report_error(options, error)
        return exits.health_exit_for_error(error)
    m = Messages(settings.lang)
    if report is None:
        sys.stderr.write(f"kto-keys: {m('health.no_keys')}\n")
        if as_json:
            print_json({"level": "unknown", "score": None, "working": 0, "total": 0})
        return exits.HEALTH_EXIT_CODES[HealthLevel.UNKNOWN]
    if as_json:
        print_json(key_jobs.health_json(report))
    else:
        console = make_console()
        for line in health_lines(report, m):
            console.print(line, markup=False)
    return exits.HEALTH_EXIT_CODES[report.level]


def recover(options: CliOptions, force: bool, as_json: bool) -> int:
    """Probe deactivated keys whose recovery time has come, each with a call of its own; an
    expired key no probe tries (it waits for a new expiry date) is named and stays out (1)."""
    settings = load(options)
    with monitoring(options.clock, settings, "recover", _say) as monitor:
        session = _open(options, settings, logs=True, monitor=monitor)
        results = asyncio.run(key_jobs.recover_keys(session, force=force))
        waiting = key_jobs.expired_waiting(session, [result.key for result in results])
        return monitor.done(_show_recovered(settings, results, waiting, as_json))


def _show_recovered(
    settings: Settings, results: list[ProbeResult], waiting: list[KeyNote], as_json: bool
) -> int:
    code = exits.recover_exit_code([result.recovered for result in results], len(waiting))
    if as_json:
        print_json(
            [
                {
                    "key": f"#{r.key.index}",
                    "preview": r.key.preview,
                    "recovered": r.recovered,
                    "probed": True,
                    "code": r.outcome.code,
                    "outcome": str(r.outcome.kind),
                }
                for r in results
            ]
            + [
                {
                    "key": f"#{note.key.index}",
                    "preview": note.key.preview,
                    "recovered": False,
                    "probed": False,  # it waits for a new expiry date
                    "code": note.error.code if note.error else None,
                    "outcome": str(note.attention),
                }
                for note in waiting
            ]
        )
        return code
    m = Messages(settings.lang)
    console = make_console()
    if not results:
        console.print(m("recover.none"), markup=False)
    for result in results:
        outcome = result.outcome
        what, detail = m.outcome_words(outcome)
        if not what:  # no code, no words: English names the kind as ever, Korean in its words
            what = str(outcome.kind) if m.lang == "en" else m(f"outcome.{outcome.kind.value}")
        verdict = m("recover.recovered") if result.recovered else m("recover.still_unusable")
        line = f"#{result.key.index} {result.key.preview}: {verdict} ({what}){detail}"
        console.print(line, markup=False)
    if waiting:  # as `health` names them: what to do, and why no probe tries them meanwhile
        for line in [*(attention_line(note, m) for note in waiting), expired_advice(waiting, m)]:
            console.print(line, markup=False)
    return code


TEST_MODES = ("basic", "monitor", "all")


def test_keys(options: CliOptions, mode: str) -> int:
    """One call per key and/or the health report, also written under KTO_LOG_DIR.

    The exit code follows `health` (0 healthy, 1 warning, 2 danger or critical, 3 unknown), and a
    usage or configuration error is 3 too, so that a monitor's 2 always means danger.
    """
    try:
        if mode not in TEST_MODES:
            raise SettingsError(
                SettingsProblem.UNKNOWN_MODE, setting="test-keys", value=mode, valid=TEST_MODES
            )
        settings = load(options)
        with monitoring(options.clock, settings, "test-keys", _say) as monitor:
            return monitor.done(_test_keys(options, settings, mode, monitor))
    except (SettingsError, ServiceConfigError, SharedStateLostError) as error:
        report_error(options, error)
        return exits.health_exit_for_error(error)  # as `health`: the same convention


def _test_keys(options: CliOptions, settings: Settings, mode: str, monitor: Monitor) -> int:
    m = Messages(settings.lang)
    now = options.clock.now()
    log_path = settings.log_dir / f"api_key_test_{now.astimezone(KST):%Y%m%d_%H%M%S}.log"
    lines: list[str] = []
    if mode in ("basic", "all"):
        session = _open(options, settings, logs=True, monitor=monitor)
        for test in asyncio.run(key_jobs.test_all_keys(session)):
            outcome = test.outcome
            what, detail = m.outcome_words(outcome)  # (in Korean the kind says it, then detail)
            mark = "✅" if outcome.is_success else "❌"
            latency = f" {test.latency_ms:.0f}ms" if test.latency_ms is not None else ""
            kind = m(f"outcome.{outcome.kind.value}")
            line = f"{mark} #{test.index} {test.preview}: {kind}{latency} {what or ''}".rstrip()
            lines.append(line + detail)
    report = key_jobs.health_of(_open(options, settings, monitor=monitor))
    if mode in ("monitor", "all"):
        lines.extend(health_lines(report, m))
    console = make_console()
    for line in lines:
        console.print(line, markup=False)
    atomic_write_text(log_path, redact("\n".join(lines) + "\n", settings.keys))
    make_console(stderr=True).print(m("test_keys.written", path=log_path), markup=False)
    return exits.HEALTH_EXIT_CODES[report.level]


def disable(options: CliOptions, index: int, reason: str | None) -> int:
    """Take key #N out of the pool until `enable N`."""
    settings = load(options)
    with monitoring(options.clock, settings, "disable", _say) as monitor:
        row = key_jobs.disable(_open(options, settings, monitor=monitor), index, reason)
        state = Messages(settings.lang)(f"condition.{row.state.value}")
        words = f" ({reason})" if reason else ""
        make_console().print(f"#{row.index} {row.preview}: {state}{words}", markup=False)
        return monitor.done(exits.OK)


def enable(options: CliOptions, index: int, force: bool = False) -> int:
    """Put key #N back into the pool; a key the gateway refused must pass a probe first."""
    settings = load(options)
    with monitoring(options.clock, settings, "enable", _say) as monitor:
        session = _open(options, settings, logs=True, monitor=monitor)
        row = asyncio.run(key_jobs.enable_key(session, index, force))
        m = Messages(settings.lang)
        state = m(f"condition.{row.state.value}")
        make_console().print(f"#{row.index} {row.preview}: {state}", markup=False)
        if row.working:
            return monitor.done(exits.OK)
        make_console(stderr=True).print(m("enable.still_out", index=row.index), markup=False)
        return monitor.done(exits.FAILED)


def collect(options: CliOptions, request: CollectRequest) -> int:
    """List every restaurant of the chosen provinces, then fetch their details."""
    kinds = parse_detail_kinds(request.details)
    reserve = None if request.reserve is None else str(request.reserve)
    settings = load(options, KTO_RESERVE=reserve)
    # Monitored from here: a cron monitor hears of a bad --regions too, as a failed run (2).
    with monitoring(options.clock, settings, "collect", _say) as monitor:
        selection = select(request.mode, request.regions, request.ldong, cached_provinces(settings))
        collect_options = CollectOptions(
            selection,
            kinds,
            request.page_size,
            request.concurrency,
            request.budget,
            request.plan,
            request.fresh,
        )
        code = _run_collect(
            options,
            settings,
            collect_options,
            monitor,
            quiet=request.quiet,
            as_json=request.as_json,
        )
        return monitor.done(code)


def state_move(options: CliOptions, direction: str) -> int:
    """`state export` (the shared server to the JSON cache) or `state import` (the other way)."""
    settings = load(options)
    if settings.state_url is None:
        raise SettingsError(SettingsProblem.STATE_URL_NEEDED, command=f"state {direction}")
    server, cache = mask_url(settings.state_url), str(settings.cache_path)
    if direction == "export":
        count = key_jobs.export_state(settings, options.clock)
        source, target = server, cache
    else:
        count = key_jobs.import_state(settings, options.clock)
        source, target = cache, server
    line = Messages(settings.lang)("state.exported", count=count, source=source, target=target)
    make_console(stderr=True).print(line, markup=False)
    return exits.OK


def export(options: CliOptions, fmt: str, output: Path | None, include_removed: bool) -> int:
    """The stored records as JSONL or CSV (UTF-8 with BOM), streamed."""
    settings = load(options, require_keys=False)
    count = export_records(settings.db_path, fmt.lower(), output, include_removed)
    if output is not None:
        make_console(stderr=True).print(
            Messages(settings.lang)("export.written", count=count, path=output), markup=False
        )
    return exits.OK


def log(
    options: CliOptions,
    key: int | None = None,
    since: str | None = None,
    kind: str | None = None,
    as_json: bool = False,
) -> int:
    """The rotation log: when and why each key was taken out or came back, oldest first."""
    settings = load(options, require_keys=False)
    events = watch_jobs.key_log(
        settings,
        key,
        watch_jobs.parse_since(since) if since is not None else None,
        watch_jobs.parse_kind(kind) if kind is not None else None,
    )
    if as_json:
        print_json([event.to_json() for event in events])
        return exits.OK
    console = make_console()
    m = Messages(settings.lang)
    for line in log_lines(events, m) or [m("log.empty")]:
        console.print(line, markup=False)
    return exits.OK


def history(
    options: CliOptions,
    days: int = DEFAULT_HISTORY_WINDOW,
    key: int | None = None,
    as_json: bool = False,
) -> int:
    """Each key over the last days: calls per day, success rate, p50/p95, days a quota ran out."""
    settings = load(options, require_keys=False)
    report = watch_jobs.usage_history(settings, days, key, options.clock)
    if as_json:
        print_json(report.to_json())
        return exits.OK
    make_console().print(history_table(report, Messages(settings.lang)))
    return exits.OK


def cached_provinces(settings: Settings) -> dict[str, str] | None:
    """The service's province list as last fetched, or None when never fetched."""
    if not settings.db_path.exists():
        return None
    with Store(settings.db_path, readonly=True) as store:
        _, cached = store.cached_provinces()
    return cached or None


def regions(options: CliOptions, as_json: bool) -> int:
    """The legacy area codes, province codes and names, with the service's own list."""
    settings = load(options, require_keys=False)
    rows = region_table(cached_provinces(settings))
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
        return exits.OK
    make_console().print(region_table_view(rows, Messages(settings.lang)))
    return exits.OK


def gateway(options: CliOptions, port: int, config: Path | None, host: str) -> int:
    """Run the local gateway, which behaves like the real one, faults included."""
    from kto_keys.sim import GatewayConfig, GatewayConfigError, port_problem, serve

    problem = port_problem(host, port)
    if problem is not None:  # before anything is written: a busy port changes nothing
        raise SettingsError(
            SettingsProblem.PORT_UNAVAILABLE, value=f"{host}:{port}", reason=problem
        )
    if config is None:
        gateway_config = demo_gateway_config()
        env_path = DEMO_DIR / "gateway.env"
        base_url = f"http://{host}:{port}/B551011/KorService2"
        atomic_write_text(
            env_path,
            f"KTO_API_KEY={demo_key_list()}\nKTO_API_BASE_URL={base_url}\n"
            f"KTO_CACHE_PATH={DEMO_DIR}/gateway_cache.json\nKTO_DB_PATH={DEMO_DIR}/gateway.db\n",
        )
        lang, _ = _language_and_keys(options)
        make_console(stderr=True).print(
            Messages(lang)("gateway.demo_keys", program=_program(), path=env_path), markup=False
        )
    else:
        try:
            gateway_config = GatewayConfig.from_json(config)
        except (GatewayConfigError, OSError) as error:
            raise SettingsError(
                SettingsProblem.BAD_GATEWAY_CONFIG, path=config, reason=str(error)
            ) from None
    serve(gateway_config, host=host, port=port)
    return exits.OK


def demo(options: CliOptions, details: str, reset: bool, as_json: bool) -> int:
    """The whole tool without a key: a local gateway, demo keys of every kind, a collection."""
    from kto_keys.sim import run_gateway

    kinds = parse_detail_kinds(details)
    if reset:
        shutil.rmtree(DEMO_DIR, ignore_errors=True)
    with run_gateway(demo_gateway_config()) as server:
        settings = demo_settings(server.base_url, lang=options.lang)
        m = Messages(settings.lang)
        make_console(stderr=True).print(
            m("demo.start", url=server.base_url, count=len(settings.keys)), markup=False
        )
        with monitoring(options.clock, settings, "demo", _say) as monitor:
            code = monitor.done(
                _run_collect(
                    options,
                    settings,
                    CollectOptions(select("major"), kinds),
                    monitor,
                    quiet=False,
                    as_json=as_json,
                )
            )
        make_console(stderr=True).print(
            m("demo.end", program=_program(), db=settings.db_path), markup=False
        )
        return code


def _run_collect(
    options: CliOptions,
    settings: Settings,
    collect_options: CollectOptions,
    monitor: Monitor,
    quiet: bool,
    as_json: bool,
) -> int:
    session = _open(options, settings, logs=True, quiet=quiet, monitor=monitor)
    console = make_console(stderr=True)
    m = Messages(settings.lang)
    display = ProgressDisplay(console, m, options.clock, quiet=quiet, pool=session.pool)
    error: BaseException | None = None
    try:
        with display:
            run_async(collect_job(session, collect_options, display))
    except (KtoKeysError, KeyboardInterrupt) as caught:
        error = caught  # the summary comes first, whatever stopped the run
    if display.report is not None:
        monitor.summary = display.report.to_json()  # the end ping's body
    # A refusal of the configuration (2) or of this machine (5) before anything was stored is one
    # line: no summary of a run that never began.
    stored = display.report is not None and display.report.listing.records > 0
    refused = error is not None and exits.exit_code_for(error) in (exits.USAGE, exits.HOST_REFUSED)
    if as_json or not refused or stored:
        _print_summary(display.report, m, console, as_json)
    if error is not None:
        raise error
    return exits.OK


def _print_summary(report: CollectReport | None, m: Messages, console: Any, as_json: bool) -> None:
    if report is None:
        return
    data = report.to_json()
    if as_json:
        print_json(data)
        return
    for line in summary_lines(data, m):
        console.print(line, markup=False)


# --- keys and the key store -------------------------------------------------------------------
def expiry_option(text: str | None) -> date | None:
    """--expires YYYY-MM-DD."""
    if text is None:
        return None
    day = parse_expiry(text)
    if day is None:
        raise SettingsError(SettingsProblem.NOT_A_DATE, setting="--expires", value=text)
    return day


def keys_list(options: CliOptions, as_json: bool) -> int:
    """Every key from every source, with its source, label, limit, expiry and role."""
    settings = load(options, require_keys=False)
    rows: list[KeyStatusRow] = []
    if settings.keys:
        try:
            rows = key_jobs.status_of(_open(options, settings))
        except SharedStateLostError as lost:
            # The keys are this machine's to list; only their states live on the server.
            _say(
                Messages(settings.lang)(
                    "warning.state_unreachable_listing", url=lost.url, reason=lost.reason
                )
            )
            rows = key_jobs.status_unknown(settings)
    removed = [dataclasses.asdict(key) for key in settings.removed_keys]
    if as_json:
        print_json(
            {
                "keys": [keys_json(row) for row in rows],
                "removed": removed,
                "keystore": str(settings.keystore_path)
                if settings.keystore_path.exists()
                else None,
            }
        )
        return exits.OK
    make_console().print(keys_table(rows, Messages(settings.lang)))
    return exits.OK


def keys_add(options: CliOptions, text: str, attributes: KeyAttributes) -> int:
    """Add one key (read by the app from a hidden prompt or stdin) to the key store."""
    settings = load(options, require_keys=False)
    m = Messages(settings.lang)
    words = text.removeprefix("\ufeff").split()
    if not words:
        raise SettingsError(SettingsProblem.KEY_NOT_GIVEN)
    joined = normalize_key("".join(words))  # a key a terminal or a mail broke over lines
    if len(words) > 1 and not has_known_shape(joined):
        raise SettingsError(SettingsProblem.ONE_KEY_AT_A_TIME, count=len(words))
    report = keyring_jobs.add_key(
        joined, attributes, settings, options.clock, allow_odd=options.allow_odd_keys
    )
    _say_store(m, report.store)
    if report.added is Added.PRESENT:
        _say(m("keys.present", preview=report.preview))
        return exits.OK
    after = load_settings(options.env_file, _lang_override(options))
    fingerprint = fingerprint_of(joined)
    index = next((key.index for key in after.keys if key.fingerprint == fingerprint), "?")
    word = "keys.restored" if report.added is Added.RESTORED else "keys.added"
    _say(m(word, index=index, preview=report.preview))
    return exits.OK


def keys_import(
    options: CliOptions, from_env: bool, from_file: Path | None, stdin_text: str | None
) -> int:
    """Move keys from KTO_API_KEY, a keys file, or stdin (keys file format) into the store."""
    if not from_env and from_file is None and stdin_text is None:
        raise SettingsError(SettingsProblem.NO_IMPORT_SOURCE)
    settings = load(options, require_keys=False)
    m = Messages(settings.lang)
    keys: list[ServiceKey] = []
    if from_env:
        # Each with what the other sources say of it (a keys file's label, limit, expiry).
        merged = {key.fingerprint: key for key in settings.keys}
        keys += [merged.get(key.fingerprint, key) for key in settings.env_keys]
    if from_file is not None:
        keys += read_keys_file(from_file, Path.cwd(), options.allow_odd_keys)
    if stdin_text is not None:
        keys += parse_keys_file(stdin_text, "stdin", allow_odd=options.allow_odd_keys)
    if not keys:
        raise SettingsError(SettingsProblem.KEY_NOT_GIVEN)
    report = keyring_jobs.import_keys(keys, settings, options.clock)
    _say_store(m, report.store)
    print(m("keys.imported", imported=report.imported, present=report.present,
            path=report.store.path))  # fmt: skip
    return exits.OK


def keys_remove(options: CliOptions, index: int) -> int:
    """Remove key #N in the key store."""
    settings = load(options)
    m = Messages(settings.lang)
    report = keyring_jobs.remove_key(index, settings, options.clock)
    _say_store(m, report.store)
    print(m("keys.removed", index=report.key.index, preview=report.key.preview))
    return exits.OK


def keys_set(options: CliOptions, index: int, change: keyring_jobs.KeyChange) -> int:
    """Change key #N's attributes in the key store."""
    settings = load(options)
    m = Messages(settings.lang)
    report = keyring_jobs.set_key(index, change, settings, options.clock)
    _say_store(m, report.store)
    print(m("keys.set", index=report.key.index, preview=report.key.preview))
    return exits.OK


def keys_rekey(options: CliOptions) -> int:
    """Encrypt every stored key again with the first master key."""
    settings = load(options, require_keys=False)
    count = keyring_jobs.rekey_store(settings)
    print(Messages(settings.lang)("keys.rekeyed", count=count, path=settings.keystore_path))
    return exits.OK
