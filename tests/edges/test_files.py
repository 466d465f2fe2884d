"""Files the tool writes (the cache, logs, exports) on real disks that refuse: a file where a
folder should be, a folder where a file should be, a read-only folder, a full disk. Each refusal
is one FileAccessError naming the path and the reason, worded in one line; nothing is left
half-written, and what is written is private (0600) from the start."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import hex_key
from typer.testing import CliRunner

from kto_keys.cli.app import app
from kto_keys.cli.commands import CliOptions
from kto_keys.cli.messages import Messages
from kto_keys.core.clock import FakeClock
from kto_keys.core.errors import FileAccessError
from kto_keys.edges.atomic import atomic_open, atomic_write_text
from kto_keys.edges.store import Store

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


def mode_of(path: Path) -> int:
    """The permission bits of a file."""
    return stat.S_IMODE(path.stat().st_mode)


def leftovers(folder: Path) -> list[str]:
    """Temporary twins an atomic write left behind."""
    return [path.name for path in folder.iterdir() if path.name.endswith(".tmp")]


def _can_create_in(folder: Path) -> bool:
    try:
        descriptor = os.open(folder / ".probe", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except OSError:
        return False
    os.close(descriptor)
    (folder / ".probe").unlink()
    return True


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """Make `folder` refuse new files: chmod 0555, and for root, whom modes do not stop, the
    immutable flag (`chattr +i`); the test is skipped where neither holds."""
    folder.chmod(0o555)
    immutable = False
    try:
        if _can_create_in(folder):
            chattr = shutil.which("chattr")
            if chattr is not None:
                done = subprocess.run([chattr, "+i", str(folder)], capture_output=True, check=False)
                immutable = done.returncode == 0
            if not immutable or _can_create_in(folder):
                pytest.skip("no way to make a folder read-only for this user here")
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], capture_output=True, check=False)
        folder.chmod(0o755)


# --- atomic writes -------------------------------------------------------------------------------
def test_the_temporary_twin_is_private_before_it_is_renamed(tmp_path):
    """While the text is being written, the only copy on disk is mode 0600; so is the result."""
    target = tmp_path / "cache.json"
    with atomic_open(target) as handle:
        handle.write("{}")
        [twin] = [tmp_path / name for name in leftovers(tmp_path)]
        assert mode_of(twin) == 0o600
    assert mode_of(target) == 0o600
    assert leftovers(tmp_path) == []


def test_writing_under_a_file_names_the_path_and_says_a_folder_is_a_file(tmp_path):
    """A file where a folder of the path should be: ENOTDIR for the target, not 'File exists'."""
    (tmp_path / "data").write_text("I am a file", encoding="utf-8")
    target = tmp_path / "data" / "cache" / "api_key_cache.json"
    with pytest.raises(FileAccessError) as caught:
        atomic_write_text(target, "{}")
    assert (caught.value.path, caught.value.code) == (target, "ENOTDIR")
    assert caught.value.reason == os.strerror(errno.ENOTDIR)


def test_writing_onto_a_folder_says_it_is_a_folder_and_leaves_no_twin(tmp_path):
    """The target is a folder: EISDIR, and the temporary twin is gone."""
    target = tmp_path / "out.csv"
    target.mkdir()
    with pytest.raises(FileAccessError) as caught:
        atomic_write_text(target, "a,b\n")
    assert (caught.value.path, caught.value.code) == (target, "EISDIR")
    assert leftovers(tmp_path) == []


def test_writing_in_a_read_only_folder_names_the_path_and_the_reason(tmp_path):
    """A folder that refuses new files: one error with the target and the system's reason."""
    folder = tmp_path / "exports"
    folder.mkdir()
    target = folder / "restaurants.csv"
    with read_only(folder), pytest.raises(FileAccessError) as caught:
        atomic_write_text(target, "a,b\n")
    assert caught.value.path == target
    assert caught.value.code in ("EACCES", "EPERM", "EROFS")
    assert not target.exists()


