"""Export stored records as JSONL or CSV, streamed, under the service's field names."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from kto_keys.core.errors import SettingsError, SettingsProblem
from kto_keys.core.records import EXPORT_FIELDS
from kto_keys.edges.atomic import atomic_open
from kto_keys.edges.store import Store

FORMATS = ("jsonl", "csv")


def export_records(
    db_path: Path, fmt: str, output: Path | None, include_removed: bool = False
) -> int:
    """Write every stored record to `output` (stdout when None); return how many."""
    if fmt not in FORMATS:
        raise SettingsError(SettingsProblem.UNKNOWN_FORMAT, value=fmt, valid=FORMATS)
    if not db_path.exists():
        raise SettingsError(SettingsProblem.NO_DATABASE, path=db_path)
    with Store.open_readonly(db_path) as store, _target(output, fmt) as handle:
        records = store.iter_export(include_removed=include_removed)
        return _write_csv(handle, records) if fmt == "csv" else _write_jsonl(handle, records)


@contextmanager
def _target(output: Path | None, fmt: str) -> Iterator[IO[str]]:
    if output is None:
        if fmt == "csv":
            sys.stdout.write("\ufeff")
        yield sys.stdout
        sys.stdout.flush()
        return
    with atomic_open(output, encoding="utf-8-sig" if fmt == "csv" else "utf-8") as handle:
        yield handle


def _write_jsonl(handle: IO[str], records: Iterator[dict[str, Any]]) -> int:
    count = 0
    for record in records:
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += 1
    return count


def _write_csv(handle: IO[str], records: Iterator[dict[str, Any]]) -> int:
    writer: csv.DictWriter[str] | None = None
    count = 0
    for record in records:
        row = {
            name: json.dumps(value, ensure_ascii=False) if isinstance(value, list | dict) else value
            for name, value in record.items()
        }
        if writer is None:
            writer = csv.DictWriter(handle, fieldnames=list(row), lineterminator="\n")
            writer.writeheader()
        writer.writerow(row)
        count += 1
    if writer is None:
        handle.write(",".join(EXPORT_FIELDS) + "\n")
    return count
