"""What the upstream reports a call cost reaches the pipeline's result (the money issue
bills from it), under the catalogue id; an answer from the cache cost nothing."""

from __future__ import annotations

import httpx
from pydantic import SecretStr
from starlette.testclient import TestClient

from gateway.cache.policy import CacheControl
from gateway.pipeline.result import GenerationResult
from gateway.settings.model import Settings
from gateway.store.memory import MemoryStore
from gateway.web.app import create_app

ADMIN = "admin-token-0123456789-abcdef"
ANSWER = {
    "data": [{"url": "https://x/1.png", "b64_json": None}],
    "meta": {"usage": {"credits_used": 107341, "usd_spent": 0.0536705}},
}


def test_reported_cost_reaches_the_result() -> None:
    settings = Settings(admin_token=SecretStr(ADMIN), upstream_api_key=SecretStr("k"))
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=ANSWER))
    app = create_app(
        settings, store=MemoryStore(None, cache_max_bytes=100_000), transport=transport
    )
    with TestClient(app) as client:
        admin = {"authorization": f"Bearer {ADMIN}"}
        key = client.post("/admin/keys", json={"name": "t"}, headers=admin).json()["key"]
        images = client.app_state["services"].images
        keys = client.app_state["services"].keys

        async def generate() -> GenerationResult:
            record = await keys.authenticate(key)
            result: GenerationResult = await images.generate(
                record,
                key,
                {"model": "gpt-image-2", "prompt": "fox"},
                cache_control=CacheControl.parse(None),
                request_id="req-1",
            )
            return result

        portal = client.portal
        assert portal is not None
        first = portal.call(generate)
        assert first.cache == "MISS" and first.model == "openai/gpt-image-2"
        assert first.cost is not None and first.cost.source == "body"
        assert first.cost.credits == 107341 and first.cost.usd_nanos == 53_670_500
        again = portal.call(generate)
        assert again.cache == "HIT" and again.cost is None
