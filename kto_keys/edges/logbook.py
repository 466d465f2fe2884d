"""Log lines: one per event, keys masked, to a file under KTO_LOG_DIR and to stderr."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from kto_keys.core.clock import KST
from kto_keys.core.codes import describe
from kto_keys.core.keys import Redactor, ServiceKey
from kto_keys.core.lang import pick
from kto_keys.core.pool import DeactivationCause, EventKind, KeyPool, PoolEvent

LOGGER_NAME = "kto_keys"


class RedactingFilter(logging.Filter):
    """Last line of defence: no key, raw or encoded, reaches a log handler."""

    def __init__(self, keys: Iterable[ServiceKey]) -> None:
        super().__init__()
        self.redact = Redactor(keys)

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the message with every key replaced by its preview."""
        record.msg = self.redact(record.getMessage())
        record.args = None
        return True


class CurrentStderrHandler(logging.Handler):
    """Writes to whatever sys.stderr is at the time, so live progress bars can redirect it."""

    def emit(self, record: logging.LogRecord) -> None:
        """Write one formatted line."""
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:  # a logging failure must never stop a collection
            self.handleError(record)


def setup_logging(
    log_dir: Path,
    keys: Iterable[ServiceKey],
    now: datetime,
    file_name: str | None = None,
    console_level: int = logging.WARNING,
) -> Path:
    """Send the tool's log to a dated file and warnings to stderr; return the file's path."""
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / (file_name or f"kto_keys_{now.astimezone(KST):%Y%m%d}.log")
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.setLevel(logging.INFO)
    logger.propagate = False
    redactor = RedactingFilter(keys)
    to_file = logging.FileHandler(path, encoding="utf-8")
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    to_file.addFilter(redactor)
    to_console = CurrentStderrHandler()
    to_console.setLevel(console_level)
    to_console.setFormatter(logging.Formatter("%(message)s"))
    to_console.addFilter(redactor)
    logger.addHandler(to_file)
    logger.addHandler(to_console)
    return path


def logger() -> logging.Logger:
    """The tool's logger."""
    return logging.getLogger(LOGGER_NAME)


# One template per event, in Korean and English; the fields are filled in by event_line.
_LINES: dict[EventKind, tuple[int, str, str]] = {
    EventKind.SUCCESS: (
        logging.INFO,
        "✅ KTO API 키 {name} 호출 성공: {preview} ({op} 사용량: {used})",
        "✅ KTO API key {name} call ok: {preview} ({op} usage: {used})",
    ),
    EventKind.QUOTA_SPENT: (
        logging.WARNING,
        "🚫 KTO API 키 {name} {op} 한도 소진: {preview} ({used}, 초기화: {until})",
        "🚫 KTO API key {name} {op} quota spent: {preview} ({used}, resets {until})",
    ),
    EventKind.FAILURE: (
        logging.WARNING,
        "❌ KTO API 키 {name} 호출 실패: {preview} - 오류: {what} (연속 오류: {consecutive}회)",
        "❌ KTO API key {name} call failed: {preview} - error: {what} (consecutive errors: {consecutive})",
    ),
    EventKind.DAILY_LIMIT: (
        logging.WARNING,
        "🚫 KTO API 키 {name} 한도 초과: {preview} ({op}, 재시도 가능: {until})",
        "🚫 KTO API key {name} limit reached: {preview} ({op}, retry at {until})",
    ),
    EventKind.RATE_LIMITED: (
        logging.WARNING,
        "🐢 KTO API 키 {name} 초당 한도: {preview} (잠시 대기, {until}까지)",
        "🐢 KTO API key {name} per-second limit: {preview} (backing off until {until})",
    ),
    EventKind.DEACTIVATED: (
        logging.ERROR,
        "🚨 KTO API 키 {name} 자동 비활성화: {preview} ({detail}; 누적 오류: {total}회; 복구 시도: {until})",
        "🚨 KTO API key {name} deactivated: {preview} ({detail}; total errors: {total}; recovery probe after {until})",
    ),
    EventKind.RECOVERED: (
        logging.WARNING,
        "♻️ KTO API 키 {name} 복구됨: {preview}",
        "♻️ KTO API key {name} recovered: {preview}",
    ),
    EventKind.PROBE_FAILED: (
        logging.WARNING,
        "⛔ KTO API 키 {name} 복구 실패: {preview} - {what} (다음 시도: {until})",
        "⛔ KTO API key {name} recovery failed: {preview} - {what} (next probe after {until})",
    ),
    EventKind.OUTAGE: (
        logging.WARNING,
        "🌩️ 모든 키가 연달아 실패: 게이트웨이 장애로 보고 키를 탓하지 않고 잠시 기다립니다",
        "🌩️ every key just failed: treating it as a gateway fault, backing off without blaming keys",
    ),
    EventKind.OUTAGE_OVER: (
        logging.WARNING,
        "🌤️ KTO API 키 {name} 호출 성공: 게이트웨이 장애가 끝났습니다",
        "🌤️ KTO API key {name} call ok: the gateway outage is over",
    ),
    EventKind.REQUEST_ERROR: (
        logging.ERROR,
        "⚠️ 요청 오류 (키 {name} 책임 아님): {what}",
        "⚠️ request error (not key {name}'s fault): {what}",
    ),
}


def event_line(event: PoolEvent, pool: KeyPool, lang: str) -> tuple[int, str]:
    """The log level and line for one pool event."""
    key, state, outcome = event.key, pool.state(event.key), event.outcome
    code = (outcome.code if outcome else None) or ""
    if code:
        what = describe(code, lang, outcome.symbol if outcome else "")
    else:
        what = outcome.message if outcome else ""
    level, korean, english = _LINES[event.kind]
    line = pick(lang, korean, english).format(
        name=f"#{key.index}",
        preview=key.preview,
        op=event.operation,
        used=f"{pool.used(key, event.operation)}/{pool.policy.usable_limit}",
        until=event.until.astimezone(KST).strftime("%H:%M:%S KST") if event.until else "-",
        what=what,
        consecutive=state.consecutive_errors,
        total=state.total_errors,
        detail=_cause_text(event, state.consecutive_errors, lang),
    )
    return level, line


def _cause_text(event: PoolEvent, consecutive: int, lang: str) -> str:
    """What took a key out, from the event's typed cause (the pool writes no sentences)."""
    if event.cause is DeactivationCause.TOO_MANY_ERRORS:
        return pick(lang, f"연속 오류 {consecutive}회", f"{consecutive} consecutive errors")
    outcome = event.outcome
    text = f"{outcome.code or ''} {outcome.symbol}".strip() if outcome else ""
    if event.cause is DeactivationCause.NOT_ACTIVATED_YET:
        text += pick(lang, " (아직 활성화 전일 수 있음)", " (may not be activated yet)")
    return text


def skip_line(key: ServiceKey, reason: str, lang: str) -> str:
    """The line for a key left out of a run."""
    return pick(
        lang,
        f"⏭️ KTO 키 #{key.index} 건너뜀: {key.preview} - {reason}",
        f"⏭️ KTO key #{key.index} skipped: {key.preview} - {reason}",
    )
