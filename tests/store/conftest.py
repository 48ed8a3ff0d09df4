"""Both store implementations behind one fixture, so every contract test runs on each."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gateway.store.base import Store
from gateway.store.memory import MemoryStore
from gateway.store.redis import RedisStore


class FakeClock:
    """Time that moves only when a test says so."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest, clock: FakeClock) -> AsyncIterator[Store]:
    """A fresh store of each kind."""
    if request.param == "memory":
        the_store: Store = MemoryStore(None, cache_max_bytes=10_000, clock=clock)
    else:
        url = request.getfixturevalue("redis_url")
        the_store = RedisStore.from_url(url)
    await the_store.start()
    yield the_store
    await the_store.aclose()
