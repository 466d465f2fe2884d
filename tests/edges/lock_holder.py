"""A child process that holds a database's write lock until it is killed (tests/edges)."""

from __future__ import annotations

import sqlite3
import sys
import time
from pathlib import Path

from kto_keys.edges.store import Store

if __name__ == "__main__":
    path = Path(sys.argv[1])
    Store(path).close()  # the schema first, so that the tool only waits for the lock
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN IMMEDIATE")  # the write lock, held until this process ends
    print("locked", flush=True)
    time.sleep(120)