def test_a_disk_that_fills_at_fsync_keeps_the_old_file_and_names_the_path(tmp_path, monkeypatch):
    """ENOSPC when the data reaches the disk: the old content stays and the error says why."""
    target = tmp_path / "cache.json"
    atomic_write_text(target, '{"old": true}')

    def full(descriptor: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(FileAccessError) as caught:
        atomic_write_text(target, '{"new": true}')
    assert (caught.value.path, caught.value.code) == (target, "ENOSPC")
    assert target.read_text(encoding="utf-8") == '{"old": true}'
    assert leftovers(tmp_path) == []


CHILD_WRITES_TOO_MUCH = """
import json, resource, signal, sys
from pathlib import Path
from kto_keys.core.errors import FileAccessError
from kto_keys.edges.atomic import atomic_write_text
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
try:
    atomic_write_text(Path(sys.argv[1]), "x" * 100_000)
except FileAccessError as error:
    print(json.dumps(error.to_json()))
"""


def test_a_write_the_system_cuts_short_keeps_the_old_file_in_a_real_process(tmp_path):
    """A child whose files may not pass 4 KB writes 100 KB: the old file stays whole, no twin."""
    target = tmp_path / "export.jsonl"
    atomic_write_text(target, "old\n")
    child = subprocess.run(
        [sys.executable, "-c", CHILD_WRITES_TOO_MUCH, str(target)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert child.returncode == 0, child.stderr
    assert json.loads(child.stdout) == {
        "error": "FileAccessError",
        "path": str(target),
        "reason": os.strerror(errno.EFBIG),
        "code": "EFBIG",
    }
    assert target.read_text(encoding="utf-8") == "old\n"
    assert leftovers(tmp_path) == []


def test_an_error_about_another_file_inside_the_write_is_not_blamed_on_the_target(tmp_path):
    """Only what goes wrong with the file being written becomes its FileAccessError."""
    with pytest.raises(FileNotFoundError), atomic_open(tmp_path / "out.txt"):
        (tmp_path / "missing" / "other.txt").read_text(encoding="utf-8")
    assert leftovers(tmp_path) == []


# --- the one line a person reads ----------------------------------------------------------------
@pytest.mark.parametrize(
    "code, english, korean",
    [
        pytest.param("ENOSPC", "no space left on device", "디스크 공간이 없습니다", id="full"),
        pytest.param("EROFS", "read-only file system", "읽기 전용 파일 시스템입니다", id="ro"),
        pytest.param("ENOTDIR", "a part of the path is a file", "폴더 대신 파일", id="notdir"),
    ],
)
def test_a_file_error_is_one_line_with_the_path_and_the_reason_in_both_languages(
    code, english, korean
):
    """The catalog words the common reasons itself; the path is always named."""
    error = FileAccessError(Path("/srv/kto/logs/kto_keys_20261124.log"), "system words", code)
    for lang, words in (("en", english), ("ko", korean)):
        line = Messages(lang).error(error)
        assert "/srv/kto/logs/kto_keys_20261124.log" in line and words in line
        assert "\n" not in line and "unexpected" not in line and "예기치" not in line


def test_a_reason_the_catalog_does_not_know_is_the_systems_own():
    """An errno without a line of its own is shown in the system's words."""
    error = FileAccessError(Path("/x"), "Too many links", "EMLINK")
    assert Messages("en").error(error) == "cannot write /x: Too many links"


@pytest.fixture
def cli(clean_env: Path, clock: FakeClock) -> Path:
    """The command line in an empty folder, on the fake clock."""
    return clean_env


def invoke(clock: FakeClock, *args: str, env: dict[str, str]) -> tuple[int, str, str]:
    """Run the app; return the exit code, stdout and stderr."""
    result = runner.invoke(
        app, list(args), env=env, catch_exceptions=False, obj=CliOptions(clock=clock)
    )
    return result.exit_code, result.stdout, result.stderr


def test_export_to_a_path_under_a_file_is_one_line_and_exit_1(cli, clock):
    """`export --output` where a folder is a file: the path and why, in one line, exit 1."""
    Store(cli / "data" / "kto.db").close()
    (cli / "out").write_text("a file", encoding="utf-8")
    target = cli / "out" / "restaurants.csv"
    env = {"KTO_API_KEY": "", "KTO_LANG": "en"}
    code, _, err = invoke(clock, "export", "--format", "csv", "--output", str(target), env=env)
    assert code == 1
    assert err == f"kto-keys: cannot write {target}: a part of the path is a file, not a folder\n"


def test_a_cache_that_cannot_be_written_is_one_line_naming_it(cli, clock):
    """`disable` must save: with the cache's folder a file, one line names the cache, exit 1."""
    (cli / "state").write_text("a file", encoding="utf-8")
    cache = cli / "state" / "api_key_cache.json"
    env = {"KTO_API_KEY": hex_key(), "KTO_LANG": "ko", "KTO_CACHE_PATH": str(cache)}
    code, _, err = invoke(clock, "disable", "0", env=env)
    assert code == 1
    assert err == f"kto-keys: {cache}에 쓸 수 없습니다: 경로 중간에 폴더 대신 파일이 있습니다\n"
