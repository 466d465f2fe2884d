"""A collector on a host whose clock says `when` (test helper): runs one collection through the
programmatic API with a fake clock set there, and exits as the command line would.

Usage: python skewed_collect.py ISO-TIME   (settings from the KTO_* environment variables)
"""

from __future__ import annotations

import sys
from datetime import datetime

from kto_keys.cli.exits import exit_code_for
from kto_keys.core.clock import FakeClock
from kto_keys.core.errors import KtoKeysError
from kto_keys.core.operations import DetailKind
from kto_keys.core.regions import Selection
from kto_keys.edges.settings import load_settings
from kto_keys.jobs.collect import CollectOptions, collect_now


def main(when: str) -> int:
    """One collection of province 11 with intro details; the exit code the CLI would give."""
    clock = FakeClock(datetime.fromisoformat(when))
    options = CollectOptions(Selection("ldong", ("11",)), (DetailKind.INTRO,), concurrency=4)
    try:
        collect_now(options, load_settings(read_env_file=False), clock)
    except KtoKeysError as error:
        return exit_code_for(error)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
