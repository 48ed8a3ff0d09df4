"""What only the Redis store must show: exactness under concurrency, prompt failure."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis

from gateway.store.errors import StorageUnavailable
from gateway.store.redis import RedisStore
from gateway.store.types import Limits, Outcome
from gateway.testing.procs import free_port
from tests.store.test_contract import admit, make_key


async def test_200_concurrent_admits_over_several_connections_admit_exactly_the_quota(
    redis_url: str,
) -> None:
    stores = [RedisStore.from_url(redis_url) for _ in range(4)]
    for store in stores:
        await store.start()
    record = await make_key(stores[0], Limits(images_per_day=37))
    decisions = await asyncio.gather(
        *(admit(stores[i % 4], record, 1, rid=f"r{i}") for i in range(200))
    )
    assert sum(d.outcome is Outcome.ADMITTED for d in decisions) == 37
    assert sum(d.outcome is Outcome.QUOTA_EXCEEDED for d in decisions) == 163
    for store in stores:
        await store.aclose()


async def test_admission_survives_a_flushed_script_cache(redis_url: str) -> None:
    store = RedisStore.from_url(redis_url)
    await store.start()
    record = await make_key(store, Limits(images_per_day=2))
    assert (await admit(store, record, 1, rid="a")).outcome is Outcome.ADMITTED
    client = redis.Redis.from_url(redis_url)
    client.script_flush()
    client.close()
    assert (await admit(store, record, 1, rid="b")).outcome is Outcome.ADMITTED
    assert (await admit(store, record, 1, rid="c")).outcome is Outcome.QUOTA_EXCEEDED
    await store.aclose()


async def test_unreachable_redis_fails_fast() -> None:
    store = RedisStore.from_url(
        f"redis://127.0.0.1:{free_port()}/0", socket_timeout=0.2, connect_timeout=0.2
    )
    await store.start()
    started = time.monotonic()
    with pytest.raises(StorageUnavailable):
        await store.ping()
    with pytest.raises(StorageUnavailable):
        await store.get_key("k")
    assert time.monotonic() - started < 5
    await store.aclose()
