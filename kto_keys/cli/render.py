"""Everything people see: rich tables and reports on a terminal, plain lines elsewhere."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from kto_keys.core.clock import format_time
from kto_keys.core.codes import describe
from kto_keys.core.health import Attention, Health, KeyNote
from kto_keys.core.lang import pick
from kto_keys.core.pool import Reason
from kto_keys.core.regions import RegionRow
from kto_keys.core.status import KeyStatusRow

_PLAIN_WIDTH = 160


def make_console(stderr: bool = False) -> Console:
    """One console per stream; wide and colourless when it is not a terminal."""
    stream = sys.stderr if stderr else sys.stdout
    console = Console(file=stream, stderr=stderr, highlight=False, soft_wrap=False)
    if not console.is_terminal:
        console = Console(
            file=stream, stderr=stderr, highlight=False, width=_PLAIN_WIDTH, no_color=True
        )
    return console


def print_json(data: Any) -> None:
    """Machine output: JSON on stdout, nothing else."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
    sys.stdout.flush()


def status_table(rows: Sequence[KeyStatusRow], lang: str) -> Table:
    """The `status` table: one row per key."""
    table = Table(title=pick(lang, "KTO API 키 상태", "KTO API key status"), expand=False)
    for header in (
        "#",
        pick(lang, "키", "key"),
        pick(lang, "출처", "source"),
        pick(lang, "상태", "state"),
        pick(lang, "오늘 사용량", "usage today"),
        pick(lang, "오류 연속/누적", "errors consec/total"),
        pick(lang, "마지막 오류", "last error"),
        pick(lang, "오늘 성공률 · p50/p95", "success today · p50/p95"),
        pick(lang, "다음 사용 가능", "next usable"),
    ):
        table.add_column(header, overflow="fold")
    for row in rows:
        usage = "\n".join(f"{op} {n}/{row.limit}" for op, n in sorted(row.usage.items())) or "-"
        rate = row.stats.success_rate
        stats = (
            "-" if rate is None else f"{rate:.0%} · {_ms(row.stats.p50_ms)}/{_ms(row.stats.p95_ms)}"
        )
        state = str(row.state)
        for operation, reason in sorted(row.blocked.items()):
            state += f"\n{operation}: {reason}"
        if row.deactivation_reason:
            state += f"\n{row.deactivation_reason}"
        elif row.deactivation_cause:
            state += f"\n{attention_text(str(row.deactivation_cause), lang)}"
        error = row.last_error
        table.add_row(
            f"#{row.index}",
            row.preview,
            row.source,
            state,
            usage,
            f"{row.consecutive_errors}/{row.total_errors}",
            "-"
            if error is None
            else (describe(error.code, lang, error.symbol) if error.code else error.message),
            stats,
            format_time(row.next_usable_at) if row.next_usable_at else "-",
        )
    return table


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}ms"


def health_lines(health: Health, lang: str) -> list[str]:
    """The health report as lines for people."""
    level = health.level
    names = {
        "healthy": pick(lang, "정상", "healthy"),
        "warning": pick(lang, "주의", "warning"),
        "danger": pick(lang, "위험", "danger"),
        "critical": pick(lang, "치명적", "critical"),
        "unknown": pick(lang, "알 수 없음", "unknown"),
    }
    lines = [
        pick(
            lang,
            f"{level.icon} 키 건강 상태: {names[level]} ({health.score:.0f}%, 작동 {health.working}/{health.total})",
            f"{level.icon} key health: {names[level]} ({health.score:.0f}%, {health.working}/{health.total} working)",
        )
    ]
    for note in health.attention:
        what = attention_text(str(note.attention), lang)
        until = (
            f" — {pick(lang, '복구 시도', 'recovery probe')} {format_time(note.until)}"
            if note.until
            else ""
        )
        lines.append(
            f"  ⚠️ #{note.key.index} {note.key.preview}: {what} ({note_detail(note)}){until}"
        )
    for limit in health.limits:
        operation = limit.operation
        text = (
            pick(lang, f"{operation} 한도 소진, 초기화", f"quota for {operation} spent until")
            if limit.reason is Reason.QUOTA_SPENT
            else pick(
                lang, f"{operation} 한도 초과로 대기, 재시도", f"{operation} cooling down until"
            )
        )
        lines.append(
            f"  ⏳ #{limit.key.index} {limit.key.preview}: {text} {format_time(limit.until)}"
        )
    lines.append(suggestion(health, lang))
    return lines


def note_detail(note: KeyNote) -> str:
    """The facts behind a health note, the same in every language: the words given by hand, or
    the last error's code and symbol (with the count when errors in a row took the key out)."""
    if note.reason:
        return note.reason
    error = note.error
    if error is None:
        return ""
    what = f"{error.code or ''} {error.symbol}".strip() or error.message
    if note.attention is Attention.TOO_MANY_ERRORS:
        return f"{note.consecutive_errors}× {what}"
    return what


