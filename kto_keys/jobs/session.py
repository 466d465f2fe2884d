"""What every command opens: settings, the clock, the key pool and its cache."""

from __future__ import annotations

from dataclasses import dataclass

from kto_keys.core.clock import Clock
from kto_keys.core.pool import KeyPool
from kto_keys.edges.logbook import logger
from kto_keys.edges.settings import Settings
from kto_keys.edges.state import StateCache


@dataclass(slots=True)
class Runtime:
    """The pool of a run with the cache it is saved to."""

    settings: Settings
    clock: Clock
    pool: KeyPool
    cache: StateCache

    @property
    def cache_notice(self) -> str | None:
        """A one-line notice when the cache was corrupt and set aside."""
        return self.cache.notice

    def save(self, force: bool = True) -> None:
        """Write the pool's state to the cache (every save is a full sync; `force` is kept for
        callers until the session decides when to save from the pool's events)."""
        self.cache.sync(self.pool)


def open_runtime(settings: Settings, clock: Clock) -> Runtime:
    """Load the key states of the configured keys from the cache."""
    cache = StateCache(settings.cache_path)
    loaded = cache.load(clock.now())
    if loaded.notice:
        logger().warning(f"⚠️  {loaded.notice}")
    pool = KeyPool(settings.keys, settings.policy(), clock.now(), loaded.states)
    return Runtime(settings, clock, pool, cache)
