#!/usr/bin/env python3
"""The original key test, kept working: `test_api_keys.py basic|monitor|all` runs `kto-keys test-keys`."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

try:
    from kto_keys.cli.app import main
except ModuleNotFoundError as missing:  # run outside the project's environment
    sys.exit(
        f"{Path(__file__).name}: {missing.name} is not installed for {sys.executable}; "
        "run it as .venv/bin/python scripts/... after the README's set-up command"
    )

if __name__ == "__main__":
    # Through main(): test-keys' own exit codes (3 for a usage error) hold here too.
    sys.argv = [sys.argv[0], "test-keys", *sys.argv[1:]]
    main()
