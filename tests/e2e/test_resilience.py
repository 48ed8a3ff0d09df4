"""Upstream faults: safe retries, key rotation, the breaker, never a retry after a timeout."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import UPSTREAM_KEY, FakeUpstream, Gateway, GatewayStarter

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("status", [502, 503, 429])
def test_retryable_failures_are_retried(
    gateway: Gateway, upstream: FakeUpstream, status: int
) -> None:
    key = gateway.create_key()["key"]
    upstream.control(fail=[{"status": status, "times": 2}])
    response = gateway.post({"model": "dall-e-2", "prompt": f"retry {status}"}, key)
    assert response.status_code == 201
    assert upstream.calls() == 3


def test_retries_give_up_with_the_error_and_refund(
    gateway: Gateway, upstream: FakeUpstream
) -> None:
    created = gateway.create_key(images_per_day=1)
    upstream.control(fail=[{"status": 503, "times": 3}])
    response = gateway.post({"model": "dall-e-2", "prompt": "gives up"}, created["key"])
    assert response.status_code == 502
    assert upstream.calls() == 3
    assert gateway.post({"model": "dall-e-2", "prompt": "later"}, created["key"]).status_code == 201


@pytest.mark.parametrize("mode", ["html", "malformed", "reset"])
def test_broken_answers_are_not_retried(
    gateway: Gateway, upstream: FakeUpstream, mode: str
) -> None:
    key = gateway.create_key(images_per_day=1)["key"]
    upstream.control(mode=mode)
    response = gateway.post({"model": "dall-e-2", "prompt": f"broken {mode}"}, key)
    assert response.status_code == 502
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}
    assert upstream.calls() == 1
    upstream.control(mode="normal")
    assert gateway.post({"model": "dall-e-2", "prompt": "refunded"}, key).status_code == 201


def test_refused_key_is_set_aside_and_another_used(
    start_gateway: GatewayStarter, upstream: FakeUpstream
) -> None:
    gw = start_gateway(
        "embedded",
        GATEWAY_UPSTREAM_API_KEY="sk-wrong-upstream-key",
        GATEWAY_UPSTREAM_EXTRA_API_KEYS=UPSTREAM_KEY,
    )
    key = gw.create_key()["key"]
    statuses = [
        gw.post({"model": "dall-e-2", "prompt": f"rot {i}"}, key).status_code for i in range(4)
    ]
    assert statuses == [201] * 4
    assert upstream.calls() == 5


def test_breaker_opens_after_repeated_failures(
    start_gateway: GatewayStarter, upstream: FakeUpstream
) -> None:
    gw = start_gateway(
        "embedded", GATEWAY_UPSTREAM_BREAKER_THRESHOLD="3", GATEWAY_UPSTREAM_BREAKER_COOLDOWN="30"
    )
    key = gw.create_key()["key"]
    upstream.control(fail=[{"status": 500, "times": 10}])
    for i in range(3):
        assert gw.post({"model": "dall-e-2", "prompt": f"b{i}"}, key).status_code == 502
    refused = gw.post({"model": "dall-e-2", "prompt": "b4"}, key)
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "service_unavailable"
    assert upstream.calls() == 3