def attention_text(attention: str, lang: str) -> str:
    """What a person should understand about a key."""
    texts = {
        "expired": pick(
            lang, "사용 기간 만료: 포털에서 연장하세요", "expired: extend it on the portal"
        ),
        "not_approved": pick(
            lang,
            "이 서비스에 승인되지 않음: 포털에서 활용 신청을 확인하세요",
            "not approved for this service: check the application on the portal",
        ),
        "not_activated_yet": pick(
            lang,
            "아직 활성화 전일 수 있음 (발급 후 최대 2시간)",
            "may not be activated yet (up to 2 hours after issue)",
        ),
        "not_registered": pick(
            lang,
            "등록되지 않은 키: 키 값(인코딩/디코딩)을 확인하세요",
            "not registered: check the key (Encoding vs Decoding form)",
        ),
        "temporarily_disabled": pick(lang, "일시 중지된 키", "temporarily disabled"),
        "ip_restricted": pick(lang, "다른 IP로 제한된 키", "limited to other IPs"),
        "too_many_errors": pick(
            lang, "연속 오류로 비활성화", "deactivated after consecutive errors"
        ),
        "disabled_by_hand": pick(
            lang,
            "수동으로 비활성화됨 (`kto-keys enable N`)",
            "disabled by hand (`kto-keys enable N`)",
        ),
        "error_wait": pick(lang, "최근 오류로 잠시 대기", "waiting after a recent error"),
    }
    return texts.get(attention, attention)


def suggestion(health: Health, lang: str) -> str:
    """What to do next."""
    if health.total == 0:
        return pick(lang, "💡 KTO_API_KEY에 키를 설정하세요", "💡 set keys in KTO_API_KEY")
    if health.level.value == "healthy":
        return pick(lang, "💡 조치 필요 없음", "💡 nothing to do")
    return pick(
        lang,
        "💡 `kto-keys recover`로 복구를 시도하고, 만료/미승인 키는 공공데이터포털에서 확인하세요",
        "💡 try `kto-keys recover`; check expired or unapproved keys on the data.go.kr portal",
    )


def summary_lines(report: dict[str, Any], lang: str) -> list[str]:
    """The end-of-run summary for people."""
    listing, details = report["listing"], report["details"]
    outcome = {
        "complete": pick(lang, "✅ 수집 완료", "✅ collection complete"),
        "stopped": pick(
            lang, "⏸️ 수집 중단 (작업은 저장됨)", "⏸️ collection stopped (the work is kept)"
        ),
        "interrupted": pick(
            lang, "⏹️ 수집 중단됨 (작업은 저장됨)", "⏹️ collection interrupted (the work is kept)"
        ),
    }.get(report["outcome"], pick(lang, "❌ 수집 실패", "❌ collection failed"))
    lines = [
        f"{outcome} — run #{report['run_id']}, {report['elapsed_s']:.1f}s",
        pick(
            lang,
            f"  기록: {listing['records']}건 (신규 {listing['new']}, 변경 {listing['updated']}, 삭제 표시 {listing['removed']})",
            f"  records: {listing['records']} (new {listing['new']}, updated {listing['updated']}, removed {listing['removed']})",
        ),
        pick(
            lang,
            f"  목록 호출: {listing['calls']}회 (최소 {listing['minimum_calls']}), 페이지 {listing['pages']}",
            f"  list calls: {listing['calls']} (minimum {listing['minimum_calls']}), pages {listing['pages']}",
        ),
    ]
    fetched = details.get("fetched") or {}
    if details.get("plan"):
        for op in details["plan"]["operations"]:
            days = "?" if op["more_days"] is None else op["more_days"]
            lines.append(
                pick(
                    lang,
                    f"  {op['operation']}: 이번 {fetched.get(op['operation'], 0)}회 / 필요 {op['needed']}회, 남은 {op['remaining_after']}회 (약 {days}일)",
                    f"  {op['operation']}: {fetched.get(op['operation'], 0)} fetched / {op['needed']} needed, {op['remaining_after']} left (~{days} more day(s))",
                )
            )
    lines.append(
        pick(
            lang,
            f"  전체 호출: {report['total_calls']}회 (최소 {report['minimum_calls']}), 키 전환 {report['failovers']}회",
            f"  calls: {report['total_calls']} (minimum {report['minimum_calls']}), failovers {report['failovers']}",
        )
    )
    for key, operations in report["calls"].items():
        usage = ", ".join(f"{op} {n}" for op, n in operations.items())
        lines.append(f"    {key}: {usage}")
    return lines


def region_table_view(rows: Sequence[RegionRow], lang: str) -> Table:
    """The `regions` table."""
    table = Table(title=pick(lang, "지역 코드", "region codes"))
    for header in (
        pick(lang, "지역코드 (구)", "area code (legacy)"),
        pick(lang, "법정동 시도코드", "lDongRegnCd"),
        pick(lang, "이름", "name"),
        "",
        pick(lang, "서비스 목록", "listed by service"),
    ):
        table.add_column(header)
    for row in rows:
        listed = (
            "-"
            if row.listed is None
            else ("✓" if row.listed else pick(lang, "✗ 없음", "✗ missing"))
        )
        table.add_row(row.area or "-", row.ldong, row.name_ko, row.name_en, listed)
    return table
