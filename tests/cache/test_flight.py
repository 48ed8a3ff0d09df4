"""Single-flight in one process: one call for many; the lock is left to the settlement."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import httpx
import pytest
from pydantic import SecretStr
from starlette.testclient import TestClient

from gateway.cache.flight import Followed, Led, SingleFlight
from gateway.errors import ServiceUnavailable
from gateway.settings.model import Settings
from gateway.store.errors import StorageUnavailable
from gateway.store.memory import MemoryStore
from gateway.store.types import AdmitRequest, Decision, flight_lock
from gateway.web.app import create_app

ADMIN = "admin-token-0123456789-abcdef"


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


async def test_a_follower_whose_wait_ends_never_calls_upstream_itself() -> None:
    store = MemoryStore(None, cache_max_bytes=1000)
    assert await store.flight_acquire(flight_lock("k"), "leader elsewhere", 30)
    flight: SingleFlight[int] = SingleFlight(store, lambda: 0.0, lock_ttl=30, wait=0.2)
    calls = 0

    async def call() -> int:
        nonlocal calls
        calls += 1
        return 1

    with pytest.raises(ServiceUnavailable) as caught:
        await flight.run("k", "follower", call)
    assert calls == 0
    assert caught.value.status == 503 and caught.value.headers["retry-after"]


async def test_an_in_process_follower_whose_wait_ends_never_calls_upstream_itself() -> None:
    store = MemoryStore(None, cache_max_bytes=1000)
    flight: SingleFlight[int] = SingleFlight(store, lambda: 0.0, lock_ttl=30, wait=0.2)
    gate = asyncio.Event()
    calls = 0

    async def call() -> int:
        nonlocal calls
        calls += 1
        await gate.wait()
        return 1

    leader = asyncio.create_task(flight.run("k", "leader", call, holding=True))
    await asyncio.sleep(0)
    with pytest.raises(ServiceUnavailable):
        await asyncio.wait_for(flight.run("k", "follower", call), 5)
    gate.set()
    assert isinstance(await leader, Led)
    assert calls == 1


class LeaderElsewhereThenDown(MemoryStore):
    """Another replica leads the request; then the store fails while this one waits."""

    async def admit(self, request: AdmitRequest) -> Decision:
        return replace(await super().admit(request), leader=False)

    async def flight_acquire(self, name: str, token: str, ttl: float) -> bool:
        return False

    async def flight_wait(self, name: str, timeout: float) -> bool:
        raise StorageUnavailable()


def test_a_follower_the_store_fails_answers_503_without_an_upstream_call() -> None:
    calls = []

    def upstream(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(201, json={"created": 1, "data": [{"url": "https://x/1.png"}]})

    settings = Settings(admin_token=SecretStr(ADMIN), upstream_api_key=SecretStr("k"))
    store = LeaderElsewhereThenDown(None, cache_max_bytes=1000)
    app = create_app(settings, store=store, transport=httpx.MockTransport(upstream))
    with TestClient(app) as client:
        admin = {"authorization": f"Bearer {ADMIN}"}
        created = client.post("/admin/keys", json={"name": "t"}, headers=admin).json()
        response = client.post(
            "/v1/images/generations",
            json={"model": "dall-e-2", "prompt": "the same as the leader's"},
            headers={"authorization": f"Bearer {created['key']}"},
        )
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "store_unavailable"
    assert calls == []
