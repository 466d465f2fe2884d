"""Where log lines go: a dated file under KTO_LOG_DIR and stderr, every key masked on the way.

The lines themselves are worded by the command line's catalog (kto_keys/cli/messages.py)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from kto_keys.core.clock import KST
from kto_keys.core.keys import Redactor, ServiceKey

LOGGER_NAME = "kto_keys"


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


def setup_logging(
    log_dir: Path,
    keys: Iterable[ServiceKey],
    now: datetime,
    file_name: str | None = None,
    console_level: int = logging.WARNING,
) -> Path:
    """Send the tool's log to a dated file and warnings to stderr; return the file's path."""
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / (file_name or f"kto_keys_{now.astimezone(KST):%Y%m%d}.log")
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.setLevel(logging.INFO)
    logger.propagate = False
    redactor = RedactingFilter(keys)
    to_file = logging.FileHandler(path, encoding="utf-8")
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    to_file.addFilter(redactor)
    to_console = CurrentStderrHandler()
    to_console.setLevel(console_level)
    to_console.setFormatter(logging.Formatter("%(message)s"))
    to_console.addFilter(redactor)
    logger.addHandler(to_file)
    logger.addHandler(to_console)
    return path


def logger() -> logging.Logger:
    """The tool's logger."""
    return logging.getLogger(LOGGER_NAME)
