"""When keys expire: the date a keys file or the key store gives, or an estimate (pure)."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime

from kto_keys.core.clock import kst_day
from kto_keys.core.keys import ServiceKey
from kto_keys.core.pool import KeyPool, KeyState

# A development account's key is granted for two years: the estimate when no date is given.
ESTIMATED_LIFETIME_MONTHS = 24
# `health` lists keys expiring within this many days, and warns (exit 1 at least) within URGENT.
NOTICE_DAYS = 30
URGENT_DAYS = 7


@dataclass(frozen=True, slots=True)
class KeyExpiry:
    """A key's expiry date, whether it is only an estimate, and the days left from today."""

    key: ServiceKey
    expires: date
    estimated: bool
    days_left: int

    @property
    def is_urgent(self) -> bool:
        """True when a given (not estimated) date is at most URGENT_DAYS away."""
        return not self.estimated and self.days_left <= URGENT_DAYS


def expiry_of(key: ServiceKey, state: KeyState, today: date) -> KeyExpiry:
    """The key's expiry: its given date, or first seen + 24 months as an estimate."""
    given = key.attributes.expires
    if given is not None:
        return KeyExpiry(key, given, False, (given - today).days)
    estimate = _add_months(kst_day(state.first_seen), ESTIMATED_LIFETIME_MONTHS)
    return KeyExpiry(key, estimate, True, (estimate - today).days)


def expiring(pool: KeyPool, now: datetime, within_days: int = NOTICE_DAYS) -> tuple[KeyExpiry, ...]:
    """The keys in the pool, not taken out, that expire within `within_days`, soonest first."""
    today = kst_day(now)
    found = [
        expiry
        for key in pool.keys
        if not (state := pool.peek(key)).is_deactivated
        and (expiry := expiry_of(key, state, today)).days_left <= within_days
    ]
    return tuple(sorted(found, key=lambda expiry: (expiry.expires, expiry.key.index)))


def _add_months(day: date, months: int) -> date:
    """The same day `months` later, or the month's last day when it is shorter."""
    year, month = divmod(day.month - 1 + months, 12)
    year, month = day.year + year, month + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
