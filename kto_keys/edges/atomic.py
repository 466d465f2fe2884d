"""Atomic file writes: a private temporary file in the same folder, fsync, then rename over the
target. Whatever the system refuses (a read-only or full disk, a file where a folder should be)
comes out as one FileAccessError naming the target and the reason. And the one way a state file
that cannot be used (the key cache, the shared journal) is moved out of the way, kept whole."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from kto_keys.core.clock import KST
from kto_keys.core.errors import FileAccessError, SettingsError, SettingsProblem

# Owner only: the cache and the logs name keys by preview and fingerprint, and say when they fail.
PRIVATE = 0o600


def make_folder(path: Path) -> None:
    """Create the folder `path` goes in; a refusal names `path` and the reason."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:  # a file stands where a folder of the path should be
        raise FileAccessError(path, os.strerror(errno.ENOTDIR), "ENOTDIR") from None
    except OSError as error:
        raise FileAccessError.of(path, error) from error


@contextlib.contextmanager
def atomic_open(
    path: Path, mode: str = "w", encoding: str | None = "utf-8", durable: bool = True
) -> Iterator[IO[str]]:
    """Open a temporary twin of `path` (mode 0600); on a clean exit it replaces `path` in one step.

    With `durable` the data reaches the disk before the rename (fsync): it survives a power cut.
    Without, the rename is still atomic for every process, a killed one included: what frequent
    small saves need, at a fraction of the cost.
    """
    make_folder(path)
    try:
        # mkstemp creates the file 0600 from the start: it never exists readable by others.
        descriptor, temporary = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
        )
    except OSError as error:
        raise FileAccessError.of(path, error) from error
    try:
        with os.fdopen(descriptor, mode, encoding=encoding, newline="") as handle:
            yield handle
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(error, OSError) and _is_the_files(error, temporary, path):
            raise FileAccessError.of(path, error) from error
        raise
    if durable:
        _fsync_folder(path.parent)


def atomic_write_text(path: Path, text: str, durable: bool = True) -> None:
    """Replace `path` with `text`, never leaving a half-written file."""
    with atomic_open(path, durable=durable) as handle:
        handle.write(text)


def _is_the_files(error: OSError, temporary: str, path: Path) -> bool:
    """True when the error is about writing this file (a write names no file), not another's."""
    return error.filename in (None, temporary, str(path))


def _fsync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def read_text_or_refuse(path: Path, problem: SettingsProblem, shown: object = None) -> str:
    """A settings file's text (a keys file, a master key file); one that cannot be read stops
    the command with a SettingsError naming it (as `shown`), the reason and its errno name."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason, code = reason_of(error)
        raise SettingsError(problem, path=shown or path, reason=reason, code=code) from None


def reason_of(error: OSError | UnicodeDecodeError) -> tuple[str, str | None]:
    """Why a file could not be read: the system's words and the errno name (`ENOENT`, ...)."""
    if not isinstance(error, OSError):
        return "not UTF-8 text", None
    number = error.errno
    code = errno.errorcode.get(number) if number is not None else None
    return error.strerror or type(error).__name__, code


def set_aside(path: Path, why: str, when: datetime) -> Path | None:
    """Move a state file that cannot be used out of the way, whole, as `NAME.WHY-STAMP` (Korea
    time, as the log files' names; `-2`, `-3`, ... when that name is taken); where it went, or
    None when it could not be moved (it is then left as it is)."""
    stamp = when.astimezone(KST).strftime("%Y%m%dT%H%M%S")
    target = path.with_name(f"{path.name}.{why}-{stamp}")
    number = 1
    while target.exists():
        number += 1
        target = path.with_name(f"{path.name}.{why}-{stamp}-{number}")
    try:
        os.replace(path, target)
    except OSError:
        return None
    return target


def modified_at(path: Path) -> datetime:
    """When the file was last written (the epoch when that cannot be read)."""
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except OSError:
        return datetime.fromtimestamp(0, UTC)
