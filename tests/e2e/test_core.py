"""The core path end to end: real gateway processes, the fake upstream, the openai SDK."""

from __future__ import annotations

import base64

import httpx
import openai
import pytest
import requests

from tests.e2e.conftest import UPSTREAM_KEY, FakeUpstream, Gateway, GatewayStarter

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
pytestmark = pytest.mark.e2e


def test_sdk_generates_two_urls(gateway: Gateway, upstream: FakeUpstream) -> None:
    key = gateway.create_key()["key"]
    result = gateway.client(key).images.generate(
        model="dall-e-2", prompt="a red fox", n=2, size="512x512"
    )
    assert result.data is not None and len(result.data) == 2
    for image in result.data:
        assert image.url is not None
        fetched = httpx.get(image.url, timeout=5)
        assert fetched.content.startswith(PNG_SIGNATURE)
    assert upstream.last_body() == {
        "model": "dall-e-2",
        "prompt": "a red fox",
        "n": 2,
        "size": "512x512",
    }


def test_sdk_b64_json(gateway: Gateway, upstream: FakeUpstream) -> None:
    key = gateway.create_key()["key"]
    result = gateway.client(key).images.generate(
        model="dall-e-2", prompt="a blue whale", n=2, response_format="b64_json"
    )
    assert result.data is not None and len(result.data) == 2
    for image in result.data:
        assert image.b64_json is not None
        assert base64.b64decode(image.b64_json).startswith(PNG_SIGNATURE)


def test_seed_quick_example_with_requests(gateway: Gateway, upstream: FakeUpstream) -> None:
    key = gateway.create_key()["key"]
    response = requests.post(
        f"{gateway.url}/v1/images/generations",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        json={
            "prompt": "A T-Rex relaxing on a beach, lying on a sun lounger and wearing sunglasses.",
            "model": "dall-e-2",
            "quality": "hd",
        },
        timeout=30,
    )
    response.raise_for_status()
    data = response.json()
    assert len(data["data"]) == 1 and data["data"][0]["url"].startswith("http")
    assert upstream.last_body()["quality"] == "hd"


def test_upstream_sees_gateway_key_and_request_id(gateway: Gateway, upstream: FakeUpstream) -> None:
    key = gateway.create_key()["key"]
    response = gateway.post(
        {"model": "dall-e-2", "prompt": "id"},
        key,
        headers={"x-request-id": "req-abc-123", "cookie": "secret=1"},
    )
    assert response.status_code == 201
    assert response.headers["x-request-id"] == "req-abc-123"
    seen = upstream.stats()["headers"][-1]
    assert seen["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert seen["x-request-id"] == "req-abc-123"
    assert "cookie" not in seen
    generated = gateway.post({"model": "dall-e-2", "prompt": "id2"}, key)
    assert len(generated.headers["x-request-id"]) >= 16


@pytest.mark.parametrize("key", [None, "gwk_not-a-real-key-0000000000000000"])
def test_bad_key_is_authentication_error(gateway: Gateway, key: str | None) -> None:
    response = gateway.post({"model": "dall-e-2", "prompt": "x"}, key)
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "invalid_api_key"
    assert set(error) == {"message", "type", "param", "code"}
    with pytest.raises(openai.AuthenticationError) as caught:
        gateway.client(key or "wrong").images.generate(model="dall-e-2", prompt="x")
    assert caught.value.code == "invalid_api_key"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "dall-e-2", "prompt": "x", "n": 11}, "n"),
        ({"model": "dall-e-2", "prompt": "x", "n": "2"}, "n"),
        ({"model": "dall-e-2", "prompt": "x", "size": "640x480"}, "size"),
        ({"model": "dall-e-2", "prompt": "x" * 1001}, "prompt"),
        ({"model": "dall-e-2"}, "prompt"),
        ({"model": "dall-e-2", "prompt": "x", "response_format": "png"}, "response_format"),
        ({"model": "no-such-model", "prompt": "x"}, "model"),
        ({"prompt": "x"}, "model"),
    ],
)
def test_bad_fields_are_bad_request_with_param(
    gateway: Gateway, upstream: FakeUpstream, body: dict[str, object], param: str
) -> None:
    key = gateway.create_key()["key"]
    response = gateway.post(body, key)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert upstream.calls() == 0


