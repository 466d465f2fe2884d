"""Every sentence kto-keys says to a person, in Korean (the default) and English.

The library raises errors with data and reports events as values; this catalog words them. A
message is looked up by its id and filled in with named fields: `Messages("en")("recover.none")`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from kto_keys.core.answers import Outcome
from kto_keys.core.clock import KST, format_time
from kto_keys.core.codes import lookup
from kto_keys.core.errors import (
    BudgetExhaustedError,
    CacheLockedError,
    CollectLockedError,
    FileAccessError,
    GatewayUnavailableError,
    HostBlockedError,
    HostUnreachableError,
    KtoKeysError,
    NoUsableKeyError,
    RequestError,
    ServiceConfigError,
    SettingsError,
    SettingsProblem,
    SharedStateLostError,
    Terminated,
)
from kto_keys.core.keys import KeyWarning, KeyWarningKind, ServiceKey, mask_secretlike
from kto_keys.core.pool import DeactivationCause, EventKind, KeyPool, PoolEvent
from kto_keys.core.regions import BY_LDONG, REGIONS, Followed
from kto_keys.edges.hooks import HookFailed
from kto_keys.edges.shared import JournalSetAside
from kto_keys.edges.state import CacheLost
from kto_keys.jobs.watch import Notice

LANGUAGES = ("ko", "en")

# id -> (Korean, English). Fields in braces are filled in by name. A Korean line never holds a
# system's or a server's own words (English, as they come): where a Korean template leaves out
# the `reason` its English twin shows, they follow on a line of their own, `  상세: …`.
CATALOG: dict[str, tuple[str, str]] = {
    # --- errors ---------------------------------------------------------------------------
    "error.interrupted": ("중단됨: 작업은 저장되었습니다", "interrupted: the work is kept"),
    "error.terminated": (
        "SIGTERM으로 종료됨: 작업은 저장되었습니다",
        "terminated by SIGTERM: the work is kept",
    ),
    "error.unexpected": (
        "예기치 않은 오류입니다 (--debug로 자세히 볼 수 있습니다)",
        "unexpected error: {reason}",
    ),
    "error.no_key_at_all": (
        "{operation}에 사용할 수 있는 키가 없습니다: 모든 키를 손으로 뺐습니다. `kto-keys health`에서 번호를 보고 `kto-keys enable <번호>`로 되돌리세요",
        "no usable key for {operation}: every key was taken out by hand. `kto-keys health` lists them; `kto-keys enable <#>` puts one back",
    ),
    "error.no_key_now": (
        "{operation}에 사용할 수 있는 키가 없습니다. 가장 빠른 키: {key} ({reason}) {when}. 작업은 저장되었습니다; `kto-keys recover`를 시도하세요",
        "no usable key for {operation}. Soonest: key {key} ({reason}) at {when}. The work is kept; try `kto-keys recover`",
    ),
    "error.quota_spent": (
        "오늘 {operation} 한도를 모든 키가 다 썼습니다 (예약분 제외). 작업은 저장되었고, 한도가 초기화되는 {when} 이후 다음 실행이 이어서 합니다",
        "today's quota for {operation} is used up on every key (reserve kept). The work is kept; the next run after {when}, when quotas reset, goes on",
    ),
    "error.cooling": (
        "모든 키가 {operation} 일일 한도(코드 22)에 걸렸습니다. 작업은 저장되었고, {when}에 다시 시도할 수 있으며 한도는 자정(KST)에 초기화됩니다",
        "every key hit its daily limit for {operation} (code 22). The work is kept; keys may be tried again at {when}, and quotas reset at midnight KST",
    ),
    "error.paused": (
        "{operation}: 모든 키가 초당 한도로 잠시 멈췄습니다. 작업은 저장되었고, {when}부터 다시 실행할 수 있습니다",
        "{operation}: every key is paused by the per-second limit. The work is kept; run again from {when}",
    ),
    "error.details_left": ("남은 상세: {left}. ", "details left: {left}. "),
    "error.budget": (
        "--budget {budget} 도달: 남은 작업은 저장되었고 다음 실행에서 이어집니다",
        "--budget {budget} reached with work left: the work is kept and the next run continues",
    ),
    "error.budget_left": (" (남은 상세: {left})", " (details left: {left})"),
    "error.gateway_down": (
        "게이트웨이가 {since}부터 모든 키에 오류를 돌려줍니다: 작업은 저장되었고, 나중에 다시 실행하세요",
        "the gateway has failed for every key since {since}: the work is kept, run again later",
    ),
    "error.host_refused_uncoded": (
        "모든 키가 코드 없는 HTTP 401/403으로 거절됨: 키가 아니라 이 컴퓨터(IP) 또는 User-Agent가 차단된 것으로 보입니다",
        "every key was refused with HTTP 401/403 and no code: the gateway refuses this host or its User-Agent, not the keys",
    ),
    "error.host_blocked": (
        "게이트웨이가 이 컴퓨터를 차단했습니다: {what}. 키 문제가 아니므로 키는 그대로 둡니다",
        "the gateway refuses this machine: {what}. The keys are not to blame and were left as they are",
    ),
    "error.host_unreachable": (
        "{host}에 연결할 수 없습니다: 이 컴퓨터의 네트워크나 DNS, KTO_API_BASE_URL을 확인하세요. 키는 그대로 두었습니다",
        "cannot reach {host} ({reason}): check this machine's network or DNS, and KTO_API_BASE_URL. The keys were left as they are",
    ),
    "error.service_config": (
        "설정 오류: {what} - KTO_API_BASE_URL={base_url} 를 확인하세요 (KorService2)",
        "configuration error: {what} - check KTO_API_BASE_URL={base_url} (KorService2)",
    ),
    "error.request": (
        "요청 오류 {what}{parameter}: 키 문제가 아닙니다",
        "request error {what}{parameter}: not a key problem - {reason}",
    ),
    "error.collect_locked": (
        "다른 수집이 같은 데이터베이스({path})에서 실행 중입니다: 끝난 뒤 다시 실행하세요",
        "another collection is running on {path}: run again when it has finished",
    ),
    "error.state_unreachable": (
        "공유 키 풀 서버 {url}에 연결할 수 없습니다: 호출은 하나도 하지 않았습니다. 서버와 KTO_STATE_URL을 확인하세요",
        "cannot reach the shared key pool at {url} ({reason}): no call was made. Check the server and KTO_STATE_URL",
    ),
    "error.state_lost": (
        "실행 중 공유 키 풀 서버 {url}와 연결이 끊겼습니다: 새 호출은 하지 않았고, 진행 중이던 호출의 결과는 로컬 저널에 남겼습니다. 작업은 저장되었으며 다음 실행이 저널부터 반영합니다",
        "lost the shared key pool at {url} during the run ({reason}): no new call was made, the outcomes of the calls in flight wait in the local journal. The work is kept; the next run replays the journal first",
    ),
    "warning.state_unreachable_listing": (
        "⚠️  공유 키 풀 서버 {url}에 연결할 수 없어 키 상태는 '알 수 없음'으로 보여 줍니다 (키 목록은 이 컴퓨터의 키 저장소, 키 파일, 환경 변수에서 읽었습니다)",
        "⚠️  cannot reach the shared key pool at {url} ({reason}): key states are shown as unknown (the keys come from this machine's key store, keys file and environment)",
    ),
    "error.cache_locked": (
        "키 캐시 {path}를 다른 프로세스가 잠그고 있습니다",
        "the key cache {path} is locked by another process",
    ),
    "error.file_access": ("{path}에 쓸 수 없습니다: {reason}", "cannot write {path}: {reason}"),
    # --- what the system says when a file cannot be written (by errno name) ---------------------
    "file.reason.ENOSPC": ("디스크 공간이 없습니다", "no space left on device"),
    "file.reason.EDQUOT": ("디스크 할당량을 넘었습니다", "disk quota exceeded"),
    "file.reason.EACCES": ("권한이 없습니다", "permission denied"),
    "file.reason.EPERM": ("허용되지 않습니다", "operation not permitted"),
    "file.reason.EROFS": ("읽기 전용 파일 시스템입니다", "read-only file system"),
    "file.reason.ENOTDIR": (
        "경로 중간에 폴더 대신 파일이 있습니다",
        "a part of the path is a file, not a folder",
    ),
    "file.reason.EISDIR": ("파일이 아니라 폴더입니다", "it is a folder, not a file"),
    "file.reason.EIO": ("입출력 오류", "input/output error"),
    "file.reason.EFBIG": ("파일이 너무 큽니다", "file too large"),
    "file.reason.ENOENT": ("파일이 없습니다", "no such file"),
    # An errno without words of its own: said so in Korean, the system's words on a detail line.
    "file.reason.other": ("시스템이 거부했습니다", "the system refused"),
    "detail.line": ("  상세: {detail}", "  detail: {detail}"),
    # Where a key comes from, in the tables (a file is named by its name).
    "source.store": ("저장소", "store"),
    "source.env": ("환경", "env"),
    "warning.history_unwritable": (
        "⚠️  키 기록을 {path}에 쓸 수 없습니다: 실행은 계속합니다",
        "⚠️  cannot write the key history to {path} ({reason}): the run goes on",
    ),
    "warning.hook_failed": (
        "⚠️  KTO_ON_EVENT 명령 {program} 실패 (종료 코드 {code})",
        "⚠️  the KTO_ON_EVENT command {program} failed (exit code {code}): {reason}",
    ),
    "warning.hook_unstarted": (
        "⚠️  KTO_ON_EVENT 명령 {program}을(를) 실행할 수 없습니다",
        "⚠️  cannot run the KTO_ON_EVENT command {program}: {reason}",
    ),
    "warning.hook_timed_out": (
        "⚠️  KTO_ON_EVENT 명령 {program}이(가) {reason} 안에 끝나지 않아 중단했습니다",
        "⚠️  the KTO_ON_EVENT command {program} did not end within {reason} and was stopped",
    ),
    "warning.metrics_unwritable": (
        "⚠️  메트릭 파일 {path}에 쓸 수 없습니다 ({reason}): 실행 결과는 그대로입니다",
        "⚠️  cannot write the metrics file {path} ({reason}): the result stands",
    ),
    "warning.ping_failed": (
        "⚠️  모니터 {host}에 알리지 못했습니다: 실행 결과는 그대로입니다",
        "⚠️  could not ping the monitor at {host} ({reason}): the result stands",
    ),
    "warning.log_unwritable": (
        "⚠️  로그 파일 {path}에 쓸 수 없습니다 ({reason}): 로그는 화면에만 남기고 계속합니다",
        "⚠️  cannot write the log file {path} ({reason}): logging to stderr only, the run goes on",
    ),
    # --- settings and options ---------------------------------------------------------------
    "settings.keys_empty": (
        "KTO_API_KEY가 비어 있습니다: 환경 변수 또는 {path}에 KTO_API_KEY=key1,key2,... 를 설정하세요",
        "KTO_API_KEY is empty: set KTO_API_KEY=key1,key2,... in the environment or in {path}",
    ),
    "settings.env_file_unreadable": (
        "env 파일 {path}을(를) 읽을 수 없습니다",
        "cannot read env file {path}: {reason}",
    ),
    "settings.not_whole_number": (
        "{setting}={value!r}: 정수가 아닙니다",
        "{setting}={value!r} is not a whole number",
    ),
    "settings.too_small": (
        "{setting}={value}: {minimum} 이상이어야 합니다",
        "{setting}={value} must be at least {minimum}",
    ),
    "settings.not_seconds": (
        "{setting}={value!r}: 초 단위 숫자가 아닙니다",
        "{setting}={value!r} is not a number of seconds",
    ),
    "settings.not_rate": (
        "{setting}={value!r}: 초당 호출 수(0보다 큰 숫자)가 아닙니다",
        "{setting}={value!r} is not a number of calls per second (more than 0)",
    ),
    "settings.not_finite": (
        "{setting}={value!r}: 유한한 초 값이 아닙니다",
        "{setting}={value!r} is not a finite number of seconds",
    ),
    "settings.negative": (
        "{setting}={value}: 음수일 수 없습니다",
        "{setting}={value} must not be negative",
    ),
    "settings.too_long": (
        "{setting}={value}: {maximum:,}초를 넘습니다",
        "{setting}={value} is more than {maximum:,} seconds",
    ),
    "settings.not_positive_timeout": (
        "KTO_CONNECT_TIMEOUT_S와 KTO_READ_TIMEOUT_S는 0보다 커야 합니다",
        "KTO_CONNECT_TIMEOUT_S and KTO_READ_TIMEOUT_S must be more than 0",
    ),
    "settings.not_positive": (
        "{setting}={value}: 0보다 커야 합니다",
        "{setting}={value} must be more than 0",
    ),
    "settings.not_http_url": (
        "{setting}={value!r}: http(s) URL이 아닙니다",
        "{setting}={value!r} is not an http(s) URL",
    ),
    "settings.not_one_of": (
        "{setting}={value!r}: 다음 중 하나여야 합니다: {valid}",
        "{setting}={value!r} is not one of: {valid}",
    ),
    "settings.unknown_details": (
        "--details: 알 수 없는 값 {values}; 가능한 값: {valid}",
        "--details: unknown value {values}; valid: {valid}",
    ),
    "settings.unknown_format": (
        "--format: 알 수 없는 형식 {value!r}; 가능한 값: {valid}",
        "--format: unknown format {value!r}; valid: {valid}",
    ),
    "settings.unknown_mode": (
        "{setting}: 알 수 없는 모드 {value!r}; 가능한 값: {valid}",
        "{setting}: unknown mode {value!r}; valid: {valid}",
    ),
    "settings.unknown_area_codes": (
        "--regions: 알 수 없는 지역 코드 {values}; 가능한 값: {valid}",
        "--regions: unknown area code {values}; valid: {valid}",
    ),
    "settings.unknown_province_codes": (
        "--ldong: 알 수 없는 시도 코드 {values}; 가능한 값: {valid}",
        "--ldong: unknown province code {values}; valid: {valid}",
    ),
    "settings.reserve_above_key_limit": (
        "KTO_RESERVE={value}: 키 #{index}의 하루 한도 limit={limit} 중 쓸 수 있는 호출이 남지 않습니다",
        "KTO_RESERVE={value} leaves no calls of key #{index}'s own limit={limit}",
    ),
    "settings.reserve_too_large": (
        "KTO_RESERVE={value}: KTO_API_DAILY_LIMIT={limit} 중 쓸 수 있는 호출이 남지 않습니다",
        "KTO_RESERVE={value} leaves no calls of KTO_API_DAILY_LIMIT={limit}",
    ),
    "settings.no_such_key": (
        "키 #{value} 없음: 키는 #0부터 #{last}까지 있습니다",
        "no key #{value}: the pool has #0 to #{last}",
    ),
    "settings.state_url_needed": (
        "`kto-keys {command}`에는 공유 키 풀 서버가 필요합니다: KTO_STATE_URL 또는 --state-url (redis://, rediss://, unix://, valkey://)을 지정하세요",
        "`kto-keys {command}` needs the shared key pool: set KTO_STATE_URL or --state-url (redis://, rediss://, unix://, valkey://)",
    ),
    "settings.no_database": (
        "{path}에 데이터베이스가 없습니다: 먼저 `kto-keys collect` (또는 `kto-keys demo`)를 실행하세요",
        "no database at {path}: run `kto-keys collect` (or `kto-keys demo`) first",
    ),
    "settings.empty_codes": (
        "{setting}이(가) 비어 있습니다: 코드를 쉼표로 구분해 주세요 (예: 1,6,31)",
        "{setting} is empty: give codes separated by commas, e.g. 1,6,31",
    ),
    "settings.not_a_number": (
        "{setting}: 숫자가 아닌 코드: {values}",
        "{setting}: not a number: {values}",
    ),
    "settings.ldong_alone": (
        "--ldong은 시도 코드만 받습니다: --mode와 --regions를 빼세요",
        "--ldong takes province codes on its own: drop --mode and --regions",
    ),
    "settings.regions_needed": (
        '--mode regions에는 --regions "1,6,31"이 필요합니다; 가능한 값: {valid}',
        '--mode regions needs --regions "1,6,31"; valid: {valid}',
    ),
    "settings.regions_without_mode": (
        "--regions는 --mode regions와 함께 씁니다 (--mode {value}가 아님)",
        "--regions goes with --mode regions, not --mode {value}",
    ),
    "settings.no_longer_listed": (
        "서비스 목록에 더 이상 없는 시도: {values}. 서비스 목록: {listed}",
        "the service no longer lists province {values}. The service lists: {listed}",
    ),
    "settings.bad_gateway_config": (
        "--config {path}: 게이트웨이 설정으로 읽을 수 없습니다",
        "--config {path}: {reason}",
    ),
    "settings.port_unavailable": (
        "{value}에서 기다릴 수 없습니다: 다른 --port를 고르세요",
        "cannot listen on {value} ({reason}): choose another --port",
    ),
    "settings.odd_key": (
        "KTO_API_KEY {position}번째 항목({length}자)은 키가 아닙니다: 키는 64자리 16진수나 88자 base64입니다 (그래도 쓰려면 --allow-odd-keys)",
        "KTO_API_KEY entry {position} ({length} characters) cannot be a key: keys are 64 hex or 88 base64 characters (--allow-odd-keys uses it anyway)",
    ),
    "settings.not_a_command": (
        "{setting}={value!r}: 명령으로 읽을 수 없습니다",
        "{setting}={value!r} cannot be read as a command ({reason})",
    ),
    "settings.not_a_date": (
        "{setting} {value!r}: 날짜가 아닙니다 (예: 2026-11-24 또는 2026-11-24T09:00, KST)",
        "{setting} {value!r} is not a date (e.g. 2026-11-24 or 2026-11-24T09:00, KST)",
    ),
    "settings.area_code": (" (지역 코드 {area})", " (area code {area})"),
    "regions.followed": (
        "🧭 서비스 목록에 {old}이(가) 없어 통합된 {new}(을)를 수집합니다",
        "🧭 the service no longer lists {old}: collecting {new}, which it merged into",
    ),
    # --- key warnings -------------------------------------------------------------------------
    "warning.duplicate_key": (
        "KTO_API_KEY {position}번째 항목은 키 #{index}와 같습니다: 한 번만 사용합니다",
        "KTO_API_KEY entry {position} duplicates key #{index}: used once",
    ),
    "warning.odd_key": (
        "키 #{index} {preview}은(는) 64자리 16진수도 88자 base64도 아닙니다 (길이 {length}): 그대로 사용합니다",
        "key #{index} {preview} is neither 64 hex nor 88 base64 characters (length {length}): used anyway",
    ),
    # --- log lines, one per pool event -----------------------------------------------------------
    "event.success": (
        "✅ KTO API 키 {name} 호출 성공: {preview} ({op} 사용량: {used})",
        "✅ KTO API key {name} call ok: {preview} ({op} usage: {used})",
    ),
    "event.quota_spent": (
        "🚫 KTO API 키 {name} {op} 한도 소진: {preview} ({used}, 초기화: {until})",
        "🚫 KTO API key {name} {op} quota spent: {preview} ({used}, resets {until})",
    ),
    "event.failure": (
        "❌ KTO API 키 {name} 호출 실패: {preview} - 오류: {what} (연속 오류: {consecutive}회)",
        "❌ KTO API key {name} call failed: {preview} - error: {what} (consecutive errors: {consecutive})",
    ),
    "event.daily_limit": (
        "🚫 KTO API 키 {name} 한도 초과: {preview} ({op}, 재시도 가능: {until})",
        "🚫 KTO API key {name} limit reached: {preview} ({op}, retry at {until})",
    ),
    "event.rate_limited": (
        "🐢 KTO API 키 {name} 초당 한도: {preview} (잠시 대기, {until}까지)",
        "🐢 KTO API key {name} per-second limit: {preview} (backing off until {until})",
    ),
    "event.deactivated": (
        "🚨 KTO API 키 {name} 자동 비활성화: {preview} ({detail}; 누적 오류: {total}회; 복구 시도: {until})",
        "🚨 KTO API key {name} deactivated: {preview} ({detail}; total errors: {total}; recovery probe after {until})",
    ),
    "event.recovered": (
        "♻️ KTO API 키 {name} 복구됨: {preview}",
        "♻️ KTO API key {name} recovered: {preview}",
    ),
    "event.probe_failed": (
        "⛔ KTO API 키 {name} 복구 실패: {preview} - {what} (다음 시도: {until})",
        "⛔ KTO API key {name} recovery failed: {preview} - {what} (next probe after {until})",
    ),
    "event.outage": (
        "🌩️ 모든 키가 연달아 실패: 게이트웨이 장애로 보고 키를 탓하지 않고 잠시 기다립니다",
        "🌩️ every key just failed: treating it as a gateway fault, backing off without blaming keys",
    ),
    "event.outage_over": (
        "🌤️ KTO API 키 {name} 호출 성공: 게이트웨이 장애가 끝났습니다",
        "🌤️ KTO API key {name} call ok: the gateway outage is over",
    ),
    "event.cause.too_many_errors": ("연속 오류 {count}회", "{count} consecutive errors"),
    "event.cause.not_activated_yet": (" (아직 활성화 전일 수 있음)", " (may not be activated yet)"),
    "event.request_error": (
        "⚠️ 요청 오류 (키 {name} 책임 아님): {what}",
        "⚠️ request error (not key {name}'s fault): {what}",
    ),
    "event.skipped": (
        "⏭️ KTO 키 #{index} 건너뜀: {preview} - 비활성화됨 ({reason})",
        "⏭️ KTO key #{index} skipped: {preview} - deactivated ({reason})",
    ),
    # --- commands ------------------------------------------------------------------------------
    "recover.none": (
        "복구할 때가 된 비활성 키가 없습니다 (--force로 모두 시도)",
        "no deactivated key is due for recovery (--force probes them all)",
    ),
    "recover.recovered": ("♻️ 복구됨", "♻️ recovered"),
    "recover.still_unusable": ("⛔ 여전히 사용 불가", "⛔ still unusable"),
    "test_keys.written": ("기록: {path}", "written: {path}"),
    "enable.still_out": (
        "키 #{index}는 게이트웨이가 거절해 확인 호출에서도 실패했습니다: 그대로 둡니다 (확인 없이 넣으려면 `kto-keys enable {index} --force`)",
        "key #{index} was refused by the gateway and failed its probe again: left out (`kto-keys enable {index} --force` puts it back without a probe)",
    ),
    "export.written": ("{count}건 기록: {path}", "{count} records written to {path}"),
    "health.no_keys": (
        "KTO_API_KEY가 비어 있습니다: 건강 상태를 알 수 없습니다",
        "KTO_API_KEY is empty: health is unknown",
    ),
    "gateway.demo_keys": (
        "데모 키: {program} --env-file {path} status",
        "demo keys: {program} --env-file {path} status",
    ),
    "demo.start": (
        "🧪 데모: 로컬 게이트웨이 {url}, 데모 키 {count}개 (정상 3, 미등록 1, 한도 작음 1, 불안정 1)",
        "🧪 demo: local gateway at {url}, {count} demo keys (3 good, 1 unregistered, 1 small quota, 1 flaky)",
    ),
    "demo.end": (
        "📦 데모 기록: {db}\n   내보내기: KTO_DB_PATH={db} {program} export --format csv --output restaurants.csv\n   키 상태: 위 요약의 #0(미등록)은 한 번만 호출된 뒤 제외되었습니다\n   키 기록과 이력: KTO_DB_PATH={db} {program} log (또는 history)",
        "📦 demo records: {db}\n   export: KTO_DB_PATH={db} {program} export --format csv --output restaurants.csv\n   keys: #0 (unregistered) was called once, then left out\n   rotation log and usage: KTO_DB_PATH={db} {program} log (or history)",
    ),
    "cache.moved": (
        "⚠️  키 캐시 {path}: {why}; {moved}(으)로 옮기고 새 키 상태로 시작합니다",
        "⚠️  key cache {path} was {why}; moved to {moved}, starting with fresh key state",
    ),
    "cache.lost": (
        "⚠️  키 캐시 {path}: {why}; 새 키 상태로 시작합니다",
        "⚠️  key cache {path} is {why}; starting with fresh key state",
    ),
    "journal.moved": (
        "⚠️  공유 풀 저널 {path}: {why}; {moved}(으)로 옮겼고, 그 안의 호출 결과는 공유 키 풀에 반영하지 않았습니다 (내용을 확인한 뒤 지워도 됩니다)",
        "⚠️  shared journal {path} was {why}; moved to {moved}, its outcomes not replayed onto the shared key pool (look into it, then delete it)",
    ),
    "journal.left": (
        "⚠️  공유 풀 저널 {path}: {why}; 옮길 수도 없어 반영하지 않았습니다. 이 파일을 다른 곳으로 옮기거나 지우세요",
        "⚠️  shared journal {path} is {why} and could not be moved aside: nothing was replayed. Move it away or delete it",
    ),
    "journal.replayed": (
        "🔁 공유 풀 저널 {path}에 남아 있던 호출 결과 {count}건을 공유 키 풀 {url}에 반영했습니다",
        "🔁 replayed {count} call outcome(s) from the shared journal {path} onto the shared key pool at {url}",
    ),
    # --- help texts ----------------------------------------------------------------------------
    "help.app": (
        "서비스 키 풀로 TourAPI 음식점 데이터를 수집합니다.",
        "Collect TourAPI restaurant data across a pool of service keys.",
    ),
    "help.json": ("스크립트용 JSON을 stdout에 출력합니다.", "Print JSON for scripts (on stdout)."),
    "help.env_file": (
        "./.env 대신 이 파일에서 설정을 읽습니다.",
        "Read settings from this file instead of ./.env.",
    ),
    "help.state_url": (
        "공유 키 풀 서버 (redis://, rediss://, unix://, valkey://; KTO_STATE_URL). 없으면 로컬 JSON 캐시.",
        "The shared key pool's server (redis://, rediss://, unix://, valkey://; KTO_STATE_URL). Unset: the local JSON cache.",
    ),
    "help.lang": ("메시지 언어: ko 또는 en.", "Message language: ko or en."),
    "help.debug": (
        "예기치 않은 오류의 트레이스백을 보여 줍니다.",
        "Show tracebacks of unexpected errors.",
    ),
    "help.allow_odd": (
        "64자리 16진수도 88자 base64도 아닌 KTO_API_KEY 항목도 씁니다.",
        "Use KTO_API_KEY entries that are neither 64 hex nor 88 base64.",
    ),
    "help.version": ("버전을 출력합니다.", "Print the version."),
    "help.wide": (
        "모든 열을 보여 줍니다 (기본 보기는 80열에 맞춤).",
        "Every column (the compact view fits 80 columns).",
    ),
    "help.force_recover": ("비활성 키를 모두 지금 확인합니다.", "Probe every deactivated key now."),
    "help.test_mode": (
        "basic: 키마다 한 번 호출, monitor: 건강 보고, all: 둘 다.",
        "basic: one call per key; monitor: health report; all: both.",
    ),
    "help.index": ("키의 #번호.", "The key's #index."),
    "help.reason": ("이유 (status에 표시).", "Why, shown in status."),
    "help.force_enable": (
        "게이트웨이가 거절한 키를 확인 호출 없이 되돌립니다.",
        "Put a key the gateway refused back without a probe.",
    ),
    "help.mode": ("major (기본), all 또는 regions.", "major (default), all, or regions."),
    "help.regions": ('구 지역 코드, 예: "1,6,31".', 'Legacy area codes, e.g. "1,6,31".'),
    "help.ldong": (
        "법정동 시도 코드 (lDongRegnCd), 예: 11,26,41.",
        "Province codes (lDongRegnCd), e.g. 11,26,41.",
    ),
    "help.details": (
        "intro,common,images 중에서, 또는 none, all.",
        "intro,common,images, or none, or all.",
    ),
    "help.page_size": ("목록 한 쪽의 행 수.", "Rows per list page."),
    "help.concurrency": ("동시에 보내는 호출 수.", "Calls at once."),
    "help.budget": ("이번 실행이 쓸 수 있는 최대 호출 수.", "Most calls this run may make."),
    "help.reserve": (
        "키·오퍼레이션마다 쓰지 않고 남겨 둘 호출 수.",
        "Calls per key and operation left unused.",
    ),
    "help.plan": (
        "상세 계획만 출력하고 상세 호출은 하지 않습니다.",
        "Print the detail plan; make no detail call.",
    ),
    "help.fresh": ("오늘 목록 수집을 처음부터 다시 합니다.", "Start today's listing over."),
    "help.quiet": ("조치가 필요한 줄과 요약만 출력합니다.", "Only warnings and the summary."),
    "help.format": ("jsonl 또는 csv.", "jsonl or csv."),
    "help.output": ("쓸 파일 (기본: stdout).", "File to write (default: stdout)."),
    "help.include_removed": (
        "더 이상 목록에 없는 기록도 포함합니다.",
        "Also records no longer listed.",
    ),
    "help.port": ("127.0.0.1의 포트.", "Port on 127.0.0.1."),
    "help.config": (
        "게이트웨이 설정 JSON (키, 동작, 데이터).",
        "Gateway config JSON (keys, behaviours, data).",
    ),
    "help.host": ("기다릴 주소.", "Address to listen on."),
    "help.reset": ("데모의 이전 데이터를 먼저 지웁니다.", "Delete the demo's earlier data first."),
    "help.cmd.status": (
        "모든 키: 상태, 오늘 오퍼레이션별 사용량, 오류, 다음 사용 가능 시각.",
        "Show every key: state, usage today per operation, errors, and when it is next usable.",
    ),
    "help.cmd.health": (
        "키 풀 점수: 종료 코드 0 정상, 1 주의, 2 위험·치명적, 3 알 수 없음.",
        "Score the pool: exit 0 healthy, 1 warning, 2 danger or critical, 3 unknown.",
    ),
    "help.cmd.recover": (
        "복구할 때가 된 비활성 키를 각자 한 번의 호출로 확인합니다.",
        "Probe deactivated keys whose recovery time has come, each with one call of its own.",
    ),
    "help.cmd.test_keys": (
        "키를 시험하고 KTO_LOG_DIR에 api_key_test_YYYYMMDD_HHMMSS.log를 씁니다.",
        "Test the keys and write api_key_test_YYYYMMDD_HHMMSS.log under KTO_LOG_DIR.",
    ),
    "help.cmd.disable": (
        "`enable N` 할 때까지 키 #N을 풀에서 뺍니다.",
        "Take key #N out of the pool until `enable N`.",
    ),
    "help.cmd.enable": (
        "키 #N을 풀에 되돌립니다 (게이트웨이가 거절한 키는 먼저 확인 호출을 통과해야 합니다).",
        "Put key #N back into the pool (a key the gateway refused must pass a probe first).",
    ),
    "help.cmd.collect": (
        "고른 시도의 음식점을 모두 나열하고 상세 정보를 가져옵니다.",
        "List every restaurant of the chosen provinces, then fetch their details.",
    ),
    "help.cmd.export": (
        "저장된 기록을 JSONL 또는 CSV(UTF-8 BOM)로 흘려 씁니다.",
        "Write the stored records as JSONL or CSV (UTF-8 with BOM), streamed.",
    ),
    "help.cmd.regions": (
        "구 지역 코드, 시도 코드와 이름을 서비스 목록과 함께 보여 줍니다.",
        "Show the legacy area codes, province codes and names, with the service's own list.",
    ),
    "help.cmd.gateway": (
        "실제와 똑같이(장애 포함) 동작하는 로컬 게이트웨이를 실행합니다.",
        "Run the local gateway, which behaves like the real one, faults included.",
    ),
    "help.cmd.demo": (
        "키 없이 전체를 시험합니다: 로컬 게이트웨이, 여러 종류의 데모 키, 수집.",
        "Try the whole tool without a key: a local gateway, demo keys of every kind, a collection.",
    ),
    "help.cmd.log": (
        "키 교체 기록: 키가 빠지고 돌아온 때와 이유 (오래된 것부터).",
        "The rotation log: when and why each key was taken out or came back (oldest first).",
    ),
    "help.cmd.history": (
        "키별 사용 이력: 일별 호출, 성공률, p50/p95, 한도가 바닥난 날.",
        "Usage per key over days: calls per day, success rate, p50/p95, days a quota ran out.",
    ),
    "help.key": ("키 #N만 봅니다.", "Only key #N."),
    "help.since": (
        "이 날짜(KST)부터: 2026-11-24 또는 2026-11-24T09:00.",
        "From this day or time on (KST): 2026-11-24 or 2026-11-24T09:00.",
    ),
    "help.kind": (
        "이 종류만: deactivated, recovered, probe_failed, cooling, quota_spent, rate_limited, outage, outage_over, disabled, enabled, standby_in, standby_back.",
        "Only this kind: deactivated, recovered, probe_failed, cooling, quota_spent, rate_limited, outage, outage_over, disabled, enabled, standby_in, standby_back.",
    ),
    "help.days": ("오늘까지 며칠을 볼지.", "Days to show, ending today."),
    "help.cmd.state": (
        "키 풀의 상태를 JSON 캐시와 공유 서버(Redis/Valkey) 사이에서 옮깁니다.",
        "Move the pool's state between the JSON cache and the shared server (Redis or Valkey).",
    ),
    "help.cmd.state_export": (
        "공유 서버의 키 상태를 JSON 캐시(KTO_CACHE_PATH)에 씁니다.",
        "Write the keys' state from the shared server to the JSON cache (KTO_CACHE_PATH).",
    ),
    "help.cmd.state_import": (
        "JSON 캐시(KTO_CACHE_PATH)의 키 상태를 공유 서버에 씁니다 (오늘 사용량은 더 큰 쪽을 유지).",
        "Write the keys' state from the JSON cache (KTO_CACHE_PATH) to the shared server (today's usage keeps the larger count).",
    ),
    "state.exported": (
        "키 {count}개의 상태를 {source}에서 {target}(으)로 옮겼습니다",
        "moved the state of {count} keys from {source} to {target}",
    ),
    "help.cmd.menu": (
        "대화형 메뉴를 엽니다: 같은 명령을 번호로 고릅니다.",
        "Open the interactive menu: the same commands, chosen by number.",
    ),
    "cache.why.corrupt": ("손상됨", "corrupt"),
    "cache.why.unreadable": ("읽을 수 없음 ({detail})", "unreadable ({detail})"),
    "cache.why.unreadable_raw": ("읽을 수 없음", "unreadable"),
    "cache.why.invalid": ("값이 올바르지 않음 ({detail})", "invalid ({detail})"),
    # --- status ---------------------------------------------------------------------------------
    "status.title": ("KTO API 키 상태", "KTO API key status"),
    "status.key": ("키", "key"),
    "status.source": ("출처", "source"),
    "status.state": ("상태", "state"),
    "status.usage": ("오늘 사용량", "usage today"),
    "status.errors": ("오류 연속/누적", "errors consec/total"),
    "status.last_error": ("마지막 오류", "last error"),
    "status.stats": ("오늘 성공률 · p50/p95", "success today · p50/p95"),
    "status.next_usable": ("다음 사용 가능", "next usable"),
    "status.today": ("오늘 사용", "used today"),
    "status.next_short": ("다음 가능", "next usable"),
    "status.legend": (
        "오늘 사용: 목록/소개/공통 호출 수, 키·오퍼레이션마다 하루 {limit}회까지. 시각은 KST. 모든 열: --wide",
        "used today: list/intro/common calls, {limit} a day per key and operation. Times in KST. Every column: --wide",
    ),
    "status.errors_short": ("오류", "errors"),
    "attention.short.expired": ("기간 만료", "expired"),
    "attention.short.not_approved": ("미승인", "not approved"),
    "attention.short.not_activated_yet": ("활성화 대기", "not active yet"),
    "attention.short.not_registered": ("미등록", "not registered"),
    "attention.short.temporarily_disabled": ("일시 중지", "suspended"),
    "attention.short.ip_restricted": ("다른 IP 전용", "other IPs only"),
    "attention.short.too_many_errors": ("연속 오류", "too many errors"),
    "condition.active": ("사용 가능", "active"),
    "condition.active_with_limits": ("일부 제한", "limited"),
    "condition.error_wait": ("오류 후 대기", "error wait"),
    "condition.paused": ("초당 한도로 잠시 멈춤", "paused (per-second limit)"),
    "condition.cooling": ("한도 초과로 대기", "cooling"),
    "condition.quota_spent": ("오늘 한도 소진", "quota spent"),
    "condition.deactivated": ("비활성화", "deactivated"),
    "condition.disabled": ("수동 비활성화", "disabled"),
    "condition.unknown": ("알 수 없음", "unknown"),
    "outcome.success": ("성공", "ok"),
    "outcome.request_error": ("요청 오류", "request error"),
    "outcome.config_error": ("설정 오류", "configuration error"),
    "outcome.host_blocked": ("이 컴퓨터 차단", "host blocked"),
    "outcome.daily_limit": ("일일 한도", "daily limit"),
    "outcome.rate_limit": ("초당 한도", "per-second limit"),
    "outcome.key_unusable": ("키 사용 불가", "key refused"),
    "outcome.transient": ("일시 오류", "passing fault"),
    "outcome.wrong_url": ("잘못된 URL", "wrong URL"),
    "outcome.unsent": ("보내지 못함", "not sent"),
    "reason.ok": ("사용 가능", "ok"),
    "reason.disabled": ("수동 비활성화", "disabled"),
    "reason.deactivated": ("비활성화", "deactivated"),
    "reason.cooling": ("한도 초과로 대기", "cooling"),
    "reason.quota_spent": ("오늘 한도 소진", "quota spent"),
    "reason.error_wait": ("오류 후 대기", "error wait"),
    "reason.paused": ("초당 한도로 잠시 멈춤", "paused"),
    "reason.busy": ("호출 중", "busy"),
    "reason.wrong_url": ("잘못된 URL 응답 후 대기", "wrong URL answered"),
    # --- health ---------------------------------------------------------------------------------
    "health.level.healthy": ("정상", "healthy"),
    "health.level.warning": ("주의", "warning"),
    "health.level.danger": ("위험", "danger"),
    "health.level.critical": ("치명적", "critical"),
    "health.level.unknown": ("알 수 없음", "unknown"),
    "health.headline": (
        "{icon} 키 건강 상태: {level} ({score:.0f}%, 작동 {working}/{total})",
        "{icon} key health: {level} ({score:.0f}%, {working}/{total} working)",
    ),
    "health.recovery_probe": (" — 복구 시도 {when}", " — recovery probe {when}"),
    "health.spent": (
        "{operation} 오늘 한도 소진: {when}에 초기화",
        "quota for {operation} spent until {when}",
    ),
    "health.cooling": (
        "{operation} 일일 한도 도달 (코드 22): {when}에 다시 시도, 한도는 자정(KST)에 초기화",
        "{operation} daily limit reached (code 22): tried again at {when}, quotas reset at midnight KST",
    ),
    "attention.expired": (
        "사용 기간 만료: data.go.kr 마이페이지 → 데이터활용 → Open API → 활용신청 현황 → 활용기간 연장신청 후 새 만료일을 적으세요 (keys set N --expires 날짜)",
        "expired: on data.go.kr, My Page → Data Use → Open API → Application Status → Request an extension, then give the new date (keys set N --expires DATE)",
    ),
    "attention.not_approved": (
        "이 서비스에 승인되지 않음: 포털에서 활용 신청을 확인하세요",
        "not approved for this service: check the application on the portal",
    ),
    "attention.not_activated_yet": (
        "아직 활성화 전일 수 있음 (발급 후 최대 2시간)",
        "may not be activated yet (up to 2 hours after issue)",
    ),
    "attention.not_registered": (
        "등록되지 않은 키: 키 값(인코딩/디코딩)을 확인하세요",
        "not registered: check the key (Encoding vs Decoding form)",
    ),
    "attention.temporarily_disabled": ("일시 중지된 키", "temporarily disabled"),
    "attention.ip_restricted": ("다른 IP로 제한된 키", "limited to other IPs"),
    "attention.too_many_errors": ("연속 오류로 비활성화", "deactivated after consecutive errors"),
    "attention.disabled_by_hand": (
        "수동으로 비활성화됨 (`kto-keys enable {index}`)",
        "disabled by hand (`kto-keys enable {index}`)",
    ),
    "attention.error_wait": ("최근 오류로 잠시 대기", "waiting after a recent error"),
    "advice.set_keys": ("💡 KTO_API_KEY에 키를 설정하세요", "💡 set keys in KTO_API_KEY"),
    "advice.nothing": ("💡 조치 필요 없음", "💡 nothing to do"),
    "advice.extend": (
        "💡 만료된 키 {indexes}: 포털에서 활용기간을 연장한 뒤 keys set N --expires 날짜 (recover는 만료일이 바뀔 때까지 시도하지 않음)",
        "💡 expired keys {indexes}: extend them on the portal, then keys set N --expires DATE (recover leaves them alone until their date changes)",
    ),
    "advice.renew": (
        "💡 곧 만료되는 키 {indexes}: data.go.kr 마이페이지 → 데이터활용 → Open API → 활용신청 현황 → 활용기간 연장신청 후 keys set N --expires 날짜",
        "💡 keys {indexes} expire soon: on data.go.kr, My Page → Data Use → Open API → Application Status → Request an extension, then keys set N --expires DATE",
    ),
    "advice.wait_for_activation": (
        "💡 새 키는 발급 후 최대 2시간 거절될 수 있습니다: 복구 시도가 때가 되면 스스로 확인합니다",
        "💡 a new key may be refused for up to 2 hours after issue: the recovery probe checks it again when due",
    ),
    "advice.enable": (
        "💡 손으로 뺀 키는 `kto-keys enable {indexes}`로 되돌립니다",
        "💡 keys taken out by hand come back with `kto-keys enable {indexes}`",
    ),
    "advice.recover": (
        "💡 `kto-keys recover`로 복구를 시도하고, 만료/미승인 키는 공공데이터포털에서 확인하세요",
        "💡 try `kto-keys recover`; check expired or unapproved keys on the data.go.kr portal",
    ),
    # --- the end of a run -----------------------------------------------------------------------
    "summary.complete": ("✅ 수집 완료", "✅ collection complete"),
    "summary.stopped": ("⏸️ 수집 중단 (작업은 저장됨)", "⏸️ collection stopped (the work is kept)"),
    "summary.interrupted": (
        "⏹️ 수집 중단됨 (작업은 저장됨)",
        "⏹️ collection interrupted (the work is kept)",
    ),
    "summary.failed": ("❌ 수집 실패", "❌ collection failed"),
    "summary.planned": (
        "📋 계획만 세웠습니다 (상세 호출 없음)",
        "📋 plan only (no detail call made)",
    ),
    "summary.headline": (
        "{outcome} — 실행 #{run_id}, {elapsed:.1f}초",
        "{outcome} — run #{run_id}, {elapsed:.1f}s",
    ),
    "summary.records": (
        "  기록: {records}건 (신규 {new}, 변경 {updated}, 삭제 표시 {removed})",
        "  records: {records} (new {new}, updated {updated}, removed {removed})",
    ),
    "summary.list_calls": (
        "  목록 호출: {calls}회 (최소 {minimum}), 페이지 {pages}",
        "  list calls: {calls} (minimum {minimum}), pages {pages}",
    ),
    "summary.operation": (
        "  {operation}: 이번 {fetched}회 / 필요 {needed}회, 남은 {left}회 (약 {days}일)",
        "  {operation}: {fetched} fetched / {needed} needed, {left} left (~{days} more day(s))",
    ),
    "summary.calls": (
        "  전체 호출: {calls}회 (최소 {minimum}), 키 전환 {failovers}회",
        "  calls: {calls} (minimum {minimum}), failovers {failovers}",
    ),
    "summary.more_keys": (
        "    … 그 밖의 키 {count}개 (키마다 보려면 --json 또는 kto-keys history)",
        "    … and {count} more keys (each of them: --json or kto-keys history)",
    ),
    # --- the rotation log and the usage history ------------------------------------------------
    "log.kind.deactivated": ("자동 비활성화", "deactivated"),
    "log.kind.recovered": ("복구됨", "recovered"),
    "log.kind.probe_failed": ("복구 실패", "probe failed"),
    "log.kind.cooling": ("한도 초과로 대기", "cooling"),
    "log.kind.quota_spent": ("오늘 한도 소진", "quota spent"),
    "log.kind.rate_limited": ("초당 한도 (이번 실행 처음)", "per-second limit (first of the run)"),
    "log.kind.outage": ("게이트웨이 장애 시작", "gateway outage began"),
    "log.kind.outage_over": ("게이트웨이 장애 끝", "gateway outage over"),
    "log.kind.disabled": ("수동 비활성화", "disabled by hand"),
    "log.kind.enabled": ("수동으로 되돌림", "enabled by hand"),
    "log.until": ("{until}까지", "until {until}"),
    "log.run": ("실행 #{run_id}", "run #{run_id}"),
    "log.empty": ("조건에 맞는 키 이벤트가 없습니다", "no key event matches"),
    "history.title": (
        "키 사용 이력: {first} ~ {last} ({days}일, KST)",
        "key usage: {first} to {last} ({days} days, KST)",
    ),
    "history.key": ("키", "key"),
    "history.per_day": ("일별 호출", "calls/day"),
    "history.calls": ("호출", "calls"),
    "history.success": ("성공률", "success"),
    "history.spent": ("소진일", "spent"),
    "history.legend": (
        "일별 호출: 하루 한 칸, 키마다 가장 많은 날이 █, 호출 없는 날은 ·. 소진일: 한도가 바닥난 날 수 (한도 소진 또는 코드 22). p50/p95는 보관된 호출 ({raw_days}일)에서",
        "calls/day: a cell a day, █ is the key's busiest, · no call. spent: days a quota ran out (spent, or code 22). p50/p95 from the calls kept ({raw_days} days)",
    ),
    "history.per_cell": (" · 한 칸은 {days}일", " · a cell is {days} days"),
    # --- regions --------------------------------------------------------------------------------
    "regions.title": ("지역 코드", "region codes"),
    "regions.area": ("지역코드 (구)", "area code (legacy)"),
    "regions.ldong": ("법정동 시도코드", "lDongRegnCd"),
    "regions.name": ("이름", "name"),
    "regions.listed": ("서비스 목록", "listed by service"),
    "regions.missing": ("✗ 없음", "✗ missing"),
    # --- progress -------------------------------------------------------------------------------
    "progress.province": (
        "{province} {name}: {total}건, {pages}쪽",
        "{province} {name}: {total} records, {pages} pages",
    ),
    "progress.province_resumed": (
        "{province} {name}: {total}건, {pages}쪽 (이미 {done}쪽 완료)",
        "{province} {name}: {total} records, {pages} pages ({done} already done)",
    ),
    "progress.province_done": (
        "{province} 완료: {records}건 보유, {removed}건 삭제 표시",
        "{province} done: {records} records held, {removed} marked removed",
    ),
    "progress.plan": (
        "📋 {operation}: 필요 {needed}회, 오늘 남은 한도 {left}회, 이번 실행 {this_run}회, 남은 일수 {days}일",
        "📋 {operation}: {needed} calls needed, {left} left today, {this_run} this run, {days} more day(s)",
    ),
    "progress.pool": (
        "· 오늘 호출 {calls} · 키 {working}/{total}",
        "· {calls} calls today · keys {working}/{total} working",
    ),
    # --- the menu -------------------------------------------------------------------------------
    "menu.item.1": ("전체 지역 수집", "collect every province"),
    "menu.item.2": ("특정 지역 수집", "collect chosen regions"),
    "menu.item.3": (
        "주요 지역 수집 (서울, 부산, 경기, 제주)",
        "collect the major regions (Seoul, Busan, Gyeonggi, Jeju)",
    ),
    "menu.item.4": ("지역 코드 보기", "show region codes"),
    "menu.item.5": ("API 키 상태", "key status"),
    "menu.item.6": ("API 키 건강 검사", "key health check"),
    "menu.item.7": ("키 복구 시도", "try to recover keys"),
    "menu.item.8": ("키 교체 기록", "key rotation log"),
    "menu.item.9": ("키 사용 이력", "key usage history"),
    "menu.item.0": ("종료", "exit"),
    "menu.bye": ("종료합니다", "bye"),
    "menu.cancelled": ("취소: 메뉴로 돌아갑니다", "cancelled: back to the menu"),
    "menu.choose": ("번호를 선택하세요 (0-9): ", "choose a number (0-9): "),
    "menu.choose_hint": ("0부터 9까지의 번호를 입력하세요", "enter a number from 0 to 9"),
    "menu.exit_code": ("(종료 코드 {code})", "(exit code {code})"),
    "menu.area_codes": (
        "지역 코드를 쉼표로 입력하세요 (예: 1,6,31; 빈 줄은 메뉴로): ",
        "area codes separated by commas (e.g. 1,6,31; empty line: back to the menu): ",
    ),
    "menu.recover_first": (
        "사용 가능한 키가 없습니다. 먼저 키 복구를 시도할까요? [y/N]: ",
        "no key is usable. Try to recover keys first? [y/N]: ",
    ),
    "menu.nothing_collected": (
        "사용 가능한 키가 없어 수집하지 않습니다 (5번: 다음 사용 가능 시각)",
        "no usable key: nothing collected (item 5 shows when keys are next usable)",
    ),
    "menu.calls_left": ("오늘 남은 호출: {left}", "calls left today: {left}"),
    "menu.press_enter": ("Enter를 누르면 메뉴로 돌아갑니다", "press Enter for the menu"),
    "menu.confirm_all": (
        "전국 모든 시도를 수집하면 오늘 한도를 많이 씁니다. 계속할까요? [y/N]: ",
        "collecting every province spends much of today's quota. Go on? [y/N]: ",
    ),
    "menu.force_recovery": (
        "때가 되지 않은 키까지 모두 확인할까요? [y/N]: ",
        "probe every key that is out, also those not due yet? [y/N]: ",
    ),
    "menu.unknown_area_codes": (
        "알 수 없는 지역 코드 {values}; 가능한 값: {valid}",
        "unknown area code {values}; valid: {valid}",
    ),
    "menu.not_a_number": ("숫자가 아닌 코드: {values}", "not a number: {values}"),
    "menu.empty_codes": (
        "코드를 쉼표로 구분해 입력하세요 (예: 1,6,31)",
        "give codes separated by commas, e.g. 1,6,31",
    ),
    # --- keys from every source -----------------------------------------------------------------
    "settings.keys_file_line": (
        "키 파일 {path} {line}번째 줄: {what}",
        "keys file {path}, line {line}: {what}",
    ),
    "keyline.not_a_key": (
        "첫 단어가 키가 아닙니다 (64자리 16진수나 88자 base64)",
        "the first word is no key (64 hex or 88 base64 characters)",
    ),
    "keyline.bad_expires": (
        "expires= 는 YYYY-MM-DD 날짜여야 합니다",
        "expires= must be a YYYY-MM-DD date",
    ),
    "keyline.bad_limit": (
        "limit= 는 1 이상의 정수여야 합니다",
        "limit= must be a whole number from 1",
    ),
    "keyline.empty_label": ("label= 뒤가 비어 있습니다", "label= is empty"),
    "keyline.repeated": ("{word}이(가) 두 번 있습니다", "{word} is given twice"),
    "keyline.unknown_word": (
        "{place}번째 단어를 알 수 없습니다 (쓸 수 있는 것: label=, expires=, limit=, standby)",
        "word {place} is unknown (allowed: label=, expires=, limit=, standby)",
    ),
    "keyline.bad_quotes": ("따옴표가 닫히지 않았습니다", "a quote is left open"),
    "settings.keys_file_unreadable": (
        "키 파일 {path}을(를) 읽을 수 없습니다",
        "cannot read keys file {path}: {reason}",
    ),
    "settings.keystore_wrong_master": (
        "키 저장소 {path}을(를) 이 마스터 키로 열 수 없습니다: KTO_KEYSTORE_KEY 또는 KTO_KEYSTORE_KEY_FILE을 확인하세요 (아무것도 바꾸지 않았습니다)",
        "the key store {path} cannot be opened with this master key: check KTO_KEYSTORE_KEY or KTO_KEYSTORE_KEY_FILE (nothing was changed)",
    ),
    "settings.keystore_no_master": (
        "키 저장소 {path}의 마스터 키가 없습니다: KTO_KEYSTORE_KEY 또는 KTO_KEYSTORE_KEY_FILE을 설정하세요",
        "no master key for the key store {path}: set KTO_KEYSTORE_KEY or KTO_KEYSTORE_KEY_FILE",
    ),
    "settings.keystore_missing": (
        "키 저장소 {path}이(가) 아직 없습니다: keys add 또는 keys import --from-env로 만드세요",
        "there is no key store at {path} yet: keys add or keys import --from-env makes it",
    ),
    "settings.keystore_unreadable": (
        "키 저장소 {path}을(를) 읽을 수 없습니다",
        "cannot read the key store {path}: {reason}",
    ),
    "settings.master_key_invalid": (
        "{setting}의 마스터 키가 Fernet 키가 아닙니다 (base64 32바이트, 쉼표로 여러 개)",
        "the master key in {setting} is no Fernet key (32 bytes in url-safe base64; several separated by commas)",
    ),
    "settings.master_key_unreadable": (
        "마스터 키 파일 {path}을(를) 읽을 수 없습니다",
        "cannot read the master key file {path}: {reason}",
    ),
    "settings.key_not_given": (
        "키가 입력되지 않았습니다: 숨김 입력 창에 붙여 넣거나 표준 입력으로 넘기세요 (명령줄 인자로는 받지 않습니다)",
        "no key was given: paste it at the hidden prompt or pipe it on stdin (never as an argument)",
    ),
    "settings.not_a_key": (
        "입력된 값({length}자)은 키가 아닙니다: 키는 64자리 16진수나 88자 base64입니다 (그래도 쓰려면 --allow-odd-keys)",
        "what was given ({length} characters) is no key: keys are 64 hex or 88 base64 characters (--allow-odd-keys takes it anyway)",
    ),
    "settings.one_key_at_a_time": (
        "keys add는 키 하나만 받습니다 ({count}개가 들어왔습니다): 여러 개는 keys import - 로 넣으세요",
        "keys add takes one key ({count} were given): keys import - takes many",
    ),
    "settings.no_import_source": (
        "무엇을 가져올지 정하세요: --from-env, --from-file 경로, 또는 - (표준 입력)",
        "say what to import: --from-env, --from-file PATH, or - (stdin)",
    ),
    "condition.standby": ("대기 키", "standby"),
    "condition.stands_in": ("#{index} 대신 사용", "for #{index}"),
    "reason.standby": ("대기 키 (예비)", "standby (in reserve)"),
    "status.stands_in": (
        "대기 키: #{index} 대신 사용 중 ({cause})",
        "standby in use for #{index} ({cause})",
    ),
    "status.in_reserve": ("대기 키: 예비로 보관", "standby: kept in reserve"),
    "status.replaced_by": ("대기 키 #{index}이(가) 대신함", "replaced by standby #{index}"),
    "status.expires": ("만료 {date}", "expires {date}"),
    "status.expires_estimated": ("만료 약 {date} (추정)", "expires about {date} (estimate)"),
    "status.legend_mixed": (
        "오늘 사용: 목록/소개/공통 호출 수, 하루 한도는 키마다 다름 (--wide). 시각은 KST. 모든 열: --wide",
        "used today: list/intro/common calls; each key has its own daily limit (--wide). Times in KST. Every column: --wide",
    ),
    "health.expires": (
        "{date}에 만료 ({days}일 남음)",
        "expires on {date} ({days} days left)",
    ),
    "health.expires_estimated": (
        "{date}쯤 만료 추정 ({days}일 남음; 처음 본 날 + 24개월)",
        "expires about {date} by estimate ({days} days left; first seen + 24 months)",
    ),
    "event.standby_in": (
        "🔁 대기 키 {name} {preview}이(가) {replaced} 대신 투입됨 ({detail})",
        "🔁 standby key {name} {preview} took the place of {replaced} ({detail})",
    ),
    "event.standby_back": (
        "↩️ 대기 키 {name} {preview} 예비로 복귀: {replaced}이(가) 다시 동작",
        "↩️ standby key {name} {preview} back in reserve: {replaced} works again",
    ),
    "event.deactivated_for_good": (
        "🚨 KTO API 키 {name} 자동 비활성화: {preview} ({detail}; 만료일을 고치거나 recover --force 전에는 다시 시도하지 않음)",
        "🚨 KTO API key {name} deactivated: {preview} ({detail}; not probed again until its expiry date changes, or recover --force)",
    ),
    "log.kind.standby_in": ("대기 키 투입", "standby in"),
    "log.for_key": ("{key} 대신", "for {key}"),
    "log.kind.standby_back": ("대기 키 예비로 복귀", "standby back in reserve"),
    "keys.title": ("키 목록", "keys"),
    "keys.col.label": ("이름", "label"),
    "keys.col.limit": ("하루 한도", "daily limit"),
    "keys.col.expires": ("만료", "expires"),
    "keys.col.role": ("역할", "role"),
    "keys.role.active": ("사용", "active"),
    "keys.role.standby": ("대기", "standby"),
    "keys.estimate": ("~{date} (추정)", "~{date} (estimate)"),
    "keys.added": (
        "키 #{index} {preview}을(를) 키 저장소에 추가했습니다",
        "added key #{index} {preview} to the key store",
    ),
    "keys.present": (
        "키 {preview}은(는) 이미 키 저장소에 있습니다",
        "key {preview} is in the key store already",
    ),
    "keys.restored": (
        "제거했던 키 {preview}을(를) 키 저장소에 되돌렸습니다",
        "key {preview}, removed before, is back in the key store",
    ),
    "keys.imported": (
        "키 저장소로 가져옴: 새로 {imported}개, 이미 있음 {present}개 ({path})",
        "imported into the key store: {imported} new, {present} already there ({path})",
    ),
    "keys.auto_imported": (
        "KTO_KEYSTORE_AUTO_IMPORT: 키 {imported}개를 키 저장소({path})로 옮겼습니다. 이제 저장소가 기준입니다",
        "KTO_KEYSTORE_AUTO_IMPORT: moved {imported} key(s) into the key store ({path}); the store is authoritative now",
    ),
    "keys.nothing_to_import": (
        "가져올 키가 없습니다: KTO_API_KEY, 키 파일, 표준 입력 중 하나를 주세요",
        "no key to import: give KTO_API_KEY, a keys file or stdin",
    ),
    "keys.removed": (
        "키 #{index} {preview}을(를) 키 저장소에서 제거했습니다. KTO_API_KEY나 키 파일에 남아 있어도 쓰지 않습니다",
        "removed key #{index} {preview} in the key store; it stays out even while KTO_API_KEY or a keys file holds it",
    ),
    "keys.set": (
        "키 #{index} {preview}의 속성을 바꿨습니다",
        "changed the attributes of key #{index} {preview}",
    ),
    "keys.rekeyed": (
        "키 {count}개를 첫 번째 마스터 키로 다시 암호화했습니다 ({path})",
        "encrypted {count} keys again with the first master key ({path})",
    ),
    "keys.master_created": (
        "🔑 마스터 키를 새로 만들었습니다: {path} (권한 0600). 이 파일 없이는 키 저장소를 열 수 없으니 따로 백업하세요",
        "🔑 made a new master key: {path} (mode 0600). The key store cannot be opened without it: back it up separately",
    ),
    "keys.prompt": ("서비스 키 (화면에 보이지 않음)", "service key (not shown)"),
    "warning.removed_key": (
        "⚠️  {source}의 키 #{position} {preview}는 키 저장소에서 제거된 키라 쓰지 않습니다",
        "⚠️  key #{position} {preview} of {source} was removed in the key store: left out",
    ),
    "help.keys_file": (
        "키 파일: 한 줄에 키 하나, 뒤에 label= expires= limit= standby (KTO_API_KEY_FILE)",
        "keys file: one key a line, then label= expires= limit= standby (KTO_API_KEY_FILE)",
    ),
    "help.cmd.keys": (
        "키 목록, 암호화된 키 저장소, 가져오기",
        "the keys, the encrypted key store, imports",
    ),
    "help.cmd.keys_list": (
        "모든 출처의 키와 속성 보기",
        "show every key from every source, with its attributes",
    ),
    "help.cmd.keys_add": (
        "키 하나를 키 저장소에 추가 (숨김 입력 또는 표준 입력에서 읽음)",
        "add one key to the key store (read from a hidden prompt or stdin)",
    ),
    "help.cmd.keys_import": (
        "KTO_API_KEY, 키 파일 또는 표준 입력(-)의 키를 키 저장소로 옮기기",
        "move the keys of KTO_API_KEY, a keys file or stdin (-) into the key store",
    ),
    "help.cmd.keys_remove": ("키 #N을 키 저장소에서 제거", "remove key #N in the key store"),
    "help.cmd.keys_set": (
        "키 #N의 이름, 만료일, 한도, 대기 여부 바꾸기",
        "change key #N's label, expiry, limit or standby",
    ),
    "help.cmd.keys_rekey": (
        "모든 키를 첫 번째 마스터 키로 다시 암호화",
        "encrypt every key again with the first master key",
    ),
    "help.label": ("키 이름", "a name for the key"),
    "help.expires": ("만료일 YYYY-MM-DD", "expiry date, YYYY-MM-DD"),
    "help.limit": (
        "이 키의 하루 호출 한도 (오퍼레이션마다)",
        "this key's daily calls per operation",
    ),
    "help.standby": (
        "대기 키: 다른 키가 죽거나 만료되면 투입",
        "standby: used once an active key dies or expires",
    ),
    "help.from_env": ("KTO_API_KEY(.env 포함)의 키", "the keys of KTO_API_KEY (.env included)"),
    "help.from_file": (
        "이 키 파일의 키 (- 는 표준 입력)",
        "the keys of this keys file (- for stdin)",
    ),
    "help.source_arg": (
        "- 이면 표준 입력에서, 경로면 그 파일에서 키 파일 형식으로 읽음",
        "- reads a keys file from stdin; a path reads that keys file",
    ),
}

_EVENT_MESSAGES: dict[EventKind, tuple[int, str]] = {
    EventKind.SUCCESS: (logging.INFO, "event.success"),
    EventKind.QUOTA_SPENT: (logging.WARNING, "event.quota_spent"),
    EventKind.FAILURE: (logging.WARNING, "event.failure"),
    EventKind.DAILY_LIMIT: (logging.WARNING, "event.daily_limit"),
    EventKind.RATE_LIMITED: (logging.WARNING, "event.rate_limited"),
    EventKind.DEACTIVATED: (logging.ERROR, "event.deactivated"),
    EventKind.RECOVERED: (logging.WARNING, "event.recovered"),
    EventKind.PROBE_FAILED: (logging.WARNING, "event.probe_failed"),
    EventKind.OUTAGE: (logging.WARNING, "event.outage"),
    EventKind.OUTAGE_OVER: (logging.WARNING, "event.outage_over"),
    EventKind.STANDBY_IN: (logging.WARNING, "event.standby_in"),
    EventKind.STANDBY_BACK: (logging.INFO, "event.standby_back"),
    # The error that stops the run says it on stderr; the file keeps the line too.
    EventKind.REQUEST_ERROR: (logging.INFO, "event.request_error"),
}


class Messages:
    """The catalog in one language."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else "ko"
        self._column = 1 if self.lang == "en" else 0

    def __call__(self, message_id: str, **fields: Any) -> str:
        """The message `message_id` with its fields filled in; a `reason` its Korean template
        leaves out (a system's or a server's own words) follows on a detail line of its own."""
        korean = CATALOG[message_id][0]
        line = CATALOG[message_id][self._column].format(**fields)
        if "{reason" in korean:
            return line
        return line + self.detail_line(fields.get("reason"))

    def detail_line(self, text: object) -> str:
        """In Korean, `\n  상세: <text>`: the system's or a server's words, on a line of their
        own after a Korean sentence; in English nothing (its sentence holds them already)."""
        words = " ".join(str(text or "").split())
        if self.lang == "en" or words in ("", "-"):
            return ""
        return "\n" + CATALOG["detail.line"][0].format(detail=words)

    # --- gateway codes ----------------------------------------------------------------------
    def code(self, code: str | None, symbol: str = "") -> str:
        """`22 LIMITED_… (meaning)`, the way a code is named to people."""
        if code is None:
            return "-"
        row = lookup(code, symbol)
        if row is None:
            return f"{code} {symbol}".strip()
        meaning = row.meaning_en if self.lang == "en" else row.meaning_ko
        return f"{row.code} {row.symbol} ({meaning})"

    # --- errors ------------------------------------------------------------------------------
    def error(self, error: BaseException) -> str:
        """One line for an error that stopped a command."""
        if isinstance(error, KeyboardInterrupt):
            return self("error.interrupted")
        if isinstance(error, Terminated):
            return self("error.terminated")
        if isinstance(error, SettingsError):
            return self.settings_problem(error.problem, error.details)
        if isinstance(error, NoUsableKeyError):
            return self._no_usable_key(error)
        if isinstance(error, BudgetExhaustedError):
            left = self("error.budget_left", left=_counts(error.left)) if error.left else ""
            return self("error.budget", budget=error.budget) + left
        if isinstance(error, GatewayUnavailableError):
            return self("error.gateway_down", since=format_time(error.since))
        if isinstance(error, HostBlockedError):
            if error.code is None:
                return self("error.host_refused_uncoded")
            return self("error.host_blocked", what=self.code(error.code, error.symbol))
        if isinstance(error, HostUnreachableError):
            return self("error.host_unreachable", host=error.host, reason=error.reason)
        if isinstance(error, ServiceConfigError):
            what = self.code(error.code, error.symbol) if error.code else repr(error.answer)
            return self("error.service_config", what=what, base_url=error.base_url)
        if isinstance(error, RequestError):
            parameter = f" [{error.parameter}]" if error.parameter else ""
            return self(
                "error.request",
                what=self.code(error.code, error.symbol),
                parameter=parameter,
                reason=error.message,
            )
        if isinstance(error, CollectLockedError):
            return self("error.collect_locked", path=error.path)
        if isinstance(error, CacheLockedError):
            return self("error.cache_locked", path=error.path)
        if isinstance(error, SharedStateLostError):
            message_id = "error.state_lost" if error.during_run else "error.state_unreachable"
            return self(message_id, url=error.url, reason=error.reason)
        if isinstance(error, FileAccessError):
            return self.file_problem("error.file_access", error, path=error.path)
        if isinstance(error, KtoKeysError):
            return str(error)
        kind = type(error).__name__
        return self("error.unexpected", reason=f"{kind}: {error}")

    def file_reason(self, error: FileAccessError) -> str:
        """Why a file cannot be written, in the user's language when the catalog knows the case."""
        message_id = f"file.reason.{error.code}"
        return self(message_id) if message_id in CATALOG else error.reason

    def file_problem(self, message_id: str, error: FileAccessError, **fields: Any) -> str:
        """A line about a file the system refused: its reason in words of the catalog, or, in
        Korean, "the system refused" with the system's own words on a detail line."""
        if self.lang == "en" or f"file.reason.{error.code}" in CATALOG:
            return self(message_id, reason=self.file_reason(error), **fields)
        line = self(message_id, reason=self("file.reason.other"), **fields)
        return line + self.detail_line(error.reason)

    def notice(self, notice: Notice) -> str:
        """One line for what the watch could not do: the run went on."""
        if isinstance(notice, HookFailed):
            if notice.timed_out:
                return self("warning.hook_timed_out", program=notice.program, reason=notice.reason)
            if notice.exit_code is None:
                return self("warning.hook_unstarted", program=notice.program, reason=notice.reason)
            return self(
                "warning.hook_failed",
                program=notice.program,
                code=notice.exit_code,
                reason=notice.reason or "-",
            )
        if isinstance(notice, JournalSetAside):
            return self.journal_set_aside(notice)
        return self("warning.history_unwritable", path=notice.path, reason=notice.reason)

    def log_unwritable(self, error: FileAccessError) -> str:
        """One line for a log file that cannot be written: the run goes on without it."""
        return self.file_problem("warning.log_unwritable", error, path=error.path)

    def _no_usable_key(self, error: NoUsableKeyError) -> str:
        left = self("error.details_left", left=_counts(error.left)) if error.left else ""
        operation = error.operation or "-"
        if error.key is None or error.until is None:
            return left + self("error.no_key_at_all", operation=operation)
        key: ServiceKey = error.key
        when = format_time(error.until)
        if error.reason in ("quota_spent", "cooling", "paused"):
            # Advice that fits the cause: no recovery probe brings back a spent quota.
            return left + self(f"error.{error.reason}", operation=operation, when=when)
        return left + self(
            "error.no_key_now",
            operation=operation,
            key=key.label,
            reason=self(f"reason.{error.reason}") if error.reason else "-",
            when=format_time(error.until),
        )

    def settings_problem(self, problem: SettingsProblem, details: Mapping[str, Any]) -> str:
        """One line for a bad setting or option."""
        fields = dict(details)
        code = fields.pop("code", None)
        if self.lang != "en" and f"file.reason.{code}" in CATALOG:
            fields["reason"] = self(f"file.reason.{code}")  # the system's words, in Korean
        # A key typed into the wrong setting is echoed back: never more of it than a preview.
        if isinstance(fields.get("value"), str):
            fields["value"] = mask_secretlike(fields["value"])
        if problem is SettingsProblem.KEYS_FILE_LINE:
            fields["what"] = self(
                f"keyline.{fields.pop('line_problem')}",
                word=fields.pop("word", ""),
                place=fields.pop("place", ""),
            )
        if "values" in fields:
            fields["values"] = ", ".join(mask_secretlike(str(value)) for value in fields["values"])
        if (
            problem is SettingsProblem.UNKNOWN_AREA_CODES
            or problem is SettingsProblem.REGIONS_NEEDED
        ):
            fields["valid"] = self.area_codes()
        elif problem is SettingsProblem.UNKNOWN_PROVINCE_CODES:
            fields["valid"] = self.province_codes()
        elif "valid" in fields:
            fields["valid"] = ", ".join(str(value) for value in fields["valid"])
        if problem is SettingsProblem.NO_LONGER_LISTED:
            fields["values"] = "; ".join(self._missing(code) for code in details["values"])
            fields["listed"] = ", ".join(
                f"{code} {name}" for code, name in details["listed"].items()
            )
        return self(f"settings.{problem.value}", **fields)

    def menu_codes_problem(self, error: SettingsError) -> str:
        """A bad list of area codes typed at the menu, without the command line's flag."""
        problem = error.problem
        if problem is SettingsProblem.UNKNOWN_AREA_CODES:
            values = ", ".join(str(value) for value in error.details["values"])
            return self("menu.unknown_area_codes", values=values, valid=self.area_codes())
        if problem is SettingsProblem.NOT_A_NUMBER:
            values = ", ".join(str(value) for value in error.details["values"])
            return self("menu.not_a_number", values=values)
        if problem is SettingsProblem.EMPTY_CODES:
            return self("menu.empty_codes")
        return self.error(error)

    def followed(self, step: Followed, listed: Mapping[str, str]) -> str:
        """One line: a chosen province merged into another, which is collected instead."""
        new = f"{step.successor} {listed.get(step.successor, '')}".strip()
        return self("regions.followed", old=self._missing(step.code), new=new)

    def area_codes(self) -> str:
        """The legacy area codes with their names."""
        return ", ".join(f"{r.area} {self._name(r.name_ko, r.name_en)}" for r in REGIONS if r.area)

    def province_codes(self) -> str:
        """The province codes with their names."""
        return ", ".join(f"{r.ldong} {self._name(r.name_ko, r.name_en)}" for r in REGIONS)

    def _missing(self, code: str) -> str:
        region = BY_LDONG.get(code)
        if region is None:
            return code
        area = self("settings.area_code", area=region.area) if region.area else ""
        return f"{code} {self._name(region.name_ko, region.name_en)}{area}"

    def _name(self, korean: str, english: str) -> str:
        return english if self.lang == "en" else korean

    def cache_lost(self, lost: CacheLost) -> str:
        """One line for a key cache that could not be read and was set aside."""
        why, detail = self._why(lost.why, lost.detail, lost.code)
        if lost.moved_to is None:
            return self("cache.lost", path=lost.path, why=why) + detail
        return self("cache.moved", path=lost.path, why=why, moved=lost.moved_to.name) + detail

    def _why(self, why: str, detail: str | None, code: str | None) -> tuple[str, str]:
        """Why a state file was set aside, and the system's own words for an unreadable one
        that the catalog cannot say in Korean (as a detail line, else empty)."""
        if why != "unreadable" or self.lang == "en":
            return self(f"cache.why.{why}", detail=detail or "-"), ""
        if f"file.reason.{code}" in CATALOG:
            return self("cache.why.unreadable", detail=self(f"file.reason.{code}")), ""
        return self("cache.why.unreadable_raw"), self.detail_line(detail)

    def journal_set_aside(self, broken: JournalSetAside) -> str:
        """One line for a shared journal that could not be replayed and was set aside."""
        why, detail = self._why(broken.why, broken.detail, broken.code)
        if broken.moved_to is None:
            return self("journal.left", path=broken.path, why=why) + detail
        moved = broken.moved_to.name
        return self("journal.moved", path=broken.path, why=why, moved=moved) + detail

    # --- keys and events ------------------------------------------------------------------------
    def key_warning(self, warning: KeyWarning) -> str:
        """One line about an odd entry of KTO_API_KEY."""
        if warning.kind is KeyWarningKind.DUPLICATE:
            return self("warning.duplicate_key", position=warning.position, index=warning.index)
        return self(
            "warning.odd_key", index=warning.index, preview=warning.preview, length=warning.length
        )

    def event(self, event: PoolEvent, pool: KeyPool) -> tuple[int, str]:
        """The log level and line for one pool event."""
        key, state, outcome = event.key, pool.peek(event.key), event.outcome
        what, detail = self.outcome_words(outcome) if outcome else ("", "")
        if outcome is not None and what is None:
            what = self(f"outcome.{outcome.kind.value}")
        level, message_id = _EVENT_MESSAGES[event.kind]
        if event.kind is EventKind.DEACTIVATED and event.cause is DeactivationCause.EXPIRED:
            message_id = "event.deactivated_for_good"
        replaced = event.replaced
        line = self(
            message_id,
            name=f"#{key.index}",
            preview=key.preview,
            op=event.operation,
            used=f"{pool.used(key, event.operation)}/{pool.limit_of(key)}",
            until=_clock_time(event.until),
            what=what,
            consecutive=state.consecutive_errors,
            total=state.total_errors,
            detail=self._cause(event, state.consecutive_errors),
            replaced=f"#{replaced.index} {replaced.preview}" if replaced else "",
        )
        return level, line + detail

    def outcome_words(self, outcome: Outcome) -> tuple[str | None, str]:
        """What an answer was, for a line: its gateway code, or the client's own words for an
        answer without one (in Korean None, the caller saying the outcome's kind, and the words
        as a detail line)."""
        if outcome.code:
            return self.code(outcome.code, outcome.symbol), ""
        if self.lang == "en":
            return outcome.message, ""
        return None, self.detail_line(outcome.message)

    def _cause(self, event: PoolEvent, consecutive: int) -> str:
        """What took a key out, from the event's typed cause."""
        if event.cause is DeactivationCause.TOO_MANY_ERRORS:
            return self("event.cause.too_many_errors", count=consecutive)
        outcome = event.outcome
        text = f"{outcome.code or ''} {outcome.symbol}".strip() if outcome else ""
        if not text and event.cause is not None:
            text = self(f"attention.short.{event.cause.value}")
        if event.cause is DeactivationCause.NOT_ACTIVATED_YET:
            text += self("event.cause.not_activated_yet")
        return text

    def _skip_reason(self, pool: KeyPool, key: ServiceKey) -> str:
        state = pool.peek(key)
        if state.deactivation_reason:
            return state.deactivation_reason
        if state.deactivation_cause is not None:
            return self(f"attention.{state.deactivation_cause.value}")
        return self("attention.disabled_by_hand", index=key.index)

    def skipped(self, keys: Iterable[ServiceKey], pool: KeyPool) -> list[str]:
        """One line per deactivated key left out of a run."""
        return [
            self(
                "event.skipped",
                index=key.index,
                preview=key.preview,
                reason=self._skip_reason(pool, key),
            )
            for key in keys
        ]


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in counts.items())


def _clock_time(when: datetime | None) -> str:
    return when.astimezone(KST).strftime("%H:%M:%S KST") if when else "-"
