"""The message catalog: every line in Korean and English, events as log lines, errors in one line."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import hex_key, make_policy

from kto_keys.cli.messages import Messages
from kto_keys.core.answers import Outcome
from kto_keys.core.clock import FakeClock
from kto_keys.core.codes import OutcomeKind
from kto_keys.core.keys import ServiceKey
from kto_keys.core.pool import DeactivationCause, EventKind, KeyPool, PoolEvent


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
    level, line = Messages(lang).event(
        PoolEvent(kind, key, "detailIntro2", outcome, clock.now(), DeactivationCause.EXPIRED), pool
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
    outcome = Outcome(OutcomeKind.KEY_UNUSABLE, "32", "UNREGISTERED_IP_ERROR")
    event = PoolEvent(
        EventKind.DEACTIVATED,
        key,
        "areaBasedList2",
        outcome,
        clock.now(),
        DeactivationCause.IP_RESTRICTED,
    )
    level, line = Messages("ko").event(event, pool)
    assert level == logging.ERROR
    assert line == (
        f"🚨 KTO API 키 #3 자동 비활성화: {key.preview} (32 UNREGISTERED_IP_ERROR; "
        "누적 오류: 0회; 복구 시도: 10:00:00 KST)"
    )


def test_an_expired_key_line_says_it_waits_for_a_new_date(clock: FakeClock) -> None:
    """Code 31: no probe time, but what brings the key back (a new expiry date, or --force)."""
    key = ServiceKey.from_raw(hex_key(), 3, "environment")
    pool = KeyPool([key], make_policy(), clock.now())
    outcome = Outcome(OutcomeKind.KEY_UNUSABLE, "31", "DEADLINE_HAS_EXPIRED_ERROR")
    event = PoolEvent(
        EventKind.DEACTIVATED, key, "areaBasedList2", outcome, None, DeactivationCause.EXPIRED
    )
    _, line = Messages("en").event(event, pool)
    assert line == (
        f"🚨 KTO API key #3 deactivated: {key.preview} (31 DEADLINE_HAS_EXPIRED_ERROR; not probed"
        " again until its expiry date changes, or recover --force)"
    )


def _fields(template: str) -> set[str]:
    import string

    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_message_exists_in_both_languages_with_the_same_fields() -> None:
    """Korean and English lines of the catalog take the same fields, but for the `reason` a
    Korean line may leave to a detail line of its own; English has no Hangul."""
    import re

    from kto_keys.cli.messages import CATALOG

    hangul = re.compile(r"[\uac00-\ud7a3]")
    for message_id, (korean, english) in CATALOG.items():
        assert korean and english, message_id
        assert _fields(korean) in (_fields(english), _fields(english) - {"reason"}), message_id
        assert not hangul.search(english), message_id


def test_every_settings_problem_has_a_line() -> None:
    """Each kind of configuration error can be worded in both languages."""
    from kto_keys.cli.messages import CATALOG
    from kto_keys.core.errors import SettingsProblem

    for problem in SettingsProblem:
        assert f"settings.{problem.value}" in CATALOG, problem


def test_every_error_type_has_an_exit_code_and_is_worded_without_its_repr() -> None:
    """The exit-code table covers every error the library raises, and no line shows field names."""
    from kto_keys.cli.exits import ERROR_EXIT_CODES
    from kto_keys.core import errors

    raised = [
        errors.ServiceConfigError("https://x/KorService1", "12", "NO_OPENAPI_SERVICE_ERROR"),
        errors.RequestError("11", "NO_MANDATORY_REQUEST_PARAMETERS_ERROR", "MobileOS"),
        errors.NoUsableKeyError("detailIntro2"),
        errors.BudgetExhaustedError(10, {"detailIntro2": 4}),
        errors.HostBlockedError("29", "BLACKLIST_IP_ACCESS_ERROR"),
        errors.HostBlockedError(None),
        errors.CacheLockedError(Path("cache.json")),
        errors.CollectLockedError(Path("kto.db")),
        errors.Terminated(),
    ]
    kinds = {
        kind
        for kind in vars(errors).values()
        if isinstance(kind, type) and issubclass(kind, errors.KtoKeysError)
    } - {errors.KtoKeysError}
    assert kinds <= set(ERROR_EXIT_CODES)
    for error in raised:
        for lang in ("ko", "en"):
            line = Messages(lang).error(error)
            assert line and "\n" not in line and "Error(" not in line, (lang, error)


def test_a_stop_for_lack_of_keys_names_the_key_the_reason_and_the_time() -> None:
    """Exit 4's line: operation, soonest key by index and preview, why, and when in KST."""
    from kto_keys.core.errors import NoUsableKeyError

    key = ServiceKey.from_raw(hex_key(), 2, "environment")
    until = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    error = NoUsableKeyError("detailIntro2", key, "deactivated", until, {"detailIntro2": 7})
    assert Messages("en").error(error) == (
        f"details left: detailIntro2 7. no usable key for detailIntro2. Soonest: key #2 "
        f"{key.preview} (deactivated) at 2026-11-25 00:00:00 KST. The work is kept; "
        "try `kto-keys recover`"
    )
    assert "detailIntro2 7" in Messages("ko").error(error)


@pytest.mark.parametrize(
    "reason, words",
    [
        pytest.param("quota_spent", "quotas reset", id="quota-spent"),
        pytest.param("cooling", "code 22", id="cooling-after-22"),
        pytest.param("paused", "per-second limit", id="paused"),
    ],
)
def test_a_stop_for_a_limit_advises_waiting_not_recovering(reason: str, words: str) -> None:
    """A spent quota, code 22 or a pause is no broken key: the line says when, not `recover`."""
    from kto_keys.core.errors import NoUsableKeyError

    key = ServiceKey.from_raw(hex_key(), 0, "environment")
    until = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    for lang in ("ko", "en"):
        line = Messages(lang).error(NoUsableKeyError("detailIntro2", key, reason, until))
        assert "recover" not in line and "2026-11-25 00:00:00 KST" in line
    assert words in Messages("en").error(NoUsableKeyError("detailIntro2", key, reason, until))


