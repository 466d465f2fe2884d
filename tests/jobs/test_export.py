"""Export: every stored record, JSONL or CSV (UTF-8 with BOM), under the service's field names."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import GatewayFactory, good, make_settings, run_collect

from kto_keys.core.clock import FakeClock
from kto_keys.jobs.export import export_records


def test_export_round_trips_every_record(
    tmp_path: Path,
    gateway: GatewayFactory,
    clock: FakeClock,
    keys: list[str],
) -> None:
    """JSONL and CSV (UTF-8 with BOM) carry every record under the service's field names."""
    import asyncio
    import csv

    gw = gateway(good(keys), sizes={"11": 8, "26": 4})
    settings = make_settings(tmp_path, keys, gw.base_url)
    asyncio.run(run_collect(settings, clock, ("11", "26")))
    jsonl, table = tmp_path / "out.jsonl", tmp_path / "out.csv"
    assert export_records(settings.db_path, "jsonl", jsonl) == 12
    assert export_records(settings.db_path, "csv", table) == 12
    records = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    assert sorted(r["contentid"] for r in records) == sorted(gw.dataset.contentids())
    sample = gw.dataset.record(records[0]["contentid"])
    assert sample is not None and records[0]["title"] == sample.title
    assert {"contentid", "title", "addr1", "lDongRegnCd", "mapx", "firstmenu", "overview"} <= set(
        records[0]
    )
    raw = table.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    assert sorted(r["contentid"] for r in rows) == sorted(gw.dataset.contentids())
