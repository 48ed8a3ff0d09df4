"""The Redis store's key index and key rotation (see :mod:`gateway.store.key_search`).

Layout (prefix ``gw:``): ``keyindex`` one sorted set of every key's index entries, all
scored 0 so that ``ZRANGEBYLEX`` reads them in order; ``keyentries`` a hash from a key's
id to its entries (a JSON array), so that the write that changes a key (``put_key.lua``)
swaps its entries in the same step without trusting what the caller read before.
``keyindex:built`` marks that every key is in the index: the first key written to a new
store sets it; on a store from before the index, the first search adds the keys already
there (``index_key.lua`` skips any key a write indexed meanwhile), then sets it.

Rotation (``rotate_key.lua``) checks the version the caller read and moves the hash
indexes in one step: the new hash finds the key, the previous one keeps finding it until
its time to live (the grace period) runs out, and an older one is deleted at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import AbstractContextManager
from typing import Any

import orjson
import redis.asyncio as aioredis

from gateway.store.errors import StorageConflict, StorageNotFound
from gateway.store.key_search import (
    KeyPage,
    KeySearch,
    Stretch,
    collect,
    counted,
    index_entries,
    status_ranges,
    stretch_of,
)
from gateway.store.types import KeyRecord

KEY_SCRIPTS = ("rotate_key", "index_key")
Run = Callable[[str, list[str], list[Any]], Awaitable[Any]]
BATCH_MAX = 1000
BUILD_CHUNK = 500


def _text(reply: Any) -> str:
    return reply.decode() if isinstance(reply, bytes) else str(reply)


class RedisKeyIndex:
    """The key index and rotation of one :class:`~gateway.store.redis.RedisStore`:
    ``client`` for reads, ``run`` for its scripts, ``guard`` its error mapping."""

    def __init__(
        self,
        client: aioredis.Redis,
        run: Run,
        guard: Callable[[], AbstractContextManager[None]],
        prefix: str,
    ) -> None:
        self._r = client
        self._run = run
        self._guard = guard
        self._p = prefix
        self.index = f"{prefix}keyindex"
        self.entries = f"{prefix}keyentries"
        self.built = f"{prefix}keyindex:built"
        self._built = False

    async def _record(self, key_id: str) -> KeyRecord | None:
        with self._guard():
            raw = await self._r.get(f"{self._p}key:{key_id}")
        return KeyRecord.from_dict(orjson.loads(raw)) if raw else None

    async def search(self, search: KeySearch) -> KeyPage:
        """One page of :meth:`Store.search_keys`."""
        await self._build()
        cursor = None
        if search.after is not None:
            cursor = await self._record(search.after)
            if cursor is None:
                raise StorageNotFound(f"No key with id {search.after!r}.")
        return await collect(self._read(stretch_of(search, cursor), search.limit + 1), search)

    async def counts(self, now: float) -> dict[str, int]:
        """:meth:`Store.key_counts`: the listing's size and three counts of the index."""
        await self._build()
        ranges = status_ranges(now)
        with self._guard():
            async with self._r.pipeline(transaction=False) as pipe:
                pipe.zcard(f"{self._p}keys")
                for low, high in ranges.values():
                    pipe.zlexcount(self.index, f"[{low}", f"({high}")
                found: Any = await pipe.execute()
        return counted(int(found[0]), dict(zip(ranges, map(int, found[1:]), strict=True)))

    async def _read(self, stretch: Stretch, size: int) -> AsyncGenerator[KeyRecord, None]:
        """The records of ``stretch`` in order, read ``size`` at first, then in larger
        batches (a filter that the index does not answer reads on)."""
        low = ("(" if stretch.exclusive else "[").encode() + stretch.start.encode()
        high = b"(" + stretch.prefix.encode() + b"\xff"
        while True:
            raws: Any = []
            entries: Any
            with self._guard():
                entries = await self._r.zrangebylex(self.index, low, high, start=0, num=size)
                if entries:
                    ids = [bytes(e).rpartition(b"\0")[2].decode() for e in entries]
                    raws = await self._r.mget([f"{self._p}key:{i}" for i in ids])
            for raw in raws:
                if raw:
                    yield KeyRecord.from_dict(orjson.loads(raw))
            if len(entries) < size:
                return
            low = b"(" + bytes(entries[-1])
            size = min(size * 4, BATCH_MAX)

    async def _build(self) -> None:
        """Add the keys written before the index existed (once per Redis)."""
        if self._built:
            return
        ids: Any
        with self._guard():
            built = await self._r.exists(self.built)
            ids = [] if built else await self._r.zrange(f"{self._p}keys", 0, -1)
        for start in range(0, len(ids), BUILD_CHUNK):
            chunk = [bytes(i).decode() for i in ids[start : start + BUILD_CHUNK]]
            raws: Any
            with self._guard():
                raws = await self._r.mget([f"{self._p}key:{i}" for i in chunk])
            records = [KeyRecord.from_dict(orjson.loads(raw)) for raw in raws if raw]
            await asyncio.gather(
                *(
                    self._run("index_key", [self.index, self.entries], [r.id, *index_entries(r)])
                    for r in records
                )
            )
        if not built:
            with self._guard():
                await self._r.set(self.built, 1)
        self._built = True

    async def rotate(self, record: KeyRecord, grace: float) -> None:
        """:meth:`Store.rotate_key`."""
        stored = await self._record(record.id)
        if stored is None:
            raise StorageNotFound(f"No key with id {record.id!r}.")
        changed = StorageConflict(f"Key {record.id!r} changed while it was being rotated.")
        if stored.version != record.version - 1:
            raise changed
        p = self._p
        previous = f"{p}keyhash:{stored.key_hash}"
        older = f"{p}keyhash:{stored.previous_hash}" if stored.previous_hash else previous
        grace_ms = max(0, int(grace * 1000)) if record.previous_hash is not None else 0
        outcome = _text(
            await self._run(
                "rotate_key",
                [
                    f"{p}key:{record.id}",
                    f"{p}keyver:{record.id}",
                    f"{p}keyhash:{record.key_hash}",
                    previous,
                    older,
                ],
                [
                    orjson.dumps(record.to_dict()),
                    record.version,
                    record.id,
                    record.version - 1,
                    grace_ms,
                ],
            )
        )
        if outcome == "missing":
            raise StorageNotFound(f"No key with id {record.id!r}.")
        if outcome == "conflict":
            raise changed
