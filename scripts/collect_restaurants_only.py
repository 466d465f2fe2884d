#!/usr/bin/env python3
"""The original command line, kept working: `--mode major|all|regions --regions "1,6,31"`.

It runs `kto-keys collect` with the same options; `--interactive` opens `kto-keys menu`.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

try:
    from kto_keys.cli.app import app
except ModuleNotFoundError as missing:  # run outside the project's environment
    sys.exit(
        f"{Path(__file__).name}: {missing.name} is not installed for {sys.executable}; "
        "run it as .venv/bin/python scripts/... after the README's set-up command"
    )


def main(argv: list[str]) -> None:
    """Translate the legacy flags into the `kto-keys` command line."""
    globals_, rest = _split_globals([arg for arg in argv if arg != "--interactive"])
    if "--interactive" in argv:
        app([*globals_, "menu", *rest], prog_name="collect_restaurants_only.py")
        return
    app([*globals_, "collect", *rest], prog_name="collect_restaurants_only.py")


def _split_globals(argv: list[str]) -> tuple[list[str], list[str]]:
    """`--env-file`, `--lang` and `--debug` go before the subcommand."""
    globals_: list[str] = []
    rest: list[str] = []
    items = iter(argv)
    for arg in items:
        if arg in ("--env-file", "--lang"):
            globals_ += [arg, next(items, "")]
        elif arg.startswith(("--env-file=", "--lang=")) or arg == "--debug":
            globals_.append(arg)
        else:
            rest.append(arg)
    return globals_, rest


if __name__ == "__main__":
    main(sys.argv[1:])
