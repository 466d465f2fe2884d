"""The log: a private file stamped in Korea time, keys masked, and a disk that refuses it
reported once while the run goes on (real files, /dev/full, a read-only folder, the installed
script in a child process)."""

from __future__ import annotations

import errno
import logging
import os
import re
import stat
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import START, base64_key, encoded, hex_key
from test_files import read_only

from kto_keys.core.clock import KST
from kto_keys.core.errors import FileAccessError
from kto_keys.core.keys import ServiceKey
from kto_keys.edges.logbook import KoreaTimeFormatter, logger, setup_logging
from kto_keys.sim import BehaviourKind, KeyBehaviour

LOG_NAME = "kto_keys_20261124.log"  # the day of START in Korea
STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d KST (INFO|WARNING|ERROR) ")
needs_dev_full = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")


@pytest.fixture(autouse=True)
def no_handlers_left():
    """Each test starts and ends with the tool's logger bare."""
    yield
    for handler in list(logger().handlers):
        logger().removeHandler(handler)
        handler.close()


def heard() -> tuple[list[FileAccessError], Callable[[FileAccessError], None]]:
    """A sink for file errors, and what it heard."""
    errors: list[FileAccessError] = []
    return errors, errors.append


def test_the_log_file_is_private_from_its_first_line(tmp_path):
    """The day's log is created mode 0600."""
    path = setup_logging(tmp_path / "logs", [], START)
    logger().info("first line")
    assert path == tmp_path / "logs" / LOG_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_log_an_older_version_left_readable_is_narrowed_to_its_owner(tmp_path):
    """A 0644 log from before is appended to, and is 0600 afterwards."""
    path = tmp_path / LOG_NAME
    path.write_text("old line\n", encoding="utf-8")
    path.chmod(0o644)
    setup_logging(tmp_path, [], START)
    logger().info("new line")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text(encoding="utf-8").startswith("old line\n")


def test_log_lines_are_stamped_in_korea_time_with_the_zone():
    """A record made at 01:00 UTC reads 10:00:00 KST, as the messages write times."""
    record = logging.LogRecord("kto_keys", logging.INFO, __file__, 1, "hello", None, None)
    record.created = START.timestamp()
    line = KoreaTimeFormatter("%(asctime)s %(levelname)s %(message)s").format(record)
    assert line == "2026-11-24 10:00:00 KST INFO hello"


def test_every_line_of_the_file_carries_the_zone(tmp_path):
    """The file's lines, as written, begin with a KST stamp."""
    path = setup_logging(tmp_path, [], START)
    logger().info("one")
    logger().warning("two")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 and all(STAMP.match(line) for line in lines), lines


def test_no_part_of_a_key_reaches_the_file_or_stderr(tmp_path, capfd):
    """A line that quotes 30 characters of an encoded key shows only the preview, everywhere."""
    raw = base64_key()
    key = ServiceKey.from_raw(raw, 2, "environment")
    path = setup_logging(tmp_path, [key], START)
    logger().warning("gateway said: bad key %s", encoded(raw)[5:35])
    written = path.read_text(encoding="utf-8") + capfd.readouterr().err
    assert key.preview in written
    assert [raw[i : i + 11] for i in range(len(raw) - 10) if raw[i : i + 11] in written] == []


@needs_dev_full
def test_a_full_log_disk_is_reported_once_and_the_run_goes_on(tmp_path, capfd):
    """42 lines to a log on a full disk: one report of ENOSPC, every warning still on stderr."""
    (tmp_path / LOG_NAME).symlink_to("/dev/full")
    errors, sink = heard()
    setup_logging(tmp_path, [], START, on_file_error=sink)
    for number in range(42):
        logger().warning("line %d", number)
    err = capfd.readouterr().err
    assert [(error.path, error.code) for error in errors] == [(tmp_path / LOG_NAME, "ENOSPC")]
    assert err.splitlines() == [f"line {number}" for number in range(42)]
    assert "Traceback" not in err


@needs_dev_full
def test_without_a_sink_the_report_is_one_line_with_the_path_and_the_reason(tmp_path, capfd):
    """The library's own report: `kto-keys: <path>: <system's reason>`, once."""
    (tmp_path / LOG_NAME).symlink_to("/dev/full")
    setup_logging(tmp_path, [], START)
    for _ in range(5):
        logger().warning("still going")
    err = capfd.readouterr().err.splitlines()
    assert err[0] == f"kto-keys: {tmp_path / LOG_NAME}: {os.strerror(errno.ENOSPC)}"
    assert err[1:] == ["still going"] * 5


def test_a_log_folder_under_a_file_is_reported_once_and_stderr_still_hears(tmp_path, capfd):
    """KTO_LOG_DIR below a file: ENOTDIR at setup, once; warnings still reach stderr."""
    (tmp_path / "logs").write_text("a file", encoding="utf-8")
    errors, sink = heard()
    path = setup_logging(tmp_path / "logs" / "today", [], START, on_file_error=sink)
    logger().warning("the run goes on")
    assert [(error.path, error.code) for error in errors] == [(path, "ENOTDIR")]
    assert capfd.readouterr().err == "the run goes on\n"


def test_a_read_only_log_folder_is_reported_once(tmp_path, capfd):
    """A log folder that refuses the file: one report with the path and the reason."""
    folder = tmp_path / "logs"
    folder.mkdir()
    errors, sink = heard()
    with read_only(folder):
        setup_logging(folder, [], START, on_file_error=sink)
        logger().warning("the run goes on")
    assert [error.path for error in errors] == [folder / LOG_NAME]
    assert errors[0].code in ("EACCES", "EPERM", "EROFS")
    assert capfd.readouterr().err == "the run goes on\n"


@needs_dev_full
def test_the_installed_script_on_a_full_log_disk_says_so_once_and_finishes(tmp_path, gateway):
    """`kto-keys test-keys basic` in a child process with its log on /dev/full: one line about
    the log, no traceback, the key's verdict printed and the test log written."""
    key = hex_key()
    gw = gateway({key: KeyBehaviour("expired", BehaviourKind.EXPIRED)})
    logs = tmp_path / "logs"
    logs.mkdir()
    today = datetime.now(UTC).astimezone(KST)
    log = logs / f"kto_keys_{today:%Y%m%d}.log"
    log.symlink_to("/dev/full")
    script = Path(sys.executable).with_name("kto-keys")
    env = {
        "PATH": str(script.parent),
        "HOME": str(tmp_path),
        "KTO_API_KEY": key,
        "KTO_LANG": "en",
        "KTO_API_BASE_URL": gw.base_url,
    }
    child = subprocess.run(
        [str(script), "test-keys", "basic"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    about_the_log = [line for line in child.stderr.splitlines() if str(log) in line]
    assert len(about_the_log) == 1, child.stderr
    assert "no space left on device" in about_the_log[0].lower()
    assert "Traceback" not in child.stderr and "unexpected" not in child.stderr
    # The only key is expired: critical, and test-keys follows health's exit codes.
    assert child.returncode == 2 and "#0" in child.stdout
    assert list(logs.glob("api_key_test_*.log"))
