"""What the console reads, over HTTP on both stores: key search and paging, the overview."""

from __future__ import annotations

import secrets
import signal
from decimal import Decimal
from typing import Any

import httpx
import pytest

from gateway.testing.procs import start_redis, wait_until
from tests.e2e.conftest import FakeUpstream, Gateway, GatewayStarter

pytestmark = pytest.mark.e2e
IMAGE = {"model": "dall-e-2", "prompt": "a console test"}


def listing(gateway: Gateway, **params: Any) -> dict[str, Any]:
    answer = gateway.admin("GET", "/admin/keys", params=params)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def test_search_pages_through_matching_keys_in_creation_order(gateway: Gateway) -> None:
    prefix = f"Search-{secrets.token_hex(3)}"
    created = [gateway.create_key(name=f"{prefix}-{i}") for i in range(5)]
    gateway.create_key(name=f"other-{prefix}")
    names: list[list[str]] = []
    after = None
    while True:
        page = listing(gateway, q=prefix.upper(), limit=2, **({"after": after} if after else {}))
        names.append([k["name"] for k in page["data"]])
        if not page["has_more"]:
            assert page["next_after"] is None
            break
        after = page["next_after"]
        assert after == page["data"][-1]["id"]
    assert names == [
        [f"{prefix}-0", f"{prefix}-1"],
        [f"{prefix}-2", f"{prefix}-3"],
        [f"{prefix}-4"],
    ]

    gateway.admin("DELETE", f"/admin/keys/{created[1]['id']}")
    gateway.admin("PATCH", f"/admin/keys/{created[2]['id']}", json={"disabled": True})
    revoked = listing(gateway, q=prefix, status="revoked")["data"]
    disabled = listing(gateway, q=prefix, status="disabled")["data"]
    active = listing(gateway, q=prefix, status="active")["data"]
    assert [k["id"] for k in revoked] == [created[1]["id"]]
    assert [k["id"] for k in disabled] == [created[2]["id"]]
    assert [k["name"] for k in active] == [f"{prefix}-{i}" for i in (0, 3, 4)]
    for key in revoked + disabled + active:
        assert "key" not in key and "key_hash" not in key


def test_the_unpaged_listing_keeps_its_shape(gateway: Gateway) -> None:
    created = gateway.create_key(name="unpaged")
    everything = listing(gateway)
    assert everything["object"] == "list" and everything["has_more"] is False
    ids = [k["id"] for k in everything["data"]]
    assert created["id"] in ids
    assert (
        everything["data"][ids.index(created["id"])]
        == gateway.admin("GET", f"/admin/keys/{created['id']}").json()
    )
    assert "usage_today" not in everything["data"][0]


def test_include_usage_adds_todays_counters(gateway: Gateway, upstream: FakeUpstream) -> None:
    created = gateway.create_key(name=f"usage-{secrets.token_hex(3)}", rpm=2)
    for _ in range(3):
        gateway.post(IMAGE, created["key"], headers={"cache-control": "no-store"})
    (key,) = listing(gateway, q=created["name"], include="usage")["data"]
    assert key["usage_today"]["requests"] == 3
    assert key["usage_today"]["images"] == 2
    assert key["usage_today"]["refused"] == 1


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"status": "sleeping"}, "status"),
        ({"after": "key_nope"}, "after"),
        ({"q": "x" * 201}, "q"),
        ({"include": "secrets"}, "include"),
    ],
)
def test_bad_listing_parameters_are_400s_naming_them(
    gateway: Gateway, params: dict[str, str], param: str
) -> None:
    answer = gateway.admin("GET", "/admin/keys", params=params)
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == param


