"""Every model of AIML's catalogue through the official SDK with OpenAI's own fields.

For each model id in the catalogue, ``images.generate`` sends ``n`` (and ``size`` where
the model has a size-like field) through a real gateway; the body the fake upstream
received must be valid under every request schema the catalogue publishes for that model,
read here from the catalogue file with a JSON Schema validator (not through the gateway's
registry), and the SDK's ``.data`` must hold the images.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from functools import cache
from typing import Any

import httpx
import jsonschema_rs
import openai
import orjson
import pytest
from openai import OpenAI

from gateway.testing.fake_answers import tiny_png
from gateway.testing.fake_catalogue import catalogue_bytes
from gateway.testing.procs import Proc
from tests.e2e.conftest import Gateway

pytestmark = pytest.mark.e2e

GENERATE = "/v1/images/generations"
SIZE_FIELDS = ("size", "image_size", "aspect_ratio", "resolution")
DATA_URL = "data:image/png;base64," + base64.b64encode(tiny_png(7)).decode()


@cache
def operations() -> list[dict[str, Any]]:
    ops: list[dict[str, Any]] = orjson.loads(catalogue_bytes())["operations"]
    return ops


def model_ids() -> list[str]:
    return sorted({m for op in operations() for m in op["models"]})


def published(model: str) -> list[dict[str, Any]]:
    """The model's published /v1/images/generations request schemas, as published."""
    return [
        op["request"] for op in operations() if model in op["models"] and op["path"] == GENERATE
    ]


def _props(model: str) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for schema in reversed(published(model)):
        props.update(schema.get("properties", {}))
    return props


def _branches(prop: dict[str, Any]) -> list[dict[str, Any]]:
    return list(prop.get("anyOf", [prop]))


def _most(prop: dict[str, Any]) -> int:
    bounds = [p.get("maximum") for p in _branches(prop)] + [
        max(p.get("enum", [0])) for p in _branches(prop)
    ]
    found = [int(b) for b in bounds if b]
    return min(found) if found else 4


def _size(props: dict[str, Any]) -> str | None:
    size = props.get("size", {})
    sizes = [v for v in size.get("enum", []) if "x" in str(v)]
    if sizes:
        return str(sizes[-1])
    if "size" in props and not size.get("enum"):
        return "1536x1024"
    for branch in _branches(props.get("image_size", {})):
        sides = branch.get("properties", {})
        if "width" in sides:
            low = max(int(sides["width"].get("minimum", 0)), int(sides["height"].get("minimum", 0)))
            high = min(
                int(sides["width"].get("maximum", 8192)), int(sides["height"].get("maximum", 8192))
            )
            side = min(max(1024, low), high)
            return f"{side}x{min(max(768, low), high)}"
    if "aspect_ratio" in props or "resolution" in props:
        return "1536x1024"
    return None


def _sample(name: str, prop: dict[str, Any]) -> Any:
    branch = _branches(prop)[0]
    if branch.get("enum"):
        return branch["enum"][0]
    if branch.get("type") == "array":
        return [DATA_URL] * max(1, int(branch.get("minItems", 1)))
    return DATA_URL if "image" in name or "url" in name else "x"


def sdk_call(model: str) -> tuple[dict[str, Any], int]:
    """OpenAI-style keyword arguments for ``images.generate``, and the images expected."""
    props = _props(model)
    required = {n for s in published(model) for n in s.get("required", [])} - {"model", "prompt"}
    count_field = next((f for f in ("n", "num_images") if f in props), None)
    n = min(2, _most(props[count_field])) if count_field else 1
    call: dict[str, Any] = {"model": model, "prompt": "a red fox in the snow", "n": n}
    size = _size(props)
    if size is not None:
        call["size"] = size
    extra = {name: _sample(name, props[name]) for name in sorted(required)}
    if extra:
        call["extra_body"] = extra
    return call, n


class Seen:
    """What the fake upstream received, read over one shared connection (these tests send
    one request at a time, so the last body is the test's own)."""

    def __init__(self, http: httpx.Client, url: str) -> None:
        self.http, self.url = http, url

    def stats(self) -> dict[str, Any]:
        found: dict[str, Any] = self.http.get(f"{self.url}/_stats").json()
        return found

    def last_body(self) -> dict[str, Any]:
        bodies: list[dict[str, Any]] = self.stats()["bodies"]
        return bodies[-1]

    def calls(self) -> int:
        return int(self.stats()["calls"])


