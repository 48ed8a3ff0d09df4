"""Single-flight: identical cache misses make one upstream call, across every replica.

Inside one process, followers await the leader's future directly. Across processes the
store's lock elects one leader: usually the admission step already took it (one round trip
for admission, cache lookup and election); otherwise ``flight_acquire`` does. The others
wait for its release and then read the cache. The caller's token is its reservation id and
the caller's settlement releases the lock in the same step that stores the answer, so a
woken waiter always finds it. A leader that fails or dies frees the lock (at settlement,
or by its TTL), and a waiter then becomes the leader itself.

A follower that cannot wait (the store fails while it waits, or its deadline passes with
the leader still at work) is answered with an error, never by a second upstream call for
the same key: the leader's call is still running, and paying for it twice is what
single-flight exists to prevent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from gateway.errors import ServiceUnavailable
from gateway.observability.clock import Clock
from gateway.store.base import Store
from gateway.store.errors import StorageUnavailable
from gateway.store.types import CacheEntry, flight_lock

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
        self.lock_ttl = lock_ttl
        self._wait = wait
        self._local: dict[str, asyncio.Future[T]] = {}

    async def run(
        self, key: str, token: str, call: Callable[[], Awaitable[T]], *, holding: bool = False
    ) -> Led[T] | Followed[T]:
        """Run ``call`` as the leader for ``key``, or be served by the leader's answer.

        ``holding`` says the admission step already took the store lock with ``token``.
        The lock is left held for the caller's settlement to release. A follower whose
        deadline passes gets :class:`ServiceUnavailable`; store failures while following
        are raised as they are.
        """
        if holding:
            return await self._lead(key, call, recheck=None)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise ServiceUnavailable(
                    "An identical request is still being generated; retry shortly to get "
                    "its answer.",
                    headers={"retry-after": "1"},
                )
            local = self._local.get(key)
            if local is not None:
                with contextlib.suppress(Exception, asyncio.TimeoutError):
                    value = await asyncio.wait_for(asyncio.shield(local), remaining)
                    return Followed(value, None)
                continue
            lock = flight_lock(key)
            if await self._store.flight_acquire(lock, token, self.lock_ttl):
                return await self._lead(key, call, recheck=token)
            await self._store.flight_wait(lock, min(remaining, self.lock_ttl))
            entry = await self._store.cache_get(key, self._clock())
            if entry is not None:
                return Followed(None, entry)

    async def _lead(
        self, key: str, call: Callable[[], Awaitable[T]], *, recheck: str | None
    ) -> Led[T] | Followed[T]:
        """Lead; with ``recheck`` (the lock token), first look for an answer stored by the
        previous holder, and hand the lock back at once if there is one."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._local[key] = future
        try:
            if recheck is not None:
                entry = None
                with contextlib.suppress(StorageUnavailable):
                    entry = await self._store.cache_get(key, self._clock())
                if entry is not None:
                    _fail(future)
                    with contextlib.suppress(StorageUnavailable):
                        await self._store.flight_release(flight_lock(key), recheck)
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


class LeaderFailed(Exception):
    """Told to in-process followers when the leader got no answer they can share."""


def _fail(future: asyncio.Future[T]) -> None:
    if not future.done():
        future.set_exception(LeaderFailed())
        future.exception()
