"""kto-keys: collect TourAPI restaurant data across a pool of service keys.

The programmatic API: the same functions that the CLI and the menu call.
"""

from __future__ import annotations

from kto_keys.core.errors import (
    HostBlockedError,
    KtoKeysError,
    NoUsableKeyError,
    RequestError,
    ServiceConfigError,
    SettingsError,
)
from kto_keys.core.version import __version__
from kto_keys.edges.settings import Settings, load_settings
from kto_keys.jobs.keys import (
    check_health,
    deactivate_key,
    key_detail,
    reactivate_key,
    recover,
    status_rows,
    status_summary,
)

__all__ = [
    "HostBlockedError",
    "KtoKeysError",
    "NoUsableKeyError",
    "RequestError",
    "ServiceConfigError",
    "Settings",
    "SettingsError",
    "__version__",
    "check_health",
    "deactivate_key",
    "key_detail",
    "load_settings",
    "reactivate_key",
    "recover",
    "status_rows",
    "status_summary",
]