@pytest.fixture(scope="module")
def seen(fake_proc: Proc) -> Iterator[Seen]:
    with httpx.Client(timeout=10) as http:
        http.post(f"{fake_proc.url}/_control", json={"reset": True}).raise_for_status()
        yield Seen(http, fake_proc.url)


@pytest.fixture(scope="module")
def sdk(gateway: Gateway) -> Iterator[OpenAI]:
    """One key (cache off: every request reaches the fake) and one SDK client per gateway."""
    key = gateway.create_key(cache=False)["key"]
    with OpenAI(base_url=f"{gateway.url}/v1", api_key=key, max_retries=0) as client:
        yield client


def test_the_catalogue_has_83_models() -> None:
    assert len(model_ids()) == 83


@pytest.mark.parametrize("model", model_ids())
def test_every_catalogue_model_through_the_sdk(sdk: OpenAI, seen: Seen, model: str) -> None:
    call, expected = sdk_call(model)
    result = sdk.images.generate(**call)
    sent = seen.last_body()
    for schema in published(model):
        errors = [e.message for e in jsonschema_rs.Draft4Validator(schema).iter_errors(sent)]
        assert not errors, (sent, errors)
    assert sent["model"] == model
    if "size" in call:
        assert set(sent) & set(SIZE_FIELDS), sent
    assert result.data is not None and len(result.data) == expected
    assert all(image.url or image.b64_json for image in result.data)


CASES: list[tuple[dict[str, Any], dict[str, Any], int]] = [
    (
        {"model": "dall-e-3", "prompt": "p", "size": "1792x1024", "quality": "hd"},
        {"model": "dall-e-3", "prompt": "p", "size": "1792x1024", "quality": "hd"},
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
        {"model": "google/nano-banana-pro", "prompt": "p", "n": 2, "size": "1792x1024"},
        {
            "model": "google/nano-banana-pro",
            "prompt": "p",
            "num_images": 2,
            "aspect_ratio": "16:9",
            "resolution": "2K",
        },
        2,
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
        {
            "model": "google/imagen-4.0-generate-001",
            "prompt": "p",
            "size": "1024x1792",
            "response_format": "b64_json",
        },
        {
            "model": "google/imagen-4.0-generate-001",
            "prompt": "p",
            "aspect_ratio": "9:16",
            "convert_base64_to_url": False,
        },
        1,
    ),
    (
        {
            "model": "blackforestlabs/flux-2-edit",
            "prompt": "p",
            "extra_body": {"image_urls": [DATA_URL, DATA_URL]},
        },
        {"model": "blackforestlabs/flux-2-edit", "prompt": "p", "image_urls": [DATA_URL, DATA_URL]},
        1,
    ),
]


@pytest.mark.parametrize(("call", "sent", "count"), CASES, ids=[c[0]["model"] for c in CASES])
def test_translation_through_sdk(
    sdk: OpenAI, seen: Seen, call: dict[str, Any], sent: dict[str, Any], count: int
) -> None:
    result = sdk.images.generate(**call)
    assert seen.last_body() == sent
    assert result.data is not None and len(result.data) == count


@pytest.mark.parametrize(
    ("call", "param"),
    [
        ({"model": "flux/schnell", "n": 2, "extra_body": {"num_images": 2}}, "n"),
        ({"model": "flux/schnell", "n": 7}, "n"),
        ({"model": "flux/schnell", "size": "4096x4096"}, "size"),
        (
            {"model": "flux/schnell", "extra_body": {"image_size": {"width": 9000, "height": 9}}},
            "image_size.width",
        ),
        ({"model": "flux/schnell", "response_format": "b64_json"}, "response_format"),
        ({"model": "alibaba/qwen-image-2-0", "n": 2}, "n"),
        ({"model": "blackforestlabs/flux-2-edit"}, "image_urls"),
    ],
)
def test_refusals_name_the_field_and_never_reach_the_upstream(
    sdk: OpenAI, seen: Seen, call: dict[str, Any], param: str
) -> None:
    before = seen.calls()
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.images.generate(prompt="p", **call)
    assert caught.value.param == param
    body = caught.value.body
    assert isinstance(body, dict) and call["model"] in body["message"]
    assert seen.calls() == before
