"""Image edits end to end: the official SDK's ``images.edit`` through real gateway processes
(both store modes) to the fake upstream, on both upstream routes."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import httpx
import openai
import pytest

from gateway.testing.fake_answers import tiny_png
from tests.e2e.conftest import FakeUpstream, Gateway, GatewayStarter
from tests.e2e.test_journal import wait_logged

pytestmark = pytest.mark.e2e

TRICKY = b"\r\n--boundary\r\nContent-Disposition: form-data\r\n\r\n" + bytes(range(256))
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 3
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(range(255, -1, -1)) * 2


def png(seed: int, padding: int = 0) -> bytes:
    """A PNG whose bytes differ by ``seed``, with bytes a careless encoder would mangle."""
    return tiny_png(seed) + TRICKY + bytes(padding)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def seen_file(field: str, filename: str, content_type: str, data: bytes) -> dict[str, Any]:
    """A file as the fake upstream records it."""
    return {
        "field": field,
        "filename": filename,
        "content_type": content_type,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "data": b64(data),
    }


def last_edit(upstream: FakeUpstream) -> dict[str, Any]:
    edits: list[dict[str, Any]] = upstream.stats()["edits"]
    return edits[-1]


def test_one_image_goes_upstream_as_multipart_byte_for_byte(
    gateway: Gateway, upstream: FakeUpstream
) -> None:
    created = gateway.create_key()
    image = png(1)
    raw = gateway.client(created["key"]).images.with_raw_response.edit(
        model="openai/gpt-image-1",
        image=("cat.png", image, "image/png"),
        prompt="add a hat",
        size="1024x1024",
        quality="low",
        n=2,
    )
    result = raw.parse()
    assert result.data is not None and len(result.data) == 2
    assert raw.headers["x-cache"] == "MISS"
    # Two low-quality 1024x1024 images at the upstream's $0.0143 each, as it reported them.
    assert raw.headers["x-gateway-cost-usd"] == "0.0286"
    charged = httpx.get(f"{upstream.url}/_billing", timeout=5).json()["charges"][-1]
    assert (charged["model"], charged["images"], charged["usd"]) == (
        "openai/gpt-image-1",
        2,
        "0.0286",
    )
    seen = last_edit(upstream)
    assert seen["files"] == [seen_file("image", "cat.png", "image/png", image)]
    assert seen["fields"] == {
        "model": "openai/gpt-image-1",
        "prompt": "add a hat",
        "size": "1024x1024",
        "quality": "low",
        "n": "2",
    }
    logged = wait_logged(gateway, created["id"], 1)
    assert [(e["endpoint"], e["model"], e["images"]) for e in logged] == [
        ("edits", "openai/gpt-image-1", 2)
    ]
    assert logged[0]["cost_usd"] == raw.headers["x-gateway-cost-usd"]


def test_three_images_and_a_mask_keep_their_names_types_and_bytes(
    gateway: Gateway, upstream: FakeUpstream
) -> None:
    key = gateway.create_key()["key"]
    images = [("a.png", png(2), "image/png"), ("b.jpg", JPEG, "image/jpeg")]
    images.append(('c "q".webp', WEBP, "image/webp"))
    mask = png(3)
    result = gateway.client(key).images.edit(
        model="openai/gpt-image-2",
        image=images,
        mask=("mask.png", mask, "image/png"),
        prompt="one scene from three",
        extra_body={"moderation": "low"},
    )
    assert result.data is not None and len(result.data) == 1
    seen = last_edit(upstream)
    # httpx (under the SDK) sends a quote in a filename as %22; that is what arrives.
    assert seen["files"] == [
        *(seen_file("image[]", n.replace('"', "%22"), kind, data) for n, data, kind in images),
        seen_file("mask", "mask.png", "image/png", mask),
    ]
    assert seen["fields"]["moderation"] == "low"
    assert seen["fields"]["model"] == "openai/gpt-image-2"


@pytest.mark.parametrize(
    ("model", "field", "count", "array"),
    [
        ("flux/dev/image-to-image", "image_url", 1, False),
        ("flux/kontext-pro/image-to-image", "image_url", 2, True),
        ("google/nano-banana-edit", "image_urls", 2, True),
        ("alibaba/qwen-image-edit", "image", 1, False),
    ],
)
def test_json_models_get_the_files_as_data_urls(
    gateway: Gateway, upstream: FakeUpstream, model: str, field: str, count: int, array: bool
) -> None:
    key = gateway.create_key()["key"]
    files = [png(10 + i) for i in range(count - 1)] + [JPEG]
    uploads = [(f"in{i}", data, "application/octet-stream") for i, data in enumerate(files)]
    result = gateway.client(key).images.edit(
        model=model, image=uploads if count > 1 else uploads[0], prompt="make it blue"
    )
    assert result.data is not None and len(result.data) == 1
    body = upstream.last_body()
    assert body["model"] == model and body["prompt"] == "make it blue"
    sent = body[field]
    urls = sent if array else [sent]
    assert isinstance(sent, list) is array
    kinds = ["image/png"] * (count - 1) + ["image/jpeg"]
    assert [u.split(",", 1)[0] for u in urls] == [f"data:{k};base64" for k in kinds]
    assert [base64.b64decode(u.split(",", 1)[1]) for u in urls] == files


@pytest.fixture(scope="module")
def small_uploads(start_gateway: GatewayStarter) -> Gateway:
    """A gateway whose files may be at most 64 KiB."""
    return start_gateway("embedded", GATEWAY_UPLOAD_MAX_FILE_BYTES="65536")


def edit_form(
    gateway: Gateway, key: str | None, files: list[tuple[str, tuple[str, bytes, str]]], **data: str
) -> httpx.Response:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    return httpx.post(
        f"{gateway.url}/v1/images/edits", files=files, data=data, headers=headers, timeout=30
    )


@pytest.mark.parametrize(
    ("files", "model", "status", "param"),
    [
        (
            [("image", ("notes.txt", b"just text", "text/plain"))],
            "openai/gpt-image-1",
            400,
            "image",
        ),
        (
            [("image", ("a.png", png(1), "image/png")), ("mask", ("m.jpg", JPEG, "image/jpeg"))],
            "openai/gpt-image-1",
            400,
            "mask",
        ),
        (
            [
                ("image[]", ("a.png", png(1), "image/png")),
                ("image[]", ("b.png", png(2), "image/png")),
            ],
            "flux/dev/image-to-image",
            400,
            "image",
        ),
        ([("image", ("a.png", png(1), "image/png"))], "dall-e-3", 400, "model"),
        ([("image", ("big.png", png(1, 70_000), "image/png"))], "openai/gpt-image-1", 413, "image"),
    ],
    ids=["text file", "jpeg mask", "too many files", "no edit route", "oversized"],
)
def test_bad_uploads_are_refused_with_param_and_nothing_goes_upstream(
    small_uploads: Gateway,
    upstream: FakeUpstream,
    files: list[tuple[str, tuple[str, bytes, str]]],
    model: str,
    status: int,
    param: str,
) -> None:
    key = small_uploads.create_key()["key"]
    response = edit_form(small_uploads, key, files, model=model, prompt="x")
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["param"] == param
    assert response.headers["x-gateway-cost-usd"] == "0"
    assert upstream.calls() == 0
    if param == "model":
        assert "openai/gpt-image-1" in error["message"]


def test_the_sdk_sees_a_bad_upload_as_a_bad_request(gateway: Gateway) -> None:
    key = gateway.create_key()["key"]
    with pytest.raises(openai.BadRequestError) as caught:
        gateway.client(key).images.edit(
            model="gpt-image-1", image=("a.gif", b"GIF89a....", "image/gif"), prompt="x"
        )
    assert caught.value.body is not None
    assert caught.value.code == "invalid_image_format"


def test_a_json_body_is_told_to_use_multipart(gateway: Gateway, upstream: FakeUpstream) -> None:
    key = gateway.create_key()["key"]
    response = httpx.post(
        f"{gateway.url}/v1/images/edits",
        json={"model": "openai/gpt-image-1", "prompt": "x", "image": "data:image/png;base64,"},
        headers={"authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert response.status_code == 400
    assert "multipart/form-data" in response.json()["error"]["message"]
    assert edit_form(gateway, None, [("image", ("a.png", png(1), "image/png"))]).status_code == 401


def test_an_edit_counts_its_images_and_is_refunded_when_the_upstream_fails(
    gateway: Gateway, upstream: FakeUpstream
) -> None:
    key = gateway.create_key(images_per_day=2)["key"]
    client = gateway.client(key)
    upstream.control(fail=[{"status": 500}])
    with pytest.raises(openai.InternalServerError):
        client.images.edit(model="gpt-image-1", image=("a.png", png(5), "image/png"), prompt="x")
    result = client.images.edit(
        model="gpt-image-1", image=("a.png", png(5), "image/png"), prompt="x", n=2
    )
    assert result.data is not None and len(result.data) == 2
    with pytest.raises(openai.RateLimitError) as caught:
        client.images.edit(model="gpt-image-1", image=("b.png", png(6), "image/png"), prompt="y")
    assert caught.value.code == "insufficient_quota"
    assert upstream.calls() == 2


def test_the_same_edit_twice_is_one_upstream_call_and_another_image_is_a_miss(
    gateway: Gateway, upstream: FakeUpstream
) -> None:
    client = gateway.client(gateway.create_key()["key"])

    def edit(image: bytes, mask: bytes | None = None) -> str:
        extra: dict[str, Any] = {"mask": ("m.png", mask, "image/png")} if mask else {}
        raw = client.images.with_raw_response.edit(
            model="gpt-image-1", image=("a.png", image, "image/png"), prompt="same", **extra
        )
        assert raw.parse().data
        return raw.headers["x-cache"]

    assert [edit(png(7)), edit(png(7))] == ["MISS", "HIT"]
    assert upstream.calls() == 1
    assert [edit(png(8)), edit(png(7), png(9)), edit(png(7), png(9))] == ["MISS", "MISS", "HIT"]
    assert upstream.calls() == 3


def test_openai_model_names_edit_as_the_catalogue_id(
    gateway: Gateway, upstream: FakeUpstream
) -> None:
    created = gateway.create_key()
    result = gateway.client(created["key"]).images.edit(
        model="gpt-image-1", image=("a.png", png(11), "image/png"), prompt="alias"
    )
    assert result.data
    assert last_edit(upstream)["fields"]["model"] == "openai/gpt-image-1"
    assert wait_logged(gateway, created["id"], 1)[0]["model"] == "openai/gpt-image-1"


def test_variations_are_a_bad_request_naming_an_edit_model(gateway: Gateway) -> None:
    key = gateway.create_key()["key"]
    image = ("a.png", png(1), "image/png")
    # The SDK marks create_variation deprecated (OpenAI retired the endpoint too).
    with pytest.raises(openai.BadRequestError) as caught, pytest.deprecated_call():
        gateway.client(key).images.create_variation(image=image)
    assert caught.value.code == "variations_not_supported"
    assert "openai/gpt-image-1" in caught.value.message
    assert "/v1/images/edits" in caught.value.message
    with pytest.raises(openai.AuthenticationError), pytest.deprecated_call():
        gateway.client("wrong").images.create_variation(image=image)
