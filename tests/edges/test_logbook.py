"""Log lines: one per event, in Korean or English, keys shown only as #index and preview."""

from __future__ import annotations

import logging

import pytest
from conftest import hex_key, make_policy

from kto_keys.core.answers import Outcome
from kto_keys.core.clock import FakeClock
from kto_keys.core.codes import OutcomeKind
from kto_keys.core.keys import ServiceKey
from kto_keys.core.pool import DeactivationCause, EventKind, KeyPool, PoolEvent
from kto_keys.edges.logbook import event_line


@pytest.mark.parametrize("kind", [pytest.param(kind, id=str(kind)) for kind in EventKind])
@pytest.mark.parametrize("lang", ["ko", "en"])
def test_every_event_has_a_complete_line_in_both_languages(
    clock: FakeClock, kind: EventKind, lang: str
) -> None:
    """No template field is left unfilled, and the raw key never appears."""
    raw = hex_key()
    key = ServiceKey.from_raw(raw, 3, "environment")
    pool = KeyPool([key], make_policy(), clock.now())
    outcome = Outcome(OutcomeKind.KEY_UNUSABLE, "31", "DEADLINE_HAS_EXPIRED_ERROR")
    level, line = event_line(
        PoolEvent(kind, key, "detailIntro2", outcome, clock.now(), DeactivationCause.EXPIRED),
        pool,
        lang,
    )
    assert "{" not in line and "}" not in line
    assert raw not in line and raw[:11] not in line
    assert level in (logging.INFO, logging.WARNING, logging.ERROR)
    if kind is not EventKind.OUTAGE:
        assert "#3" in line


def test_deactivation_line_names_the_code_the_errors_and_the_probe_time(clock: FakeClock) -> None:
    """The line a person greps for: key, preview, reason, error count, next probe in KST."""
    key = ServiceKey.from_raw(hex_key(), 3, "environment")
    pool = KeyPool([key], make_policy(), clock.now())
    outcome = Outcome(OutcomeKind.KEY_UNUSABLE, "31", "DEADLINE_HAS_EXPIRED_ERROR")
    event = PoolEvent(
        EventKind.DEACTIVATED,
        key,
        "areaBasedList2",
        outcome,
        clock.now(),
        DeactivationCause.EXPIRED,
    )
    level, line = event_line(event, pool, "ko")
    assert level == logging.ERROR
    assert line == (
        f"🚨 KTO API 키 #3 자동 비활성화: {key.preview} (31 DEADLINE_HAS_EXPIRED_ERROR; "
        "누적 오류: 0회; 복구 시도: 10:00:00 KST)"
    )
