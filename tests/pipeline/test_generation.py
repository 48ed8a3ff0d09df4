"""The pipeline in process: a cache store that fails never refuses a request."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.testclient import TestClient

from gateway.cache.policy import CacheControl
from gateway.settings.model import Settings
from gateway.store.errors import StorageUnavailable
from gateway.store.memory import MemoryStore
from gateway.store.types import AdmitRequest, Decision, Settled
from gateway.testing.procs import wait_until
from gateway.web.app import create_app

ADMIN = "admin-token-0123456789-abcdef"


class SettleFailsOnce(MemoryStore):
    """Admission works; the first settlement (answer, lock and usage in one step) fails."""

    failed = False

    async def settle(self, *args: Any, **kwargs: Any) -> Settled:
        if not self.failed:
            self.failed = True
            raise StorageUnavailable()
        return await super().settle(*args, **kwargs)


def upstream(request: httpx.Request) -> httpx.Response:
    return httpx.Response(201, json={"created": 1, "data": [{"url": "https://x/1.png"}]})


def test_a_failed_settlement_still_answers_and_is_counted_later() -> None:
    settings = Settings(admin_token=SecretStr(ADMIN), upstream_api_key=SecretStr("k"))
    store = SettleFailsOnce(None, cache_max_bytes=1000)
    app = create_app(settings, store=store, transport=httpx.MockTransport(upstream))
    with TestClient(app) as client:
        admin = {"authorization": f"Bearer {ADMIN}"}
        created = client.post("/admin/keys", json={"name": "t"}, headers=admin).json()
        response = client.post(
            "/v1/images/generations",
            json={"model": "dall-e-2", "prompt": "x"},
            headers={"authorization": f"Bearer {created['key']}"},
        )
        assert response.status_code == 201
        assert response.headers["x-cache"] == "MISS"

        def counted() -> bool:
            usage = client.get(f"/admin/keys/{created['id']}/usage", headers=admin).json()
            return bool(usage["totals"]["images"] == 1)

        wait_until(counted, timeout=10)


class AdmitReplyLost(MemoryStore):
    """The first admission runs in the store, but its reply never reaches the gateway."""

    lost = False
    leaders: list[bool]

    async def admit(self, request: AdmitRequest) -> Decision:
        decision = await super().admit(request)
        self.leaders.append(decision.leader)
        if not self.lost:
            self.lost = True
            raise StorageUnavailable()
        return decision


def test_an_admission_whose_reply_was_lost_gives_its_images_and_lock_back() -> None:
    settings = Settings(
        admin_token=SecretStr(ADMIN), upstream_api_key=SecretStr("k"), cache_wait_seconds=1
    )
    store = AdmitReplyLost(None, cache_max_bytes=1000)
    store.leaders = []
    app = create_app(settings, store=store, transport=httpx.MockTransport(upstream))
    with TestClient(app) as client:
        admin = {"authorization": f"Bearer {ADMIN}"}
        created = client.post(
            "/admin/keys", json={"name": "t", "images_per_day": 1}, headers=admin
        ).json()
        auth = {"authorization": f"Bearer {created['key']}"}
        body = {"model": "dall-e-2", "prompt": "same prompt"}
        lost = client.post("/v1/images/generations", json=body, headers=auth)
        assert lost.status_code == 503
        answers: list[tuple[int, str | None]] = []

        def admitted() -> bool:
            answer = client.post("/v1/images/generations", json=body, headers=auth)
            answers.append((answer.status_code, answer.headers.get("x-cache")))
            return answer.status_code != 429

        wait_until(admitted, timeout=10, what="the lost reservation to be given back")
        assert answers[-1] == (201, "MISS")
        assert store.leaders[0] and store.leaders[-1], "the lost admission's lock was freed"


class DeadStore(MemoryStore):
    """Keys can be read (from the in-process cache), but every decision fails."""

    async def admit(self, request: AdmitRequest) -> Decision:
        raise StorageUnavailable()


def test_fail_open_admits_keys_without_quotas_only() -> None:
    settings = Settings(
        admin_token=SecretStr(ADMIN), upstream_api_key=SecretStr("k"), limits_fail_open=True
    )
    app = create_app(
        settings,
        store=DeadStore(None, cache_max_bytes=1000),
        transport=httpx.MockTransport(upstream),
    )
    with TestClient(app) as client:
        admin = {"authorization": f"Bearer {ADMIN}"}
        per_minute = client.post("/admin/keys", json={"name": "a", "rpm": 5}, headers=admin).json()
        quota = client.post(
            "/admin/keys", json={"name": "b", "images_per_day": 5}, headers=admin
        ).json()
        body = {"model": "dall-e-2", "prompt": "x"}
        opened = client.post(
            "/v1/images/generations",
            json=body,
            headers={"authorization": f"Bearer {per_minute['key']}"},
        )
        assert opened.status_code == 201 and opened.headers["x-cache"] == "BYPASS"
        closed = client.post(
            "/v1/images/generations", json=body, headers={"authorization": f"Bearer {quota['key']}"}
        )
        assert closed.status_code == 503
        assert closed.json()["error"]["code"] == "store_unavailable"
        assert closed.headers["retry-after"] == "1"


class SettleHangsOnce(MemoryStore):
    """The first settlement never finishes (the gateway is shutting down around it)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hung = asyncio.Event()

    async def settle(self, *args: Any, **kwargs: Any) -> Settled:
        if not self.hung.is_set():
            self.hung.set()
            await asyncio.get_running_loop().create_future()
        return await super().settle(*args, **kwargs)


async def test_a_settlement_cancelled_midway_is_finished_in_the_background() -> None:
    settings = Settings(admin_token=SecretStr(ADMIN), upstream_api_key=SecretStr("k"))
    store = SettleHangsOnce(None, cache_max_bytes=1000)
    app = create_app(settings, store=store, transport=httpx.MockTransport(upstream))
    async with app.router.lifespan_context(app) as state:
        assert state is not None
        services = state["services"]
        record, key = await services.keys.create("t", limits={"images_per_day": 1})
        request = asyncio.ensure_future(
            services.images.generate(
                record,
                key,
                {"model": "dall-e-2", "prompt": "x"},
                cache_control=CacheControl(),
                request_id="r1",
            )
        )
        await store.hung.wait()
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request
        deadline = asyncio.get_running_loop().time() + 10
        while True:
            usage = await store.usage(record.id, services.calendar.recent_days(1))
            if usage[0].counters.get("images") == 1:
                break
            assert asyncio.get_running_loop().time() < deadline, "never settled"
            await asyncio.sleep(0.01)
        states = await store.limit_states(record.id, record.limits, services.calendar.window())
        assert states["images_per_day"].remaining == 0
