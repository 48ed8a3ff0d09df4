"""Single-flight: identical cache misses make one upstream call, across every replica.

Inside one process, followers await the leader's future directly. Across processes the
store's lock (``flight_acquire``) elects one leader; the others wait for its release and
then read the cache. A leader that fails or dies frees the lock (explicitly, or by its
TTL), and a waiter then becomes the leader itself; nobody waits past the deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from gateway.clock import Clock
from gateway.errors import StoreUnavailable
from gateway.store.base import Store
from gateway.store.types import CacheEntry

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Led(Generic[T]):
    """This caller went upstream itself and got ``value``."""

    value: T


@dataclass(frozen=True, slots=True)
class Followed(Generic[T]):
    """Another caller's answer served this one: an in-process ``value`` or a cache entry."""

    value: T | None
    entry: CacheEntry | None


class SingleFlight(Generic[T]):
    """Coordinates identical in-flight requests by cache key."""

    def __init__(self, store: Store, clock: Clock, *, lock_ttl: float, wait: float) -> None:
        self._store = store
        self._clock = clock
        self._lock_ttl = lock_ttl
        self._wait = wait
        self._local: dict[str, asyncio.Future[T]] = {}

    async def run(self, key: str, call: Callable[[], Awaitable[T]]) -> Led[T] | Followed[T]:
        """Run ``call`` as the leader for ``key``, or be served by the leader's answer."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return Led(await call())
            local = self._local.get(key)
            if local is not None:
                with contextlib.suppress(Exception, asyncio.TimeoutError):
                    value = await asyncio.wait_for(asyncio.shield(local), remaining)
                    return Followed(value, None)
                continue
            token = secrets.token_hex(8)
            if await self._store.flight_acquire(f"flight:{key}", token, self._lock_ttl):
                return await self._lead(key, token, call)
            await self._store.flight_wait(f"flight:{key}", min(remaining, self._lock_ttl))
            entry = await self._store.cache_get(key, self._clock())
            if entry is not None:
                return Followed(None, entry)

    async def _lead(
        self, key: str, token: str, call: Callable[[], Awaitable[T]]
    ) -> Led[T] | Followed[T]:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._local[key] = future
        try:
            entry = await self._store.cache_get(key, self._clock())
            if entry is not None:
                _fail(future)
                return Followed(None, entry)
            value = await call()
            future.set_result(value)
            return Led(value)
        except BaseException:
            _fail(future)
            raise
        finally:
            if self._local.get(key) is future:
                del self._local[key]
            with contextlib.suppress(StoreUnavailable):
                await asyncio.shield(self._store.flight_release(f"flight:{key}", token))


class LeaderFailed(Exception):
    """Told to in-process followers when the leader got no answer they can share."""


def _fail(future: asyncio.Future[T]) -> None:
    if not future.done():
        future.set_exception(LeaderFailed())
        future.exception()
