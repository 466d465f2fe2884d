"""KTO_ON_EVENT: a command of the user's, run for each event a person must act on, with the event
as one line of JSON on its standard input.

The command runs without a shell (its words were split once, in the settings), one at a time in
the order the events came, on a thread of its own so that a slow command never holds up a run.
Its failure is reported and never fails the run; its output is not ours (stdout stays the
summary's), so it goes nowhere but the last line of its stderr into the report.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The most one run of the command may take.
HOOK_TIMEOUT_S = 30.0
# How much of its stderr a failure report keeps.
STDERR_LIMIT = 200


@dataclass(frozen=True, slots=True)
class HookFailed:
    """The event command could not run, ran too long, or ended with an exit code other than 0."""

    program: str  # the command's first word only: its arguments may hold a token
    reason: str
    exit_code: int | None = None
    timed_out: bool = False


class EventHook:
    """Runs the user's command once per event, in order, off the caller's thread."""

    def __init__(
        self,
        argv: Sequence[str],
        on_failure: Callable[[HookFailed], None],
        timeout_s: float = HOOK_TIMEOUT_S,
    ) -> None:
        self.argv = tuple(argv)
        self._on_failure = on_failure
        self._timeout_s = timeout_s
        self._executor: ThreadPoolExecutor | None = None

    def send(self, event: Mapping[str, Any]) -> None:
        """Run the command for one event (queued behind the ones before it)."""
        line = json.dumps(event, ensure_ascii=False, sort_keys=True) + "\n"
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kto-keys-hook")
        self._executor.submit(self._run, line.encode("utf-8"))

    def wait(self) -> None:
        """Wait until every command sent has ended."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def _run(self, data: bytes) -> None:
        program = Path(self.argv[0]).name
        try:
            finished = subprocess.run(
                self.argv,
                input=data,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                timeout=self._timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            self._on_failure(HookFailed(program, f"{self._timeout_s:g} s", timed_out=True))
            return
        except OSError as error:
            self._on_failure(HookFailed(program, error.strerror or type(error).__name__))
            return
        if finished.returncode != 0:
            lines = finished.stderr.decode("utf-8", "replace").strip().splitlines()
            last = lines[-1][:STDERR_LIMIT] if lines else ""
            self._on_failure(HookFailed(program, last, exit_code=finished.returncode))
