"""KTO_ON_EVENT's runner with real child processes: events in order on stdin, failures as data."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from kto_keys.edges.hooks import EventHook, HookFailed


def appender(tmp_path: Path, exit_code: int = 0) -> tuple[list[str], Path]:
    """A command that appends its stdin to a file, then exits with `exit_code`."""
    out = tmp_path / "got.jsonl"
    code = (
        "import sys\n"
        "data = sys.stdin.read()\n"
        "open(sys.argv[1], 'a', encoding='utf-8').write(data)\n"
        "print('to stdout, which is not ours')\n"
        f"sys.stderr.write('first\\nlast words\\n'); sys.exit({exit_code})\n"
    )
    return [sys.executable, "-c", code, str(out)], out


def test_events_reach_the_command_one_json_line_each_in_order(tmp_path: Path) -> None:
    """Three events, three runs, each reading exactly one line of JSON, in the order sent."""
    argv, out = appender(tmp_path)
    failures: list[HookFailed] = []
    hook = EventHook(argv, failures.append)
    for n in range(3):
        hook.send({"event": "deactivated", "n": n, "preview": "abcdef0123..."})
    hook.wait()
    lines = out.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["n"] for line in lines] == [0, 1, 2]
    assert failures == []


def test_a_failing_or_missing_command_is_reported_not_raised(tmp_path: Path) -> None:
    """Exit 3: its code and the last line of its stderr. No such program: the system's reason."""
    argv, _ = appender(tmp_path, exit_code=3)
    failures: list[HookFailed] = []
    hook = EventHook(argv, failures.append)
    hook.send({"event": "pool_critical"})
    hook.wait()
    missing = EventHook([str(tmp_path / "no-such-program"), "--token", "s3cret"], failures.append)
    missing.send({"event": "deactivated"})
    missing.wait()
    assert failures[0] == HookFailed(Path(sys.executable).name, "last words", exit_code=3)
    assert failures[1].program == "no-such-program" and failures[1].exit_code is None
    assert "s3cret" not in repr(failures)
