"""Pings for cron monitors that speak healthchecks.io's protocol: `<url>/start` when a run starts,
`<url>/<exit code>` when it ends (0: success), with a body the monitor keeps for a person.

A ping never fails a run: a short timeout, two retries at once, then a failure returned as data.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

from kto_keys.core.version import __version__

PING_TIMEOUT_S = 5.0
# The first try and two retries.
PING_ATTEMPTS = 3
USER_AGENT = f"kto-keys/{__version__}"


@dataclass(frozen=True, slots=True)
class PingFailed:
    """No attempt reached the monitor: its host (the URL's path is a secret of sorts) and why."""

    host: str
    reason: str


def ping(url: str, signal: str, body: bytes | None = None) -> PingFailed | None:
    """GET `<url>/<signal>`, or POST it with `body`; None when the monitor answered 2xx."""
    target = f"{url.rstrip('/')}/{signal}"
    headers = {"User-Agent": USER_AGENT}
    if body is not None:
        headers["Content-Type"] = "application/json"
    reason = ""
    for _ in range(PING_ATTEMPTS):
        request = urllib.request.Request(
            target, data=body, headers=headers, method="GET" if body is None else "POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=PING_TIMEOUT_S) as answer:
                answer.read()
                return None
        except urllib.error.HTTPError as error:
            reason = f"HTTP {error.code}"
        except urllib.error.URLError as error:
            cause = error.reason
            reason = getattr(cause, "strerror", None) or str(cause)
        except (OSError, ValueError) as error:  # a timeout while reading, a malformed answer
            reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return PingFailed(urlsplit(target).hostname or "-", reason)
