"""Model names and model objects as an SDK user meets them: aliases billed, cached and
counted under the catalogue id, ``models.retrieve`` and ``models.list``, answers in
OpenAI's shape whatever shape the upstream used, the upstream's reported cost kept."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.e2e.conftest import FakeUpstream, Gateway

pytestmark = pytest.mark.e2e


def test_openai_name_is_billed_cached_and_counted_as_the_catalogue_id(
    gateway: Gateway, upstream: FakeUpstream
) -> None:
    created = gateway.create_key(images_per_day=5, models=["gpt-image-1"])
    client = gateway.client(created["key"])
    first = client.images.with_raw_response.generate(model="gpt-image-1", prompt="fox alias")
    assert first.headers["x-cache"] == "MISS"
    assert upstream.last_body()["model"] == "openai/gpt-image-1"
    second = client.images.with_raw_response.generate(
        model="openai/gpt-image-1", prompt="fox alias", n=1, size="1024x1024"
    )
    assert second.headers["x-cache"] == "HIT"
    assert second.parse().data == first.parse().data
    assert upstream.calls() == 1
    usage = gateway.admin("GET", f"/admin/keys/{created['id']}/usage").json()
    assert usage["totals"]["images"] == 1
    assert usage["limits"]["images_per_day"]["remaining"] == 4
    metrics = httpx.get(f"{gateway.url}/metrics", timeout=5).text
    assert 'gateway_images_generated_total{model="openai/gpt-image-1"}' in metrics
    assert 'model="gpt-image-1"' not in metrics


def test_allow_list_by_alias_or_id(gateway: Gateway, upstream: FakeUpstream) -> None:
    key = gateway.create_key(models=["openai/gpt-image-1"])["key"]
    client = gateway.client(key)
    assert client.images.generate(model="gpt-image-1", prompt="x").data
    with pytest.raises(openai.PermissionDeniedError):
        client.images.generate(model="flux/schnell", prompt="x")


def test_models_retrieve_answers_with_what_the_model_can_do(gateway: Gateway) -> None:
    client = gateway.client(gateway.create_key()["key"])
    model = client.models.retrieve("gpt-image-1")
    assert (model.id, model.object, model.owned_by) == ("openai/gpt-image-1", "model", "openai")
    extra = model.model_extra or {}
    assert extra["aliases"] == ["gpt-image-1"]
    capabilities = extra["capabilities"]
    assert capabilities["generate"] is True and capabilities["edit"] is True
    assert capabilities["edit_input"]["kind"] == "multipart"
    assert capabilities["count"]["field"] == "n"
    assert capabilities["size"] == [{"field": "size", "kind": "wxh"}]
    flux = client.models.retrieve("flux/kontext-pro/image-to-image")
    caps = (flux.model_extra or {})["capabilities"]
    assert caps["count"] == {"field": "num_images", "min": 1, "max": 4}
    assert caps["size"] == [{"field": "aspect_ratio", "kind": "aspect_ratio"}]
    assert caps["edit_input"] == {
        "kind": "json",
        "field": "image_url",
        "style": "string_or_array",
        "max_images": 4,
        "mask": False,
    }
    assert caps["response_formats"] == ["url"]


def test_unknown_model_is_404_in_openai_shape(gateway: Gateway) -> None:
    client = gateway.client(gateway.create_key()["key"])
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("acme/not-a-model")
    assert caught.value.code == "model_not_found" and caught.value.param == "model"
    limited = gateway.client(gateway.create_key(models=["dall-e-3"])["key"])
    with pytest.raises(openai.NotFoundError):
        limited.models.retrieve("flux/schnell")
    assert limited.models.retrieve("dall-e-3").id == "dall-e-3"


def test_models_list_holds_every_model_and_its_aliases(gateway: Gateway) -> None:
    client = gateway.client(gateway.create_key()["key"])
    listed = {m.id: m for m in client.models.list().data}
    assert len([m for m in listed.values() if "alias_of" not in (m.model_extra or {})]) == 83
    alias = listed["gpt-image-1"]
    assert (alias.model_extra or {})["alias_of"] == "openai/gpt-image-1"
    assert (listed["flux/schnell"].model_extra or {})["family"] == "black-forest-labs"
    limited = gateway.client(gateway.create_key(models=["gpt-image-2"])["key"])
    assert sorted(m.id for m in limited.models.list().data) == ["gpt-image-2", "openai/gpt-image-2"]


def test_the_upstreams_reported_cost_is_kept_as_usage(
    gateway: Gateway, upstream: FakeUpstream
) -> None:
    upstream.control(usd_per_image="0.01")
    key = gateway.create_key()["key"]
    response = gateway.post({"model": "flux/schnell", "prompt": "cost", "n": 2}, key)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"created", "data", "usage"}
    assert body["usage"] == {"credits_used": 40000, "usd_spent": 0.02}
    assert len(body["data"]) == 2


@pytest.mark.parametrize("shape", ["current", "openai", "images", "choices"])
def test_every_upstream_shape_reaches_the_sdk_as_data(
    gateway: Gateway, upstream: FakeUpstream, shape: str
) -> None:
    upstream.control(shape=shape)
    client = gateway.client(gateway.create_key(cache=False)["key"])
    result = client.images.generate(model="dall-e-2", prompt=f"shape {shape}", n=2)
    assert result.data is not None and len(result.data) == 2
    assert all(image.url for image in result.data)
    b64 = client.images.generate(
        model="dall-e-2", prompt=f"b64 {shape}", response_format="b64_json"
    )
    assert b64.data is not None and b64.data[0].b64_json


def test_raw_header_returns_the_upstreams_own_answer(
    gateway: Gateway, upstream: FakeUpstream
) -> None:
    upstream.control(usd_per_image="0.01")
    key = gateway.create_key()["key"]
    response = gateway.post(
        {"model": "flux/schnell", "prompt": "raw", "n": 2},
        key,
        headers={"x-gateway-raw-response": "true"},
    )
    assert response.status_code == 201
    raw = response.json()
    assert len(raw["data"]) == 2 and raw["meta"]["usage"]["credits_used"] == 40000
    assert "created" not in raw
    assert response.headers["x-cache"] == "BYPASS"
