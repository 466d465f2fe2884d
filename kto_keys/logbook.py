"""Log lines: one per event, keys masked, to a file under KTO_LOG_DIR and to stderr."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from kto_keys.clock import KST
from kto_keys.codes import describe
from kto_keys.keys import Redactor, ServiceKey
from kto_keys.lang import pick
from kto_keys.pool import EventKind, KeyPool, PoolEvent

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


def event_line(event: PoolEvent, pool: KeyPool, lang: str) -> tuple[int, str]:
    """The log level and line for one pool event."""
    key, state = event.key, pool.state(event.key)
    outcome = event.outcome
    code = (outcome.code if outcome else None) or ""
    what = (
        describe(code, lang, outcome.symbol if outcome else "")
        if code
        else (outcome.message if outcome else "")
    )
    until = event.until.astimezone(KST).strftime("%H:%M:%S KST") if event.until else "-"
    used = f"{pool.used(key, event.operation)}/{pool.policy.usable_limit}"
    name = f"#{key.index}"
    kind = event.kind
    if kind is EventKind.SUCCESS:
        return logging.INFO, pick(
            lang,
            f"✅ KTO API 키 {name} 호출 성공: {key.preview} ({event.operation} 사용량: {used})",
            f"✅ KTO API key {name} call ok: {key.preview} ({event.operation} usage: {used})",
        )
    if kind is EventKind.QUOTA_SPENT:
        return logging.WARNING, pick(
            lang,
            f"🚫 KTO API 키 {name} {event.operation} 한도 소진: {key.preview} ({used}, 초기화: {until})",
            f"🚫 KTO API key {name} {event.operation} quota spent: {key.preview} ({used}, resets {until})",
        )
    if kind is EventKind.FAILURE:
        return logging.WARNING, pick(
            lang,
            f"❌ KTO API 키 {name} 호출 실패: {key.preview} - 오류: {what} (연속 오류: {state.consecutive_errors}회)",
            f"❌ KTO API key {name} call failed: {key.preview} - error: {what} (consecutive errors: {state.consecutive_errors})",
        )
    if kind is EventKind.DAILY_LIMIT:
        return logging.WARNING, pick(
            lang,
            f"🚫 KTO API 키 {name} 한도 초과: {key.preview} ({event.operation}, 재시도 가능: {until})",
            f"🚫 KTO API key {name} limit reached: {key.preview} ({event.operation}, retry at {until})",
        )
    if kind is EventKind.RATE_LIMITED:
        return logging.WARNING, pick(
            lang,
            f"🐢 KTO API 키 {name} 초당 한도: {key.preview} (잠시 대기, {until}까지)",
            f"🐢 KTO API key {name} per-second limit: {key.preview} (backing off until {until})",
        )
    if kind is EventKind.DEACTIVATED:
        return logging.ERROR, pick(
            lang,
            f"🚨 KTO API 키 {name} 자동 비활성화: {key.preview} ({event.detail}; 누적 오류: {state.total_errors}회; 복구 시도: {until})",
            f"🚨 KTO API key {name} deactivated: {key.preview} ({event.detail}; total errors: {state.total_errors}; recovery probe after {until})",
        )
    if kind is EventKind.RECOVERED:
        return logging.WARNING, pick(
            lang,
            f"♻️ KTO API 키 {name} 복구됨: {key.preview}",
            f"♻️ KTO API key {name} recovered: {key.preview}",
        )
    if kind is EventKind.PROBE_FAILED:
        return logging.WARNING, pick(
            lang,
            f"⛔ KTO API 키 {name} 복구 실패: {key.preview} - {what} (다음 시도: {until})",
            f"⛔ KTO API key {name} recovery failed: {key.preview} - {what} (next probe after {until})",
        )
    if kind is EventKind.OUTAGE:
        return logging.WARNING, pick(
            lang,
            "🌩️ 모든 키가 연달아 실패: 게이트웨이 장애로 보고 키를 탓하지 않고 잠시 기다립니다",
            "🌩️ every key just failed: treating it as a gateway fault, backing off without blaming keys",
        )
    return logging.ERROR, pick(
        lang,
        f"⚠️ 요청 오류 (키 {name} 책임 아님): {what}",
        f"⚠️ request error (not key {name}'s fault): {what}",
    )


def skip_line(key: ServiceKey, reason: str, lang: str) -> str:
    """The line for a key left out of a run."""
    return pick(
        lang,
        f"⏭️ KTO 키 #{key.index} 건너뜀: {key.preview} - {reason}",
        f"⏭️ KTO key #{key.index} skipped: {key.preview} - {reason}",
    )
