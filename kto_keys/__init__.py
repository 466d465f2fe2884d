"""kto-keys: collect TourAPI restaurant data across a pool of service keys.

The programmatic API: the jobs the command line and the menu call, usable from any Python code.
Errors carry data (which key, which operation, until when); `kto_keys.cli` words them.
"""

from __future__ import annotations

from kto_keys.core.errors import (
    BudgetExhaustedError,
    CollectLockedError,
    GatewayUnavailableError,
    HostBlockedError,
    KtoKeysError,
    NoUsableKeyError,
    RequestError,
    RunOutcome,
    ServiceConfigError,
    SettingsError,
    SettingsProblem,
    SharedStateLostError,
)
from kto_keys.core.keys import KeyAttributes
from kto_keys.core.operations import DetailKind, Operation
from kto_keys.core.regions import Selection, select
from kto_keys.core.rotation import KeyEvent, KeyEventKind
from kto_keys.core.version import __version__
from kto_keys.edges.settings import Settings, load_settings
from kto_keys.jobs.collect import CollectOptions, CollectReport, collect, collect_now
from kto_keys.jobs.export import export_records
from kto_keys.jobs.keyring import (
    KeyChange,
    add_key,
    import_keys,
    rekey_store,
    remove_key,
    set_key,
)
from kto_keys.jobs.keys import (
    check_health,
    deactivate_key,
    export_state,
    import_state,
    key_detail,
    reactivate_key,
    recover,
    status_rows,
    status_summary,
)
from kto_keys.jobs.session import Session, open_session
from kto_keys.jobs.watch import UsageReport, key_log, usage_history

__all__ = [
    "BudgetExhaustedError",
    "CollectLockedError",
    "CollectOptions",
    "CollectReport",
    "DetailKind",
    "GatewayUnavailableError",
    "HostBlockedError",
    "KeyAttributes",
    "KeyChange",
    "KeyEvent",
    "KeyEventKind",
    "KtoKeysError",
    "NoUsableKeyError",
    "Operation",
    "RequestError",
    "RunOutcome",
    "Selection",
    "ServiceConfigError",
    "Session",
    "Settings",
    "SettingsError",
    "SettingsProblem",
    "SharedStateLostError",
    "UsageReport",
    "__version__",
    "add_key",
    "check_health",
    "collect",
    "collect_now",
    "deactivate_key",
    "export_records",
    "export_state",
    "import_keys",
    "import_state",
    "key_detail",
    "key_log",
    "load_settings",
    "open_session",
    "reactivate_key",
    "recover",
    "rekey_store",
    "remove_key",
    "select",
    "set_key",
    "status_rows",
    "status_summary",
    "usage_history",
]
