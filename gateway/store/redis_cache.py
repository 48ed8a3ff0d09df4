"""The response cache and single-flight locks in Redis, shared by every replica.

An answer is a hash ``cache:{cache key}`` (``body``, ``stored_at``, ``expires_at``,
``images``) that Redis expires with the answer; the lock of a cache key (its name from
:func:`gateway.store.types.flight_lock`) is a plain key set with ``NX`` and a time to
live, released by ``release.lua`` only by the token that took it, which also publishes
on the lock's name, waking the waiters of every replica. On a miss, ``admit.lua`` takes
the lock and ``settle.lua`` writes the answer and frees the lock
(:mod:`gateway.store.redis_admission`); this module is the rest: reads, writes outside a
request, purges, sizes, locks taken and freed alone, and waiting for a release.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

import redis.asyncio as aioredis

from gateway.store.pubsub import Subscriber
from gateway.store.redis_errors import guarded
from gateway.store.resp import PipelinedRedis, Script
from gateway.store.types import CacheEntry, CacheStats


class RedisCache:
    """The cache and single-flight of one :class:`~gateway.store.redis.RedisStore`.

    Reads and locks go over ``pipe``, waits over the store's one ``subscriber``, scans and
    multi-command writes over redis-py's ``client``; ``scripts`` is the store's table of
    loaded scripts, as for :class:`~gateway.store.redis_admission.RedisAdmission`.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        pipe: PipelinedRedis,
        subscriber: Subscriber,
        scripts: Mapping[str, Script],
        prefix: str,
    ) -> None:
        self._r = client
        self._pipe = pipe
        self._subscriber = subscriber
        self._scripts = scripts
        self._p = prefix

    async def cache_get(self, cache_key: str, now: float) -> CacheEntry | None:
        found: Any
        with guarded():
            found = await self._pipe.execute(
                "HMGET", f"{self._p}cache:{cache_key}", "body", "stored_at", "expires_at", "images"
            )
        body, stored, expires, images = found
        if body is None or float(expires) <= now:
            return None
        return CacheEntry(body, float(stored), float(expires), int(images))

    async def cache_put(self, cache_key: str, entry: CacheEntry, now: float) -> None:
        ttl_ms = int((entry.expires_at - now) * 1000)
        if ttl_ms <= 0:
            return
        name = f"{self._p}cache:{cache_key}"
        with guarded():
            async with self._r.pipeline(transaction=True) as pipe:
                pipe.hset(
                    name,
                    mapping={
                        "body": entry.body,
                        "stored_at": repr(entry.stored_at),
                        "expires_at": repr(entry.expires_at),
                        "images": entry.images,
                    },
                )
                pipe.pexpire(name, ttl_ms)
                await pipe.execute()

    def _scan(self, prefix: str | None) -> Any:
        pattern = f"{self._p}cache:" + _glob_escape(prefix or "") + "*"
        return self._r.scan_iter(match=pattern, count=500)

    async def cache_purge(self, prefix: str | None = None) -> int:
        deleted = 0
        with guarded():
            batch: list[Any] = []
            async for name in self._scan(prefix):
                batch.append(name)
                if len(batch) >= 500:
                    deleted += await self._r.unlink(*batch)
                    batch = []
            if batch:
                deleted += await self._r.unlink(*batch)
        return deleted

    async def cache_stats(self) -> CacheStats:
        """Entries and body bytes, the sizes asked for in one round trip per scanned
        batch (an entry that expires between the two counts as empty)."""
        entries = size = 0
        with guarded():
            batch: list[Any] = []
            async for name in self._scan(None):
                batch.append(name)
                if len(batch) >= 500:
                    size += await self._body_bytes(batch)
                    entries, batch = entries + len(batch), []
            if batch:
                size += await self._body_bytes(batch)
                entries += len(batch)
        return CacheStats(entries, size)

    async def _body_bytes(self, names: list[Any]) -> int:
        async with self._r.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hstrlen(name, "body")
            return sum(await pipe.execute())

    async def flight_acquire(self, name: str, token: str, ttl: float) -> bool:
        with guarded():
            return bool(
                await self._pipe.execute(
                    "SET", f"{self._p}{name}", token, "NX", "PX", max(1, int(ttl * 1000))
                )
            )

    async def flight_release(self, name: str, token: str) -> None:
        key = f"{self._p}{name}"
        with guarded("release"):
            await self._pipe.evalsha(self._scripts["release"], [key], [token, key])

    async def flight_wait(self, name: str, timeout: float) -> bool:
        """Wait on the process's one subscriber connection for the lock's release.

        The wait is registered before the lock is looked at, so a release between the two
        is not missed, and lasts no longer than the lock's own expiry (a leader that died
        publishes nothing); a lost subscription also means looking again.
        """
        key = f"{self._p}{name}"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        subscription = self._subscriber.subscription(key)
        with guarded():
            try:
                while True:
                    event = await subscription.next_event()
                    ttl = await self._pipe.execute("PTTL", key)
                    if ttl == -2:
                        return True
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        return False
                    wait = remaining if ttl < 0 else min(remaining, ttl / 1000)
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(wait):
                            if await event:
                                return True
            finally:
                subscription.close()


def _glob_escape(text: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)
