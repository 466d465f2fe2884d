"""kto-keys: collect TourAPI restaurant data across a pool of service keys.

The programmatic API: the same functions that the CLI and the menu call.
"""

from __future__ import annotations

__version__ = "0.1.0"

from kto_keys.api import (
    check_health,
    deactivate_key,
    key_detail,
    reactivate_key,
    recover,
    status_rows,
    status_summary,
)
from kto_keys.errors import (
    HostBlockedError,
    KtoKeysError,
    NoUsableKeyError,
    RequestError,
    ServiceConfigError,
    SettingsError,
)
from kto_keys.settings import Settings, load_settings

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