@pytest.mark.parametrize(
    "code, lang, words",
    [
        pytest.param(
            "22",
            "en",
            ["22", "LIMITED_NUMBER_OF_SERVICE_REQUESTS_EXCEEDS_ERROR", "daily quota"],
            id="22-en",
        ),
        pytest.param("4", "en", ["04", "HTTP_ERROR", "routing"], id="unpadded-04-en"),
        pytest.param(
            "30", "ko", ["30", "SERVICE_KEY_IS_NOT_REGISTERED_ERROR", "등록되지 않은"], id="30-ko"
        ),
    ],
)
def test_code_description_names_code_symbol_and_meaning(code, lang, words):
    """A code is described by its number, its symbol and what it means."""
    text = Messages(lang).code(code)
    for word in words:
        assert word in text


def test_korean_lines_carry_no_english_sentence() -> None:
    """A Korean line is Korean: it has Hangul, and no run of three English words outside
    commands, settings, codes and placeholders."""
    import re

    from kto_keys.cli.messages import CATALOG

    hangul = re.compile(r"[\uac00-\ud7a3]")
    # Names that stay as they are in any language: commands, flags, settings, symbols, fields.
    kept = re.compile(
        r"`[^`]*`|\{[^}]*\}|--[\w-]+|KTO_\w+|[A-Z][A-Z0-9_]{2,}|\w+\d\b|[\w./-]+\.\w+"
    )
    english_run = re.compile(r"\b[a-z]{2,}(?:[ /][a-z]{2,}){2,}\b")
    for message_id, (korean, _) in CATALOG.items():
        text = kept.sub(" ", korean)
        if re.search(r"[A-Za-z]{3,}", text):
            assert hangul.search(korean), message_id
        assert not english_run.search(text), (message_id, korean)


def test_every_outcome_kind_and_condition_has_words() -> None:
    """test-keys and status word every outcome kind, reason and condition in both languages."""
    from kto_keys.cli.messages import CATALOG
    from kto_keys.core.codes import OutcomeKind
    from kto_keys.core.pool import Reason
    from kto_keys.core.status import KeyCondition

    for kind in OutcomeKind:
        assert f"outcome.{kind.value}" in CATALOG
    for reason in Reason:
        assert f"reason.{reason.value}" in CATALOG
    for condition in KeyCondition:
        assert f"condition.{condition.value}" in CATALOG


# --- a Korean line is Korean: the system's and the servers' own words on a line of their own ----
def test_a_korean_line_holds_a_reason_only_where_the_catalog_words_it() -> None:
    """Where an English line shows a `reason`, the Korean twin leaves it to a detail line,
    unless the reason handed to it is itself a line of the catalog (a file error's known errno,
    a time, a key's state, words a person gave)."""
    from kto_keys.cli.messages import CATALOG

    worded = {
        "error.no_key_now",  # reason.* of the catalog
        "error.file_access",  # file.reason.* (else "the system refused" and a detail line)
        "warning.log_unwritable",
        "warning.metrics_unwritable",  # the same, or the catalog's own line for an error
        "warning.hook_timed_out",  # a time: "5 s"
        "event.skipped",  # the words given with `disable --reason`, or attention.*
    }
    for message_id, (korean, english) in CATALOG.items():
        if "{reason" in english and "{reason" in korean:
            assert message_id in worded, message_id


def test_korean_says_the_system_and_servers_words_on_a_detail_line_english_as_ever(
    clock: FakeClock,
) -> None:
    """An unexpected error, an errno the catalog cannot word, a request the gateway refused
    with words of its own, a call that failed without a code: each Korean line stays Korean,
    the words follow as `  상세: …`; English keeps its one line."""
    from kto_keys.core.errors import FileAccessError, RequestError

    ko, en = Messages("ko"), Messages("en")
    boom = RuntimeError("boom at 0x1")
    assert ko.error(boom) == (
        "예기치 않은 오류입니다 (--debug로 자세히 볼 수 있습니다)\n  상세: RuntimeError: boom at 0x1"
    )
    assert en.error(boom) == "unexpected error: RuntimeError: boom at 0x1"
    links = FileAccessError(Path("/x"), "Too many links", "EMLINK")
    assert ko.error(links) == "/x에 쓸 수 없습니다: 시스템이 거부했습니다\n  상세: Too many links"
    assert en.error(links) == "cannot write /x: Too many links"
    refused = RequestError("10", "INVALID_REQUEST_PARAMETER_ERROR", None, "Invalid parameter")
    assert ko.error(refused).endswith(": 키 문제가 아닙니다\n  상세: Invalid parameter")
    assert en.error(refused).endswith(": not a key problem - Invalid parameter")
    key = ServiceKey.from_raw(hex_key(), 3, "environment")
    pool = KeyPool([key], make_policy(), clock.now())
    fault = Outcome(OutcomeKind.TRANSIENT, message="connection error (Connection reset by peer)")
    event = PoolEvent(EventKind.FAILURE, key, "detailIntro2", fault, None)
    assert ko.event(event, pool)[1] == (
        f"❌ KTO API 키 #3 호출 실패: {key.preview} - 오류: 일시 오류 (연속 오류: 0회)\n"
        "  상세: connection error (Connection reset by peer)"
    )
    assert en.event(event, pool)[1] == (
        f"❌ KTO API key #3 call failed: {key.preview} - error: connection error (Connection "
        "reset by peer) (consecutive errors: 0)"
    )