def overview(gateway: Gateway) -> dict[str, Any]:
    answer = gateway.admin("GET", "/admin/overview")
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def test_the_overview_counts_todays_requests_refusals_and_upstream_calls(
    gateway: Gateway, upstream: FakeUpstream
) -> None:
    before = overview(gateway)
    key = gateway.create_key(name="overview", rpm=3)["key"]
    prompt = {**IMAGE, "prompt": f"overview {secrets.token_hex(4)}"}
    assert gateway.post(prompt, key).status_code == 201
    assert gateway.post(prompt, key).headers["x-cache"] == "HIT"
    assert gateway.post({**prompt, "n": 2}, key).status_code == 201
    assert gateway.post(prompt, key).status_code == 429
    after = overview(gateway)

    def grew(section: str, name: str) -> int:
        return int(after[section].get(name, 0)) - int(before[section].get(name, 0))

    assert grew("today", "requests") == 4
    assert grew("today", "images") == 3
    assert grew("today", "cache_hits") == 1
    assert grew("today", "refused") == 1
    assert grew("refusals", "rate") == 1
    assert grew("upstream", "calls") == 2 and grew("upstream", "failed") == 0
    assert grew("keys", "total") == 1 and grew("keys", "active") == 1
    today = after["today"]
    assert after["cache_hit_ratio"] == round(
        today["cache_hits"] / (today["cache_hits"] + today["cache_misses"]), 4
    )
    assert after["store"]["status"] == "ok"
    assert after["store"]["kind"] == ("redis" if gateway.mode == "redis" else "embedded")
    assert after["cache"]["entries"] >= 1


def test_the_overview_says_the_store_is_down_instead_of_failing(
    start_gateway: GatewayStarter, upstream: FakeUpstream
) -> None:
    redis = start_redis()
    try:
        gw = start_gateway(
            "embedded",
            GATEWAY_REDIS_URL=f"redis://127.0.0.1:{redis.port}/0",
            GATEWAY_REDIS_SOCKET_TIMEOUT="0.3",
            GATEWAY_REDIS_CONNECT_TIMEOUT="0.3",
        )
        gw.create_key(name="before the outage")
        redis.popen.send_signal(signal.SIGSTOP)
        try:
            answer = gw.admin("GET", "/admin/overview")
        finally:
            redis.popen.send_signal(signal.SIGCONT)
        assert answer.status_code == 200
        body = answer.json()
        assert body["store"]["status"] == "down" and body["store"]["kind"] == "redis"
        assert body["today"] is None and body["keys"] is None
        assert "upstream" in body and "refusals" in body
        wait_until(
            lambda: httpx.get(f"{gw.url}/readyz", timeout=10).status_code == 200,
            10,
            "the store to answer again",
        )
        assert gw.admin("GET", "/admin/overview").json()["store"]["status"] == "ok"
    finally:
        redis.stop()


def test_teams_with_usage_and_the_overview_say_what_was_spent_today(
    gateway: Gateway, upstream: FakeUpstream
) -> None:
    spent_before = overview(gateway)["today"]["spend_usd"]
    team = gateway.admin("POST", "/admin/teams", json={"name": f"t-{secrets.token_hex(3)}"})
    team_id = team.json()["id"]
    member = gateway.create_key(team_id=team_id)
    prompt = {**IMAGE, "prompt": f"team spend {secrets.token_hex(4)}"}
    charged = [gateway.post(prompt, member["key"]) for _ in range(2)]
    assert [a.headers["x-cache"] for a in charged] == ["MISS", "HIT"]
    cost = charged[0].headers["x-gateway-cost-usd"]
    assert float(cost) > 0

    listing = gateway.admin("GET", "/admin/teams", params={"include": "usage"}).json()["data"]
    (found,) = [t for t in listing if t["id"] == team_id]
    assert found["keys"] == 1
    assert found["usage_today"]["spend_usd"] == cost
    assert (found["usage_today"]["requests"], found["usage_today"]["cache_hits"]) == (2, 1)
    spent_after = overview(gateway)["today"]["spend_usd"]
    assert Decimal(spent_after) - Decimal(spent_before) == Decimal(cost)
