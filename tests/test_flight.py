"""Single-flight in one process: one call for many, and a failed release never repeats it."""

from __future__ import annotations

import asyncio

from gateway.errors import StoreUnavailable
from gateway.flight import Followed, Led, SingleFlight
from gateway.store.memory import MemoryStore


class ReleaseFails(MemoryStore):
    async def flight_release(self, name: str, token: str) -> None:
        raise StoreUnavailable()


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

    tasks = [asyncio.create_task(flight.run("k", call)) for _ in range(10)]
    await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(*tasks)
    assert calls == 1
    assert sum(isinstance(r, Led) for r in results) == 1
    assert all(r.value == 7 for r in results if isinstance(r, Followed | Led))


async def test_store_failing_on_release_does_not_repeat_the_call() -> None:
    flight: SingleFlight[int] = SingleFlight(ReleaseFails(None, cache_max_bytes=10),
                                             lambda: 0.0, lock_ttl=30, wait=5)
    calls = 0

    async def call() -> int:
        nonlocal calls
        calls += 1
        return 1

    assert isinstance(await flight.run("k", call), Led)
    assert calls == 1
