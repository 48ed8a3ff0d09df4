"""Limits and quotas as clients see them: 429s, headers, refunds, usage, many replicas."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest

from gateway.testing.procs import wait_until
from tests.e2e.conftest import FakeUpstream, Gateway, GatewayStarter
from tests.e2e.test_lifecycle import cli

pytestmark = pytest.mark.e2e


def test_rate_limit_is_rate_limit_error_with_retry_after(
    gateway: Gateway, upstream: FakeUpstream
) -> None:
    key = gateway.create_key(rpm=1)["key"]
    first = gateway.post({"model": "dall-e-2", "prompt": "a"}, key)
    assert first.status_code == 201
    assert first.headers["x-ratelimit-limit-requests"] == "1"
    assert first.headers["x-ratelimit-remaining-requests"] == "0"
    assert first.headers["x-ratelimit-reset-requests"].endswith("s")
    refused = gateway.post({"model": "dall-e-2", "prompt": "b"}, key)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    with pytest.raises(openai.RateLimitError) as caught:
        gateway.client(key).images.generate(model="dall-e-2", prompt="c")
    assert caught.value.code == "rate_limit_exceeded"
    assert upstream.calls() == 1


def test_sdk_waits_retry_after_then_succeeds(gateway: Gateway, upstream: FakeUpstream) -> None:
    created = gateway.create_key(rpm=20)
    key = created["key"]
    client = gateway.client(key, max_retries=2)

    def refused() -> int:
        usage = gateway.admin("GET", f"/admin/keys/{created['id']}/usage").json()
        return int(usage["totals"]["refused"])

    for _ in range(100):
        if gateway.post({"model": "dall-e-2", "prompt": "a"}, key).status_code == 429:
            break
    else:
        pytest.fail("rpm=20 never refused")
    assert client.images.generate(model="dall-e-2", prompt="b").data
    assert refused() >= 2


def test_quota_is_insufficient_quota_and_sdk_does_not_retry(
    gateway: Gateway, upstream: FakeUpstream
) -> None:
    key = gateway.create_key(images_per_day=2)["key"]
    client = gateway.client(key, max_retries=3)
    client.images.generate(model="dall-e-2", prompt="a", n=2)
    with pytest.raises(openai.RateLimitError) as caught:
        client.images.generate(model="dall-e-2", prompt="b")
    assert caught.value.code == "insufficient_quota"
    assert caught.value.response.headers["x-should-retry"] == "false"
    assert upstream.calls() == 1
    response = gateway.post({"model": "dall-e-2", "prompt": "c"}, key)
    assert response.headers["x-ratelimit-remaining-images"] == "0"


def test_images_are_counted_by_n(gateway: Gateway, upstream: FakeUpstream) -> None:
    key = gateway.create_key(images_per_minute=5)["key"]
    ok = gateway.post({"model": "dall-e-2", "prompt": "a", "n": 3}, key)
    assert ok.headers["x-ratelimit-remaining-images"] == "2"
    refused = gateway.post({"model": "dall-e-2", "prompt": "b", "n": 3}, key)
    assert refused.status_code == 429
    assert gateway.post({"model": "dall-e-2", "prompt": "c", "n": 2}, key).status_code == 201


@pytest.mark.parametrize("status", [500, 504])
def test_failed_upstream_call_gives_the_images_back(
    gateway: Gateway, upstream: FakeUpstream, status: int
) -> None:
    created = gateway.create_key(images_per_day=1)
    upstream.control(fail=[{"status": status, "times": 1}])
    assert gateway.post({"model": "dall-e-2", "prompt": "a"}, created["key"]).status_code in (
        502,
        504,
    )
    assert gateway.post({"model": "dall-e-2", "prompt": "a"}, created["key"]).status_code == 201
    usage = gateway.admin("GET", f"/admin/keys/{created['id']}/usage").json()
    assert usage["totals"]["images"] == 1 and usage["totals"]["requests"] == 2


def test_timeout_and_disconnect_give_the_images_back(
    start_gateway: GatewayStarter, upstream: FakeUpstream
) -> None:
    gw = start_gateway("embedded", GATEWAY_UPSTREAM_READ_TIMEOUT="0.5")
    created = gw.create_key(images_per_day=1)
    upstream.control(latency=2)
    assert gw.post({"model": "dall-e-2", "prompt": "a"}, created["key"]).status_code == 504
    upstream.control(latency=0.4)
    with pytest.raises(httpx.ReadTimeout):
        gw.post({"model": "dall-e-2", "prompt": "b"}, created["key"], timeout=0.1)

    def refunded() -> bool:
        usage = gw.admin("GET", f"/admin/keys/{created['id']}/usage").json()
        return bool(usage["limits"]["images_per_day"]["remaining"] == 1)

    wait_until(refunded, 5, "the disconnected request's refund")
    upstream.control(latency=0)
    assert gw.post({"model": "dall-e-2", "prompt": "c"}, created["key"]).status_code == 201


def test_usage_endpoints(gateway: Gateway, upstream: FakeUpstream) -> None:
    created = gateway.create_key(images_per_month=10)
    gateway.post({"model": "dall-e-2", "prompt": "u", "n": 2}, created["key"])
    gateway.post({"model": "dall-e-2", "prompt": "u", "n": 2}, created["key"])
    own = httpx.get(
        f"{gateway.url}/v1/usage", headers={"authorization": f"Bearer {created['key']}"}, timeout=5
    ).json()
    assert own["totals"]["requests"] == 2
    assert own["totals"]["images"] == 2 and own["totals"]["cache_hits"] == 1
    assert own["totals"]["cached_images"] == 2
    assert own["limits"]["images_per_month"]["remaining"] == 8
    assert own["limits"]["rpm"] is None
    printed = cli("usage", created["id"], url=gateway.url)
    assert printed.returncode == 0 and "images_per_month" in printed.stdout


def test_four_replicas_admit_exactly_the_quota(
    start_gateway: GatewayStarter, upstream: FakeUpstream
) -> None:
    replicas = [start_gateway("redis") for _ in range(4)]
    created = replicas[0].create_key(images_per_day=25, rpm=1000)

    def fire(i: int) -> int:
        gw = replicas[i % 4]
        return gw.post(
            {"model": "dall-e-2", "prompt": f"unique {i}"},
            created["key"],
            headers={"cache-control": "no-store"},
        ).status_code

    with ThreadPoolExecutor(max_workers=200) as pool:
        statuses = list(pool.map(fire, range(200)))
    assert statuses.count(201) == 25
    assert statuses.count(429) == 175
    assert upstream.calls() == 25
    usage = replicas[1].admin("GET", f"/admin/keys/{created['id']}/usage").json()
    assert usage["totals"]["images"] == 25
    assert usage["totals"]["requests"] == 200
