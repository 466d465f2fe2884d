"""The reference collector: what a person would write by hand with aiohttp and sqlite3.

One key, no pool, no quota, no retries: the province list, page 1 of every province (to learn the
page counts), then the other pages from a queue by `concurrency` workers. Each page's rows and its
checkpoint are committed together, on the event loop, as a hand-written collector does. It makes
exactly the requests the tool makes, so their times can be compared call for call.
"""

from __future__ import annotations

import asyncio
import json
import math
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

SCHEMA = """
CREATE TABLE IF NOT EXISTS restaurants (
    contentid TEXT PRIMARY KEY, province TEXT, title TEXT, modifiedtime TEXT, raw TEXT);
CREATE TABLE IF NOT EXISTS pages (
    province TEXT, page_size INTEGER, page_no INTEGER, PRIMARY KEY (province, page_size, page_no));
"""


@dataclass(frozen=True, slots=True)
class ReferenceRun:
    """What one reference collection did."""

    elapsed_s: float
    cpu_s: float
    pages: int
    records: int


def _items(body: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """The items of a list answer and its totalCount."""
    inner = body["response"]["body"]
    items = inner.get("items") or {}
    listed = items.get("item", []) if isinstance(items, dict) else []
    return (listed if isinstance(listed, list) else [listed]), int(inner.get("totalCount") or 0)


async def _collect(
    base_url: str, key: str, provinces: tuple[str, ...], page_size: int, concurrency: int, db: Path
) -> int:
    connection = sqlite3.connect(db, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = NORMAL")
    connection.executescript(SCHEMA)
    common = {"serviceKey": key, "MobileOS": "ETC", "MobileApp": "reference", "_type": "json"}
    gate = asyncio.Semaphore(concurrency)
    pages = 0
    async with aiohttp.ClientSession() as session:

        async def get(operation: str, **params: str | int) -> dict[str, Any]:
            query = {**common, **{name: str(value) for name, value in params.items()}}
            async with gate, session.get(f"{base_url}/{operation}", params=query) as answer:
                answer.raise_for_status()
                result: dict[str, Any] = json.loads(await answer.read())
                return result

        async def page(province: str, number: int) -> int:
            nonlocal pages
            body = await get(
                "areaBasedList2",
                contentTypeId="39",
                lDongRegnCd=province,
                numOfRows=page_size,
                pageNo=number,
                arrange="D",
            )
            items, total = _items(body)
            with connection:  # the page's rows and its checkpoint in one transaction
                connection.execute("BEGIN")
                connection.executemany(
                    "INSERT OR REPLACE INTO restaurants VALUES (?, ?, ?, ?, ?)",
                    [
                        (
                            item["contentid"],
                            province,
                            item.get("title"),
                            item.get("modifiedtime"),
                            json.dumps(item, ensure_ascii=False),
                        )
                        for item in items
                    ],
                )
                connection.execute(
                    "INSERT OR REPLACE INTO pages VALUES (?, ?, ?)", (province, page_size, number)
                )
            pages += 1
            return total

        await get("ldongCode2", numOfRows=100, pageNo=1)  # the province list, as the tool asks
        totals = await asyncio.gather(*(page(province, 1) for province in provinces))
        queue: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
        for province, total in zip(provinces, totals, strict=True):
            for number in range(2, math.ceil(total / page_size) + 1):
                queue.put_nowait((province, number))

        async def worker() -> None:
            while not queue.empty():
                await page(*queue.get_nowait())

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    connection.close()
    return pages


def run_reference(
    base_url: str,
    key: str,
    provinces: tuple[str, ...],
    page_size: int,
    concurrency: int,
    folder: Path,
) -> ReferenceRun:
    """One reference collection into a fresh database in `folder`, timed like the tool's."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "reference.db"
    started, cpu = time.perf_counter(), time.process_time()
    pages = asyncio.run(_collect(base_url, key, provinces, page_size, concurrency, db))
    elapsed, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    with sqlite3.connect(db) as connection:
        records = int(connection.execute("SELECT COUNT(*) FROM restaurants").fetchone()[0])
    connection.close()
    return ReferenceRun(elapsed, cpu_s, pages, records)
