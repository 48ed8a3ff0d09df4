"""The embedded store's response cache (an LRU bounded by bytes) and single-flight locks.

Both live in process memory only: a restart empties the cache and frees every lock, which
is what their expiry would do.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable

from gateway.store.types import CacheEntry, CacheStats


class LruCache:
    """Cached answers, least recently used dropped first once ``max_bytes`` is exceeded."""

    def __init__(self, max_bytes: int) -> None:
        self._max = max_bytes
        self._entries: OrderedDict[str, CacheEntry] = OrderedDict()
        self._bytes = 0

    def get(self, cache_key: str, now: float) -> CacheEntry | None:
        entry = self._entries.get(cache_key)
        if entry is None:
            return None
        if entry.expires_at <= now:
            self._drop(cache_key)
            return None
        self._entries.move_to_end(cache_key)
        return entry

    def _drop(self, cache_key: str) -> None:
        entry = self._entries.pop(cache_key, None)
        if entry is not None:
            self._bytes -= len(entry.body)

    def put(self, cache_key: str, entry: CacheEntry, now: float) -> None:
        if len(entry.body) > self._max or entry.expires_at <= now:
            return
        self._drop(cache_key)
        self._entries[cache_key] = entry
        self._bytes += len(entry.body)
        while self._bytes > self._max:
            self._drop(next(iter(self._entries)))

    def purge(self, prefix: str | None) -> int:
        doomed = [k for k in self._entries if prefix is None or k.startswith(prefix)]
        for key in doomed:
            self._drop(key)
        return len(doomed)

    def stats(self) -> CacheStats:
        return CacheStats(len(self._entries), self._bytes)


class FlightLocks:
    """Named locks with a time to live; releasing one wakes everyone waiting for it."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._held: dict[str, tuple[str, float]] = {}
        self._released: dict[str, asyncio.Event] = {}

    def take(self, name: str, token: str, ttl: float) -> bool:
        held = self._held.get(name)
        now = self._clock()
        if held is not None and held[1] > now:
            return False
        self._held[name] = (token, now + ttl)
        self._released.setdefault(name, asyncio.Event()).clear()
        return True

    def release(self, name: str, token: str) -> None:
        held = self._held.get(name)
        if held is not None and held[0] == token:
            del self._held[name]
            event = self._released.pop(name, None)
            if event is not None:
                event.set()

    async def wait(self, name: str, timeout: float) -> bool:
        held = self._held.get(name)
        if held is None or held[1] <= self._clock():
            return True
        event = self._released.setdefault(name, asyncio.Event())
        wait = min(timeout, max(0.0, held[1] - self._clock()))
        try:
            await asyncio.wait_for(event.wait(), wait)
        except TimeoutError:
            held = self._held.get(name)
            return held is None or held[1] <= self._clock()
        return True

    def prune(self) -> None:
        """Forget expired locks (a leader that never released), waking their waiters."""
        now = self._clock()
        for name, (token, until) in list(self._held.items()):
            if until <= now:
                self.release(name, token)
