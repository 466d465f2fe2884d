"""A separate process that records calls and syncs them to a shared cache file (test helper).

Usage: python cache_worker.py count CACHE CALLS   -- wait for "go" on stdin, then CALLS calls,
                                                    each followed by a sync; print "done"
       python cache_worker.py loop CACHE          -- sync after every call forever, printing
                                                    the number of calls synced so far
The fake keys come from the KTO_TEST_KEYS environment variable, comma-separated.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from kto_keys.core.answers import Outcome
from kto_keys.core.codes import OutcomeKind
from kto_keys.core.keys import parse_keys
from kto_keys.core.operations import Operation
from kto_keys.core.pool import KeyPool, Lease
from kto_keys.edges.settings import load_settings
from kto_keys.edges.state import StateCache

# A fixed moment (10:00 KST) so that no run straddles midnight in Korea.
NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
OPERATIONS = (Operation.LIST, Operation.DETAIL_INTRO)
SUCCESS = Outcome(OutcomeKind.SUCCESS, "0000")


def open_pool(cache: StateCache) -> KeyPool:
    """The configured keys with the states the cache holds."""
    keys = parse_keys(os.environ["KTO_TEST_KEYS"], "environment").keys
    loaded = cache.load(NOW)
    # The settings' defaults with a quota no worker reaches.
    policy = dataclasses.replace(
        load_settings(environ={}, read_env_file=False).policy(), daily_limit=1_000_000
    )
    return KeyPool(keys, policy, NOW, loaded.states)


def one_call(pool: KeyPool, number: int) -> None:
    """Acquire a key for one of the operations and record a success."""
    lease = pool.acquire(OPERATIONS[number % len(OPERATIONS)], NOW)
    assert isinstance(lease, Lease), lease
    pool.record_outcome(lease, SUCCESS, NOW)


def main(mode: str, path: str, *rest: str) -> None:
    """Run one of the two modes."""
    cache = StateCache(Path(path), lock_timeout_s=60)
    pool = open_pool(cache)
    if mode == "count":
        print("ready", flush=True)
        sys.stdin.readline()
        for number in range(int(rest[0])):
            one_call(pool, number)
            cache.sync(pool)
        print("done", flush=True)
        return
    number = 0
    while True:
        one_call(pool, number)
        cache.sync(pool)
        number += 1
        print(number, flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
