"""The response cache end to end: keys, scope, what is stored, single-flight."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.conftest import FakeUpstream, Gateway, GatewayStarter

pytestmark = pytest.mark.e2e


def test_equivalent_requests_hit(gateway: Gateway, upstream: FakeUpstream) -> None:
    key = gateway.create_key()["key"]
    first = gateway.post({"model": "dall-e-2", "prompt": "same"}, key)
    assert first.headers["x-cache"] == "MISS"
    second = gateway.post(
        {
            "size": "1024x1024",
            "response_format": "url",
            "n": 1,
            "prompt": "same",
            "model": "dall-e-2",
            "user": "someone",
        },
        key,
    )
    assert second.headers["x-cache"] == "HIT" and "age" in second.headers
    assert second.json()["data"] == first.json()["data"]
    assert upstream.calls() == 1


@pytest.mark.parametrize(
    "change",
    [
        {"prompt": "same "},
        {"n": 2},
        {"size": "512x512"},
        {"quality": "hd"},
        {"response_format": "b64_json"},
    ],
)
def test_any_output_field_change_misses(
    gateway: Gateway, upstream: FakeUpstream, change: dict[str, object]
) -> None:
    key = gateway.create_key()["key"]
    base = {"model": "dall-e-2", "prompt": "same"}
    gateway.post(base, key)
    assert gateway.post({**base, **change}, key).headers["x-cache"] == "MISS"
    assert upstream.calls() == 2


def test_per_key_scope_never_shares(gateway: Gateway, upstream: FakeUpstream) -> None:
    one, two = gateway.create_key()["key"], gateway.create_key()["key"]
    gateway.post({"model": "dall-e-2", "prompt": "tenant"}, one)
    assert gateway.post({"model": "dall-e-2", "prompt": "tenant"}, two).headers["x-cache"] == (
        "MISS"
    )
    assert upstream.calls() == 2


def test_shared_scope_shares(start_gateway: GatewayStarter, upstream: FakeUpstream) -> None:
    gw = start_gateway("redis", GATEWAY_CACHE_SCOPE="shared")
    one, two = gw.create_key()["key"], gw.create_key()["key"]
    gw.post({"model": "dall-e-2", "prompt": "shared-scope"}, one)
    assert gw.post({"model": "dall-e-2", "prompt": "shared-scope"}, two).headers["x-cache"] == (
        "HIT"
    )


@pytest.mark.parametrize("mode", ["short", "empty"])
def test_short_answers_and_errors_are_not_cached(
    gateway: Gateway, upstream: FakeUpstream, mode: str
) -> None:
    key = gateway.create_key()["key"]
    body = {"model": "dall-e-2", "prompt": f"incomplete {mode}", "n": 2}
    upstream.control(mode=mode)
    gateway.post(body, key)
    upstream.control(mode="normal", fail=[{"status": 500, "times": 1}])
    assert gateway.post(body, key).status_code == 502
    assert gateway.post(body, key).headers["x-cache"] == "MISS"
    assert gateway.post(body, key).headers["x-cache"] == "HIT"


def test_link_expiring_soon_is_not_cached_past_it(gateway: Gateway, upstream: FakeUpstream) -> None:
    key = gateway.create_key()["key"]
    upstream.control(expiry_seconds=30)
    gateway.post({"model": "dall-e-2", "prompt": "expiring"}, key)
    assert (
        gateway.post({"model": "dall-e-2", "prompt": "expiring"}, key).headers["x-cache"] == "MISS"
    )


def test_no_cache_and_no_store(gateway: Gateway, upstream: FakeUpstream) -> None:
    key = gateway.create_key()["key"]
    body = {"model": "dall-e-2", "prompt": "directives"}
    stored = gateway.post(body, key, headers={"cache-control": "no-store"})
    assert stored.headers["x-cache"] == "BYPASS"
    assert gateway.post(body, key).headers["x-cache"] == "MISS"
    fresh = gateway.post(body, key, headers={"cache-control": "no-cache"})
    assert fresh.headers["x-cache"] == "MISS"
    hit = gateway.post(body, key)
    assert hit.headers["x-cache"] == "HIT" and hit.json() == fresh.json()
    assert upstream.calls() == 3


def test_key_with_cache_off_bypasses(gateway: Gateway, upstream: FakeUpstream) -> None:
    key = gateway.create_key(cache=False)["key"]
    gateway.post({"model": "dall-e-2", "prompt": "off"}, key)
    assert gateway.post({"model": "dall-e-2", "prompt": "off"}, key).headers["x-cache"] == "BYPASS"


def test_purge_one_key(gateway: Gateway, upstream: FakeUpstream) -> None:
    created = gateway.create_key()
    gateway.post({"model": "dall-e-2", "prompt": "purge"}, created["key"])
    purged = gateway.admin("DELETE", "/admin/cache", params={"key_id": created["id"]}).json()
    assert purged["deleted"] == 1
    assert (
        gateway.post({"model": "dall-e-2", "prompt": "purge"}, created["key"]).headers["x-cache"]
        == "MISS"
    )


def test_fifty_identical_requests_over_four_replicas_make_one_call(
    start_gateway: GatewayStarter, upstream: FakeUpstream
) -> None:
    replicas = [start_gateway("redis") for _ in range(4)]
    created = replicas[0].create_key(images_per_day=100)
    upstream.control(latency=0.5)

    def fire(i: int) -> list[str]:
        response = replicas[i % 4].post(
            {"model": "dall-e-2", "prompt": "burst", "n": 2}, created["key"]
        )
        assert response.status_code in (200, 201), response.text
        return [item["url"] for item in response.json()["data"]]

    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(fire, range(50)))
    assert upstream.calls() == 1
    assert all(answer == answers[0] for answer in answers)
    usage = replicas[2].admin("GET", f"/admin/keys/{created['id']}/usage").json()
    assert usage["totals"]["images"] == 2
    assert usage["limits"]["images_per_day"]["remaining"] == 98


def test_failed_leader_does_not_strand_waiters(
    start_gateway: GatewayStarter, upstream: FakeUpstream
) -> None:
    replicas = [start_gateway("redis") for _ in range(2)]
    key = replicas[0].create_key()["key"]
    upstream.control(latency=0.3, fail=[{"status": 500, "times": 1}])

    def fire(i: int) -> int:
        return (
            replicas[i % 2].post({"model": "dall-e-2", "prompt": "leader fails"}, key).status_code
        )

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(fire, range(10)))
    assert statuses.count(502) == 1
    assert statuses.count(502) + statuses.count(201) + statuses.count(200) == 10
    assert upstream.calls() == 2


def test_a_hit_replays_the_status_of_the_miss(gateway: Gateway, upstream: FakeUpstream) -> None:
    key = gateway.create_key()["key"]
    miss = gateway.post({"model": "dall-e-2", "prompt": "status"}, key)
    hit = gateway.post({"model": "dall-e-2", "prompt": "status"}, key)
    assert (miss.status_code, miss.headers["x-cache"]) == (201, "MISS")
    assert (hit.status_code, hit.headers["x-cache"]) == (201, "HIT")
    assert hit.content == miss.content