def test_sdk_bad_request_names_param(gateway: Gateway) -> None:
    key = gateway.create_key()["key"]
    with pytest.raises(openai.BadRequestError) as caught:
        gateway.client(key).images.generate(model="dall-e-2", prompt="x", n=11)
    assert caught.value.param == "n"


def test_model_outside_allow_list_is_permission_denied(gateway: Gateway) -> None:
    key = gateway.create_key(models=["dall-e-3"])["key"]
    with pytest.raises(openai.PermissionDeniedError) as caught:
        gateway.client(key).images.generate(model="dall-e-2", prompt="x")
    assert caught.value.status_code == 403
    listed = gateway.client(key).models.list()
    assert [m.id for m in listed.data] == ["dall-e-3"]


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (b"{not json", 400),
        (b"[1, 2]", 400),
        (b'"text"', 400),
        (b"", 400),
        (b'{"model": "dall-e-2", "prompt": "' + b"x" * 2_000_000 + b'"}', 413),
    ],
)
def test_malformed_bodies(gateway: Gateway, content: bytes, status: int) -> None:
    key = gateway.create_key()["key"]
    response = httpx.post(
        f"{gateway.url}/v1/images/generations",
        content=content,
        headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
        timeout=10,
    )
    assert response.status_code == status
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_unknown_route_and_wrong_method(gateway: Gateway) -> None:
    missing = httpx.get(f"{gateway.url}/v1/nothing-here", timeout=5)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    wrong = httpx.get(f"{gateway.url}/v1/images/generations", timeout=5)
    assert wrong.status_code == 405
    assert wrong.json()["error"]["type"] == "invalid_request_error"


def test_revoked_key_is_refused_at_once(gateway: Gateway, upstream: FakeUpstream) -> None:
    created = gateway.create_key()
    client = gateway.client(created["key"])
    client.images.generate(model="dall-e-2", prompt="before")
    assert gateway.admin("DELETE", f"/admin/keys/{created['id']}").status_code == 200
    with pytest.raises(openai.AuthenticationError):
        client.images.generate(model="dall-e-2", prompt="after")
    assert upstream.calls() == 1


def test_disabled_then_enabled_key(gateway: Gateway) -> None:
    created = gateway.create_key()
    client = gateway.client(created["key"])
    gateway.admin("PATCH", f"/admin/keys/{created['id']}", json={"disabled": True})
    with pytest.raises(openai.AuthenticationError):
        client.images.generate(model="dall-e-2", prompt="x")
    gateway.admin("PATCH", f"/admin/keys/{created['id']}", json={"disabled": False})
    assert client.images.generate(model="dall-e-2", prompt="x").data


def test_expired_key_is_refused(gateway: Gateway) -> None:
    created = gateway.create_key(expires_at="2020-01-01T00:00:00Z")
    with pytest.raises(openai.AuthenticationError) as caught:
        gateway.client(created["key"]).images.generate(model="dall-e-2", prompt="x")
    assert "expired" in str(caught.value)


def test_upstream_400_passes_message(gateway: Gateway, upstream: FakeUpstream) -> None:
    key = gateway.create_key()["key"]
    upstream.control(
        fail=[{"status": 400, "times": 1, "body": {"message": "Prompt rejected by safety system"}}]
    )
    with pytest.raises(openai.BadRequestError) as caught:
        gateway.client(key).images.generate(model="dall-e-2", prompt="x")
    assert "Prompt rejected by safety system" in str(caught.value)


@pytest.mark.parametrize("status", [401, 403])
def test_upstream_auth_failure_is_502_without_key(
    gateway: Gateway, upstream: FakeUpstream, status: int
) -> None:
    key = gateway.create_key()["key"]
    upstream.control(fail=[{"status": status, "times": 1}])
    response = gateway.post({"model": "dall-e-2", "prompt": "x"}, key)
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_auth_failed"
    assert UPSTREAM_KEY not in response.text


