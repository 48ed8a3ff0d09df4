"""Single-flight in one process: one call for many; the lock is left to the settlement."""

from __future__ import annotations

import asyncio

from gateway.cache.flight import Followed, Led, SingleFlight
from gateway.store.errors import StorageUnavailable
from gateway.store.memory import MemoryStore
from gateway.store.types import flight_lock


async def test_many_callers_one_call() -> None:
    store = MemoryStore(None, cache_max_bytes=1000)
    flight: SingleFlight[int] = SingleFlight(store, lambda: 0.0, lock_ttl=30, wait=5)
    calls = 0
    gate = asyncio.Event()

    async def call() -> int:
        nonlocal calls
        calls += 1
        await gate.wait()
        return 7

    tasks = [asyncio.create_task(flight.run("k", f"t{i}", call)) for i in range(10)]
    await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(*tasks)
    assert calls == 1
    assert sum(isinstance(r, Led) for r in results) == 1
    assert all(r.value == 7 for r in results if isinstance(r, Followed | Led))


async def test_the_leader_leaves_the_lock_to_its_settlement() -> None:
    store = MemoryStore(None, cache_max_bytes=1000)
    flight: SingleFlight[int] = SingleFlight(store, lambda: 0.0, lock_ttl=30, wait=5)

    async def call() -> int:
        return 1

    assert isinstance(await flight.run("k", "mine", call), Led)
    assert not await store.flight_acquire(flight_lock("k"), "other", 30)
    await store.flight_release(flight_lock("k"), "mine")
    assert await store.flight_acquire(flight_lock("k"), "other", 30)


class NoLocks(MemoryStore):
    async def flight_acquire(self, name: str, token: str, ttl: float) -> bool:
        raise StorageUnavailable()


async def test_a_lock_taken_at_admission_leads_without_asking_the_store_again() -> None:
    flight: SingleFlight[int] = SingleFlight(
        NoLocks(None, cache_max_bytes=10), lambda: 0.0, lock_ttl=30, wait=5
    )
    calls = 0

    async def call() -> int:
        nonlocal calls
        calls += 1
        return 1

    assert isinstance(await flight.run("k", "mine", call, holding=True), Led)
    assert calls == 1
