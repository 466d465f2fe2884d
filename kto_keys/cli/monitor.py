"""Cron monitoring around each command that touches keys: a ping when `collect` starts and ends
(KTO_PING_URL), the command's run kept in the database, and the metrics file (KTO_METRICS_FILE)
written after it.

Nothing here changes a command's exit code: what cannot be done is one warning line on stderr.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any

from kto_keys.cli import exits
from kto_keys.cli.messages import Messages
from kto_keys.core.clock import Clock
from kto_keys.core.errors import FileAccessError, KtoKeysError
from kto_keys.edges.history import CommandRun, host_name
from kto_keys.edges.ping import PingFailed, ping
from kto_keys.edges.settings import Settings
from kto_keys.jobs.monitoring import calls_by_operation, metrics_text, record_command, write_metrics
from kto_keys.jobs.session import Session, open_session

# The commands whose start and end a cron monitor hears about (the others only write metrics).
PINGED = frozenset({"collect"})


class Monitor:
    """One command's monitoring: started, then ended with its exit code."""

    def __init__(
        self, clock: Clock, settings: Settings, command: str, say: Callable[[str], None]
    ) -> None:
        self.clock = clock
        self.settings = settings
        self.command = command
        self.say = say
        self.m = Messages(settings.lang)
        # The command's exit code when it returns one (an error gives its own).
        self.code = exits.OK
        # The run's JSON summary: the body of the end ping.
        self.summary: dict[str, Any] | None = None
        self._session: Session | None = None
        self._pings = settings.ping_url if command in PINGED else None
        self._ping_failed = False
        self._started_at = clock.now()
        self._started = clock.monotonic()

    def attach(self, session: Session) -> Session:
        """The session whose keys the command touches (a later one replaces an earlier one)."""
        if self._session is not None and self._session is not session:
            self._session.close()
        self._session = session
        return session

    def done(self, code: int) -> int:
        """The command returns `code`: remember it for the end, and pass it on."""
        self.code = code
        return code

    def start(self) -> None:
        """Tell the cron monitor that a run starts."""
        if self._pings:
            self._ping("start")

    def end(self, code: int, error: BaseException | None) -> None:
        """Close the session, keep the run, write the metrics file, tell the cron monitor."""
        session = self._session
        if session is not None:
            session.close()  # the rotation log written, the event commands waited for
        ended = self.clock.now()
        success = exits.reported_as_success(code, self.settings.ping_quota_as_failure)
        run = CommandRun(
            self.command,
            self._started_at,
            ended,
            round(self.clock.monotonic() - self._started, 3),
            code,
            success,
            session.watch.run_id if session is not None else None,
            host_name(),
            calls_by_operation(session) if session is not None else {},
        )
        if session is not None:
            problem = record_command(session, run)
            if problem is not None:
                self.say(self.m.notice(problem))
        if self.settings.metrics_file is not None:
            self._write_metrics(session, run)
        if self._pings:
            body = self.summary if self.summary is not None else _error_body(code, error)
            data = json.dumps(body, ensure_ascii=False, default=str).encode("utf-8")
            self._ping("0" if success else str(code), data)

    def _write_metrics(self, session: Session | None, run: CommandRun) -> None:
        path = self.settings.metrics_file
        assert path is not None
        try:
            session = session or open_session(self.settings, self.clock)
            write_metrics(path, metrics_text(session, run))
        except FileAccessError as error:
            self.say(self.m.file_problem("warning.metrics_unwritable", error, path=path))
        except KtoKeysError as error:  # the key cache is locked: the figures wait for next time
            reason, newline, detail = self.m.error(error).partition("\n")
            line = self.m("warning.metrics_unwritable", path=path, reason=reason)
            self.say(line + newline + detail)  # a detail line (Korean) after the whole line

    def _ping(self, signal: str, body: bytes | None = None) -> None:
        assert self._pings is not None
        failed: PingFailed | None = ping(self._pings, signal, body)
        if failed is not None and not self._ping_failed:
            self._ping_failed = True  # one line per command, however many pings failed
            self.say(self.m("warning.ping_failed", host=failed.host, reason=failed.reason))


@contextlib.contextmanager
def monitoring(
    clock: Clock, settings: Settings, command: str, say: Callable[[str], None]
) -> Iterator[Monitor]:
    """Monitor the command run inside; its exit code is `monitor.done(code)`'s or its error's."""
    monitor = Monitor(clock, settings, command, say)
    monitor.start()
    try:
        yield monitor
    except BaseException as error:
        monitor.end(exits.exit_code_for(error), error)
        raise
    monitor.end(monitor.code, None)


def _error_body(code: int, error: BaseException | None) -> dict[str, Any]:
    """The end ping's body when the run has no summary: the exit code and what stopped it."""
    if isinstance(error, KtoKeysError):
        return {"exit_code": code, "stopped_by": error.to_json()}
    if error is not None:
        return {"exit_code": code, "stopped_by": {"error": type(error).__name__}}
    return {"exit_code": code}
