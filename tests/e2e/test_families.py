"""Every model family through the openai SDK: exact upstream body, readable ``.data``."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.e2e.conftest import FakeUpstream, Gateway

pytestmark = pytest.mark.e2e

CASES: list[tuple[dict[str, Any], dict[str, Any], int]] = [
    (
        {"model": "dall-e-3", "prompt": "p", "size": "1792x1024", "quality": "hd"},
        {"model": "dall-e-3", "prompt": "p", "size": "1792x1024", "quality": "hd"},
        1,
    ),
    (
        {"model": "openai/gpt-image-1", "prompt": "p", "quality": "high"},
        {"model": "openai/gpt-image-1", "prompt": "p", "quality": "high"},
        1,
    ),
    (
        {"model": "flux/schnell", "prompt": "p", "n": 2, "size": "1024x768"},
        {
            "model": "flux/schnell",
            "prompt": "p",
            "num_images": 2,
            "image_size": {"width": 1024, "height": 768},
        },
        2,
    ),
    (
        {"model": "flux-pro/v1.1-ultra", "prompt": "p", "size": "1024x1024"},
        {"model": "flux-pro/v1.1-ultra", "prompt": "p", "aspect_ratio": "1:1"},
        1,
    ),
    (
        {
            "model": "stable-diffusion-v35-large",
            "prompt": "p",
            "n": 3,
            "extra_body": {"negative_prompt": "blur", "seed": 4},
        },
        {
            "model": "stable-diffusion-v35-large",
            "prompt": "p",
            "num_images": 3,
            "negative_prompt": "blur",
            "seed": 4,
        },
        3,
    ),
    (
        {"model": "recraft-v3", "prompt": "p", "size": "1024x1024"},
        {"model": "recraft-v3", "prompt": "p", "image_size": {"width": 1024, "height": 1024}},
        1,
    ),
    (
        {"model": "google/imagen-4.0-generate-001", "prompt": "p", "n": 2, "size": "1024x1792"},
        {
            "model": "google/imagen-4.0-generate-001",
            "prompt": "p",
            "num_images": 2,
            "aspect_ratio": "9:16",
        },
        2,
    ),
]


@pytest.mark.parametrize(("call", "sent", "count"), CASES, ids=[c[0]["model"] for c in CASES])
def test_family_through_sdk(
    gateway: Gateway, upstream: FakeUpstream, call: dict[str, Any], sent: dict[str, Any], count: int
) -> None:
    key = gateway.create_key()["key"]
    result = gateway.client(key).images.generate(**call)
    assert upstream.last_body() == sent
    assert result.data is not None and len(result.data) == count
    assert all(image.url and image.url.startswith("http") for image in result.data)


def test_both_dialects_is_bad_request(gateway: Gateway, upstream: FakeUpstream) -> None:
    key = gateway.create_key()["key"]
    with pytest.raises(openai.BadRequestError) as caught:
        gateway.client(key).images.generate(
            model="flux/schnell", prompt="p", n=2, extra_body={"num_images": 2}
        )
    assert caught.value.param == "n"
    assert upstream.calls() == 0


def test_models_lists_families(gateway: Gateway) -> None:
    key = gateway.create_key()["key"]
    listed = {m.id: m for m in gateway.client(key).models.list().data}
    assert len(listed) == 17
    assert listed["flux/schnell"].model_extra == {"family": "flux"}


def test_raw_header_returns_the_upstreams_own_answer(
    gateway: Gateway, upstream: FakeUpstream
) -> None:
    key = gateway.create_key()["key"]
    response = gateway.post(
        {"model": "flux/schnell", "prompt": "raw", "n": 2},
        key,
        headers={"x-gateway-raw-response": "true"},
    )
    assert response.status_code == 201
    assert len(response.json()["images"]) == 2 and "data" not in response.json()
    assert response.headers["x-cache"] == "BYPASS"
