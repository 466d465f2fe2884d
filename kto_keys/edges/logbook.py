"""Where log lines go: a dated file under KTO_LOG_DIR and stderr, every key masked on the way.

The file is private (0600) and stamped in Korea time with the zone, as every message is. A log
that cannot be written (a full disk, a read-only folder) is reported once and dropped: the run
goes on with stderr alone. The lines themselves are worded by the command line's catalog
(kto_keys/cli/messages.py), and so is the report, through `on_file_error`."""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from io import TextIOWrapper
from pathlib import Path
from typing import cast

from kto_keys.core.clock import KST, format_time
from kto_keys.core.errors import FileAccessError
from kto_keys.core.keys import Redactor, ServiceKey
from kto_keys.edges.atomic import PRIVATE, make_folder

LOGGER_NAME = "kto_keys"
FileErrorSink = Callable[[FileAccessError], None]


class RedactingFilter(logging.Filter):
    """Last line of defence: no key, raw or encoded, reaches a log handler."""

    def __init__(self, keys: Iterable[ServiceKey]) -> None:
        super().__init__()
        self.redact = Redactor(keys)

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the message with every key replaced by its preview."""
        record.msg = self.redact(record.getMessage())
        record.args = None
        return True


class CurrentStderrHandler(logging.Handler):
    """Writes to whatever sys.stderr is at the time, so live progress bars can redirect it."""

    def emit(self, record: logging.LogRecord) -> None:
        """Write one formatted line."""
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:  # a logging failure must never stop a collection
            self.handleError(record)


class KoreaTimeFormatter(logging.Formatter):
    """Stamps lines in Korea time with the zone's name (`2026-12-02 12:08:46 KST`)."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """The record's time as the messages write times."""
        return format_time(datetime.fromtimestamp(record.created, UTC))


class PrivateFileHandler(logging.FileHandler):
    """A log file only its owner may read; when the system refuses a line, it says so once,
    through `on_error`, and writes no more."""

    def __init__(self, path: Path, on_error: FileErrorSink) -> None:
        self.on_error = on_error
        self.failed = False
        super().__init__(path, encoding="utf-8")  # opens at once: a refusal raises here

    def _open(self) -> TextIOWrapper:
        stream = open(  # noqa: SIM115 - the handler keeps the file open, and closes it
            self.baseFilename,
            self.mode,
            encoding=self.encoding,
            errors=self.errors,
            opener=_private,
        )
        return cast(TextIOWrapper, stream)

    def emit(self, record: logging.LogRecord) -> None:
        """Write one line, unless the file has failed once."""
        if not self.failed:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        """Report the first failure and give the file up (the default prints a traceback a line)."""
        if self.failed:
            return
        self.failed = True
        error = sys.exc_info()[1]
        stream, self.stream = self.stream, None
        with contextlib.suppress(OSError, ValueError):
            if stream is not None:
                stream.close()  # what is still buffered cannot be written either
        path = Path(self.baseFilename)
        if isinstance(error, OSError):
            self.on_error(FileAccessError.of(path, error))
        else:
            self.on_error(FileAccessError(path, type(error).__name__))


def _private(path: str, flags: int) -> int:
    """Open a log file mode 0600; one an older version left readable to others is narrowed."""
    descriptor = os.open(path, flags, PRIVATE)
    with contextlib.suppress(OSError):  # not ours to change: leave it
        if stat.S_IMODE(os.fstat(descriptor).st_mode) & ~PRIVATE:
            os.fchmod(descriptor, PRIVATE)
    return descriptor


def _say_as_data(error: FileAccessError) -> None:
    """Without a sink from the command line: the path and the system's words, on one line."""
    sys.stderr.write(f"kto-keys: {error.path}: {error.reason}\n")
    sys.stderr.flush()


def setup_logging(
    log_dir: Path,
    keys: Iterable[ServiceKey],
    now: datetime,
    file_name: str | None = None,
    console_level: int = logging.WARNING,
    on_file_error: FileErrorSink | None = None,
) -> Path:
    """Send the tool's log to a dated file and warnings to stderr; return the file's path.

    When the file cannot be made or written, `on_file_error` hears of it once (by default one
    line of data on stderr) and the log goes on to stderr alone.
    """
    path = log_dir / (file_name or f"kto_keys_{now.astimezone(KST):%Y%m%d}.log")
    report = on_file_error or _say_as_data
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.setLevel(logging.INFO)
    logger.propagate = False
    redactor = RedactingFilter(keys)
    try:
        make_folder(path)
        to_file = PrivateFileHandler(path, report)
    except FileAccessError as error:
        report(error)
    except OSError as error:
        report(FileAccessError.of(path, error))
    else:
        to_file.setFormatter(KoreaTimeFormatter("%(asctime)s %(levelname)s %(message)s"))
        to_file.addFilter(redactor)
        logger.addHandler(to_file)
    to_console = CurrentStderrHandler()
    to_console.setLevel(console_level)
    to_console.setFormatter(logging.Formatter("%(message)s"))
    to_console.addFilter(redactor)
    logger.addHandler(to_console)
    return path


def logger() -> logging.Logger:
    """The tool's logger."""
    return logging.getLogger(LOGGER_NAME)
