"""Key rotation against real gateways: ``gateway keys rotate`` as an operator types it, and
two replicas on one Redis that both honour the grace period and both end it."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from gateway.testing.procs import wait_until
from tests.e2e.conftest import FakeUpstream, Gateway, GatewayStarter
from tests.e2e.test_lifecycle import cli

pytestmark = pytest.mark.e2e

GRACE = 3.0


def status(gw: Gateway, key: str, prompt: str = "a rotated lighthouse") -> int:
    return gw.post({"model": "dall-e-2", "prompt": prompt}, key).status_code


def test_an_operator_rotates_a_key_from_the_cli(gateway: Gateway, upstream: FakeUpstream) -> None:
    url = gateway.url
    name = f"cli-rotate-{gateway.mode}"
    created = gateway.create_key(name=name, images_per_day=9)
    assert status(gateway, created["key"]) == 201

    rotated = cli("keys", "rotate", name, "--grace", "1h", url=url)
    assert rotated.returncode == 0, rotated.stderr
    (line,) = [row for row in rotated.stdout.splitlines() if row.startswith("key: ")]
    first = line.removeprefix("key: ")
    assert first.startswith("gwk_") and rotated.stdout.count(first) == 1
    assert "The old key works for 1h more." in rotated.stdout
    assert status(gateway, created["key"]) == 201 and status(gateway, first) == 201

    again = cli("keys", "rotate", created["id"], "--json", url=url)
    assert again.returncode == 0, again.stderr
    second = json.loads(again.stdout)
    assert (second["id"], second["name"], second["images_per_day"]) == (created["id"], name, 9)
    assert status(gateway, created["key"]) == 401 and status(gateway, first) == 401
    assert status(gateway, second["key"]) == 201
    usage = gateway.admin("GET", f"/admin/keys/{created['id']}/usage", params={"days": 1}).json()
    assert usage["totals"]["requests"] == 4

    bad = cli("keys", "rotate", name, "--grace", "soon", url=url)
    assert bad.returncode == 2 and "'soon' is not a duration" in bad.stderr
    too_long = cli("keys", "rotate", name, "--grace", "8d", url=url)
    assert too_long.returncode == 1 and "grace_seconds" in too_long.stderr
    assert status(gateway, second["key"]) == 201


def test_two_replicas_honour_the_grace_and_both_end_it(
    start_gateway: GatewayStarter, upstream: FakeUpstream
) -> None:
    replicas = [start_gateway("redis", GATEWAY_KEY_CACHE_SECONDS="600") for _ in range(2)]
    first, second = replicas
    created = first.create_key(name="replicated")
    old = created["key"]
    for gw in replicas:
        assert status(gw, old) == 201
        assert status(gw, old, "cached now") == 201

    asked = time.time()
    answer = first.admin(
        "POST", f"/admin/keys/{created['id']}/rotate", json={"grace_seconds": int(GRACE)}
    )
    assert answer.status_code == 200, answer.text
    new = answer.json()["key"]
    for gw in replicas:
        assert status(gw, new) == 201
    refused_at: dict[str, float] = {}

    def refused_everywhere() -> bool:
        for gw in replicas:
            if gw.url in refused_at:
                continue
            code = status(gw, old)
            if code == 401:
                refused_at[gw.url] = time.time()
            else:
                assert code == 201
        return len(refused_at) == len(replicas)

    wait_until(refused_everywhere, timeout=GRACE + 10, what="the old key to be refused")
    assert all(at >= asked + GRACE for at in refused_at.values())
    for gw in replicas:
        assert status(gw, new, "after the grace") == 201
        models = httpx.get(
            f"{gw.url}/v1/models", headers={"authorization": f"Bearer {old}"}, timeout=10
        )
        assert models.json()["error"]["code"] == "invalid_api_key"

    again = second.admin("POST", f"/admin/keys/{created['id']}/rotate")
    assert again.status_code == 200, again.text
    for gw in replicas:
        assert status(gw, new, "rotated again") == 401
        assert status(gw, again.json()["key"], "rotated again") == 201