def test_admin_api_requires_token(gateway: Gateway) -> None:
    for token in (None, "wrong-token-wrong-token-wrong"):
        headers = {"authorization": f"Bearer {token}"} if token else {}
        response = httpx.get(f"{gateway.url}/admin/keys", headers=headers, timeout=5)
        assert response.status_code == 401
        assert response.json()["error"]["message"] == "Invalid admin token."


def test_admin_key_lifecycle(gateway: Gateway) -> None:
    created = gateway.create_key(name="mobile-app", models=["dall-e-2"], rpm=5)
    assert created["key"].startswith("gwk_") and len(created["key"]) >= 40
    shown = gateway.admin("GET", f"/admin/keys/{created['id']}").json()
    assert "key" not in shown and shown["name"] == "mobile-app" and shown["rpm"] == 5
    assert created["key"] not in gateway.admin("GET", "/admin/keys").text
    patched = gateway.admin(
        "PATCH", f"/admin/keys/{created['id']}", json={"name": "renamed", "images_per_day": 9}
    ).json()
    assert patched["name"] == "renamed" and patched["images_per_day"] == 9
    assert patched["rpm"] == 5
    bad = gateway.admin("PATCH", f"/admin/keys/{created['id']}", json={"rpm": -1})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "rpm"
    unnamed = gateway.admin("PATCH", f"/admin/keys/{created['id']}", json={"name": None})
    assert unnamed.status_code == 400 and unnamed.json()["error"]["param"] == "name"
    assert gateway.admin("GET", "/admin/keys/key_missing").status_code == 404


def test_metrics_count_requests_without_secrets(gateway: Gateway, upstream: FakeUpstream) -> None:
    key = gateway.create_key(rpm=1)["key"]
    gateway.post({"model": "dall-e-2", "prompt": "metrics prompt"}, key)
    gateway.post({"model": "dall-e-2", "prompt": "metrics prompt 2"}, key)
    gateway.post({"model": "dall-e-2", "prompt": "x"}, "gwk_wrong-key-for-metrics")
    text = httpx.get(f"{gateway.url}/metrics", timeout=5).text
    assert (
        'gateway_requests_total{model="dall-e-2",route="/v1/images/generations",'
        'status="201"}' in text
    )
    assert 'gateway_refusals_total{reason="rate"}' in text
    assert 'gateway_refusals_total{reason="auth"}' in text
    assert 'gateway_upstream_calls_total{outcome="ok"}' in text
    assert "gateway_overhead_seconds_bucket" in text
    assert key not in text and "metrics prompt" not in text and UPSTREAM_KEY not in text


def test_revocation_reaches_another_replica_at_once(
    start_gateway: GatewayStarter, upstream: FakeUpstream
) -> None:
    one, two = start_gateway("redis"), start_gateway("redis")
    created = one.create_key()
    client = two.client(created["key"])
    client.images.generate(model="dall-e-2", prompt="warm the key cache")
    assert one.admin("DELETE", f"/admin/keys/{created['id']}").status_code == 200
    with pytest.raises(openai.AuthenticationError):
        client.images.generate(model="dall-e-2", prompt="after revocation")


def test_cache_can_be_switched_off(start_gateway: GatewayStarter, upstream: FakeUpstream) -> None:
    gw = start_gateway("embedded", GATEWAY_CACHE_ENABLED="false")
    key = gw.create_key()["key"]
    gw.post({"model": "dall-e-2", "prompt": "off"}, key)
    assert gw.post({"model": "dall-e-2", "prompt": "off"}, key).headers["x-cache"] == "BYPASS"
    assert upstream.calls() == 2


def test_openapi_document_is_served(gateway: Gateway) -> None:
    document = httpx.get(f"{gateway.url}/openapi.json", timeout=5).json()
    assert document["openapi"].startswith("3.")
    assert "/v1/images/generations" in document["paths"]
