"""The exit-code table: one in the code, one in the README, and they say the same."""

from __future__ import annotations

import re
from pathlib import Path

from kto_keys.cli import exits
from kto_keys.core import errors
from kto_keys.core.health import HealthLevel

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_codes() -> dict[int, str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("### Exit codes", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    rows = re.findall(r"^\| (\d+) \| (.+) \|$", section, re.MULTILINE)
    return {int(code): meaning for code, meaning in rows}


def test_readme_lists_every_exit_code_the_cli_gives() -> None:
    """Every code of the error table and of `health` appears in the README's one table."""
    given = set(exits.ERROR_EXIT_CODES.values()) | set(exits.HEALTH_EXIT_CODES.values())
    given |= {exits.OK, exits.INTERRUPTED, exits.UNKNOWN}
    assert given == set(_readme_codes())


def test_readme_words_each_error_code_as_the_table_maps_it() -> None:
    """Stops for lack of keys are 4, configuration 2, a refused host 5, signals 130 and 143."""
    readme = _readme_codes()
    assert (
        "stopped for lack of usable keys" in readme[exits.ERROR_EXIT_CODES[errors.NoUsableKeyError]]
    )
    assert "--budget" in readme[exits.ERROR_EXIT_CODES[errors.BudgetExhaustedError]]
    assert "gateway failing" in readme[exits.ERROR_EXIT_CODES[errors.GatewayUnavailableError]]
    assert "setting or option" in readme[exits.ERROR_EXIT_CODES[errors.SettingsError]]
    assert "service URL" in readme[exits.ERROR_EXIT_CODES[errors.ServiceConfigError]]
    assert "refuses it" in readme[exits.ERROR_EXIT_CODES[errors.HostBlockedError]]
    assert "cannot reach" in readme[exits.ERROR_EXIT_CODES[errors.HostUnreachableError]]
    assert "Ctrl-C" in readme[exits.INTERRUPTED]
    assert (
        "another run holds the database"
        in readme[exits.ERROR_EXIT_CODES[errors.CollectLockedError]]
    )
    assert "a key stays out" in readme[exits.recover_exit_code([False])]
    assert "SIGTERM" in readme[exits.ERROR_EXIT_CODES[errors.Terminated]]
    for level, code in exits.HEALTH_EXIT_CODES.items():
        assert "health" in readme[code], level


def test_health_levels_follow_the_monitoring_convention() -> None:
    """0 healthy, 1 warning, 2 danger or critical, 3 unknown."""
    assert exits.HEALTH_EXIT_CODES == {
        HealthLevel.HEALTHY: 0,
        HealthLevel.WARNING: 1,
        HealthLevel.DANGER: 2,
        HealthLevel.CRITICAL: 2,
        HealthLevel.UNKNOWN: 3,
    }


def test_an_unknown_error_is_a_failure_and_ctrl_c_is_130() -> None:
    """Anything unforeseen exits 1; KeyboardInterrupt exits 130."""
    assert exits.exit_code_for(RuntimeError("boom")) == exits.FAILED == 1
    assert exits.exit_code_for(KeyboardInterrupt()) == 130
