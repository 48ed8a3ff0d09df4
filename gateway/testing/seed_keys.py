"""Many keys at once, straight into a store (benchmarks and scale tests): no HTTP call per
key, no plaintext kept (only the hashes exist, as in any store).

Names are ``<word>-<number>`` over :data:`WORDS`, so ``q=<word>`` matches one key in
``len(WORDS)`` and ``q=<word>-0`` fewer.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from pathlib import Path

import orjson

from gateway.store.embedded.database import INSERT_KEY, Database
from gateway.store.redis import RedisStore
from gateway.store.types import KeyRecord, Limits

WORDS = (
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
)
CHUNK = 1000


def records(count: int, now: float) -> Iterator[KeyRecord]:
    """``count`` distinct keys created a millisecond apart before ``now``."""
    for i in range(count):
        yield KeyRecord(
            id=f"key_{i:016x}",
            name=f"{WORDS[i % len(WORDS)]}-{i:06d}",
            key_hash=hashlib.sha256(f"seeded-{i}".encode()).hexdigest(),
            prefix="gwk_seed****",
            created_at=now - (count - i) / 1000,
            limits=Limits(rpm=60, images_per_day=100),
            metadata={"seeded": True},
        )


def seed_embedded(path: Path, count: int, now: float) -> None:
    """Write ``count`` keys into the embedded store at ``path`` (as ``GATEWAY_STORE_PATH``
    names it), in one transaction, while no gateway has it open."""
    database = Database(path, busy_timeout=5.0)
    database.open(now)
    try:
        with database.transaction("seed keys") as conn:
            conn.executemany(
                INSERT_KEY,
                (
                    (r.id, r.key_hash, r.created_at, orjson.dumps(r.to_dict()).decode())
                    for r in records(count, now)
                ),
            )
    finally:
        database.close()


async def seed_redis(url: str, count: int, now: float) -> None:
    """Write ``count`` keys into the Redis store at ``url`` through the store's own writes
    (pipelined, ``CHUNK`` at a time)."""
    store = RedisStore.from_url(url)
    await store.start()
    try:
        batch: list[KeyRecord] = []
        for record in records(count, now):
            batch.append(record)
            if len(batch) == CHUNK:
                await asyncio.gather(*(store.insert_key(r) for r in batch))
                batch = []
        await asyncio.gather(*(store.insert_key(r) for r in batch))
    finally:
        await store.aclose()
