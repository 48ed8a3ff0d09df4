"""The model registry and the adapters: names, translation, validation, answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import InvalidRequest, UpstreamError
from gateway.models.registry import Registry
from gateway.testing.fake_catalogue import catalogue_bytes


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load()


def test_every_catalogue_model_is_known(registry: Registry) -> None:
    catalogue = orjson.loads(catalogue_bytes())
    ids = {m for op in catalogue["operations"] for m in op["models"]}
    assert len(ids) == 83
    assert {m.id for m in registry.models()} == ids


def test_openai_names_resolve_to_catalogue_ids(registry: Registry) -> None:
    for name, model in {
        "gpt-image-1": "openai/gpt-image-1",
        "gpt-image-1-mini": "openai/gpt-image-1-mini",
        "gpt-image-1.5": "openai/gpt-image-1-5",
        "gpt-image-2": "openai/gpt-image-2",
        "dall-e-3": "dall-e-3",
    }.items():
        prepared = registry.prepare({"model": name, "prompt": "x"})
        assert prepared.model.id == model
        assert prepared.upstream_body["model"] == model
    alias = registry.prepare({"model": "gpt-image-1", "prompt": "x"})
    canonical = registry.prepare({"model": "openai/gpt-image-1", "prompt": "x"})
    assert alias.cache_fields == canonical.cache_fields


def test_openai_family_body_goes_unchanged(registry: Registry) -> None:
    body = {"model": "dall-e-2", "prompt": "x", "quality": "hd", "user": "u1"}
    prepared = registry.prepare(body)
    assert prepared.upstream_body == body
    assert prepared.images == 1


@pytest.mark.parametrize(
    ("body", "upstream"),
    [
        (
            {"model": "flux/schnell", "prompt": "x", "n": 2, "size": "1024x768"},
            {
                "model": "flux/schnell",
                "prompt": "x",
                "num_images": 2,
                "image_size": {"width": 1024, "height": 768},
            },
        ),
        (
            {"model": "flux/kontext-pro/text-to-image", "prompt": "x", "size": "1792x1024"},
            {"model": "flux/kontext-pro/text-to-image", "prompt": "x", "aspect_ratio": "16:9"},
        ),
        (
            {"model": "imagen-3.0-generate-002", "prompt": "x", "n": 3, "size": "768x1024"},
            {
                "model": "imagen-3.0-generate-002",
                "prompt": "x",
                "num_images": 3,
                "aspect_ratio": "3:4",
            },
        ),
        (
            {
                "model": "google/imagen-4.0-generate-001",
                "prompt": "x",
                "response_format": "b64_json",
            },
            {
                "model": "google/imagen-4.0-generate-001",
                "prompt": "x",
                "convert_base64_to_url": False,
            },
        ),
        (
            {"model": "x-ai/grok-imagine-image", "prompt": "x", "n": 3, "size": "1536x1024"},
            {
                "model": "x-ai/grok-imagine-image",
                "prompt": "x",
                "n": 3,
                "aspect_ratio": "3:2",
                "resolution": "2k",
            },
        ),
        (
            {"model": "bytedance/seedream-4-5", "prompt": "x", "size": "2048x2048"},
            {
                "model": "bytedance/seedream-4-5",
                "prompt": "x",
                "image_size": {"width": 2048, "height": 2048},
            },
        ),
        (
            {"model": "recraft-v3", "prompt": "x", "response_format": "url", "style": "any"},
            {"model": "recraft-v3", "prompt": "x", "style": "any"},
        ),
        (
            {"model": "flux/schnell", "prompt": "x", "size": "auto"},
            {"model": "flux/schnell", "prompt": "x"},
        ),
        (
            {"model": "alibaba/qwen-image-2-0", "prompt": "x", "n": 1},
            {"model": "alibaba/qwen-image-2-0", "prompt": "x"},
        ),
        (
            {
                "model": "flux/dev",
                "prompt": "x",
                "num_images": 2,
                "seed": 7,
                "image_size": "square_hd",
            },
            {
                "model": "flux/dev",
                "prompt": "x",
                "num_images": 2,
                "seed": 7,
                "image_size": "square_hd",
            },
        ),
        (
            {"model": "stabilityai/stable-diffusion-xl-base-1.0", "prompt": "x", "user": "u"},
            {"model": "stabilityai/stable-diffusion-xl-base-1.0", "prompt": "x"},
        ),
    ],
)
def test_translation(registry: Registry, body: dict[str, Any], upstream: dict[str, Any]) -> None:
    assert registry.prepare(body).upstream_body == upstream


@pytest.mark.parametrize(
    ("body", "param", "words"),
    [
        ({"model": "flux/schnell", "prompt": "x", "n": 2, "num_images": 2}, "n", "not both"),
        ({"model": "flux/schnell", "prompt": "x", "size": "1x"}, "size", "WIDTHxHEIGHT"),
        (
            {"model": "flux/schnell", "prompt": "x", "size": "512x512", "image_size": "square"},
            "size",
            "not both",
        ),
        ({"model": "flux/schnell", "prompt": "x", "n": 5}, "n", "at most 4"),
        ({"model": "flux/schnell", "prompt": "x", "n": 0}, "n", "from 1"),
        ({"model": "flux/schnell", "prompt": "x", "size": "4096x4096"}, "size", "1536"),
        (
            {"model": "flux/schnell", "prompt": "x", "image_size": {"width": 9000, "height": 1}},
            "image_size.width",
            "at most 1536",
        ),
        ({"model": "flux/schnell", "prompt": "x", "image_size": "huge"}, "image_size", "square_hd"),
        (
            {"model": "flux/schnell", "prompt": "x", "response_format": "b64_json"},
            "response_format",
            "URLs only",
        ),
        (
            {
                "model": "imagen-3.0-generate-002",
                "prompt": "x",
                "response_format": "b64_json",
                "convert_base64_to_url": True,
            },
            "response_format",
            "not both",
        ),
        ({"model": "imagen-3.0-generate-002", "prompt": "x" * 401}, "prompt", "at most 400"),
        ({"model": "dall-e-3", "prompt": "x", "n": 2}, "n", "accepts: 1"),
        ({"model": "dall-e-3", "prompt": "x", "style": "cartoon"}, "style", "vivid, natural"),
        ({"model": "dall-e-3", "prompt": "x", "size": "512x512"}, "size", "1792x1024"),
        (
            {"model": "openai/gpt-image-1", "prompt": "x", "output_compression": 101},
            "output_compression",
            "at most 100",
        ),
        ({"model": "dall-e-2", "prompt": "x", "n": True}, "n", "integer"),
        ({"model": "dall-e-2", "prompt": "x", "n": 1.5}, "n", "integer"),
        ({"model": "dall-e-2", "prompt": ["x"]}, "prompt", "a string"),
        ({"model": "dall-e-2"}, "prompt", "required"),
        ({"model": 3, "prompt": "x"}, "model", "model"),
        ({"model": "nope", "prompt": "x"}, "model", "GET /v1/models"),
        ({"model": "alibaba/qwen-image-2-0", "prompt": "x", "n": 2}, "n", "one image"),
        ({"model": "blackforestlabs/flux-2-edit", "prompt": "x"}, "image_urls", "required"),
        (
            {"model": "blackforestlabs/flux-2-edit", "prompt": "x", "image_urls": ["a"] * 4},
            "image_urls",
            "at most 3",
        ),
        (
            {
                "model": "alibaba/z-image-turbo-lora",
                "prompt": "x",
                "loras": [{"path": "a", "scale": 9}],
            },
            "loras[0].scale",
            "at most 4",
        ),
        (
            {"model": "stabilityai/stable-diffusion-xl-base-1.0", "prompt": "x", "steps2": 1},
            "steps2",
            "not a field",
        ),
    ],
)
def test_bad_input_names_the_field(
    registry: Registry, body: dict[str, Any], param: str, words: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        registry.prepare(body)
    assert caught.value.param == param
    assert words in caught.value.message


def test_fields_the_model_does_not_document_pass_through(registry: Registry) -> None:
    body = {"model": "flux/schnell", "prompt": "x", "brand_new_field": {"any": ["thing"]}}
    assert registry.prepare(body).upstream_body == body


def test_null_optional_fields_mean_absent(registry: Registry) -> None:
    prepared = registry.prepare({"model": "dall-e-2", "prompt": "x", "n": None, "size": None})
    assert prepared.images == 1 and prepared.upstream_body == {"model": "dall-e-2", "prompt": "x"}


def test_cache_fields_fill_defaults_and_ignore_user(registry: Registry) -> None:
    short = registry.prepare({"model": "flux/schnell", "prompt": "x"}).cache_fields
    full = registry.prepare(
        {
            "model": "flux/schnell",
            "prompt": "x",
            "n": 1,
            "image_size": "landscape_4_3",
            "response_format": "url",
            "user": "u",
            "safety_identifier": "s",
        }
    ).cache_fields
    assert short == full
    other = registry.prepare({"model": "flux/schnell", "prompt": "x", "seed": 3})
    assert other.cache_fields != short


def test_capabilities(registry: Registry) -> None:
    gpt = registry.get("gpt-image-1")
    assert gpt is not None and gpt.id == "openai/gpt-image-1"
    caps = gpt.capabilities()
    assert caps["generate"] and caps["edit"]
    assert caps["edit_input"] == {
        "kind": "multipart",
        "field": "image",
        "style": "array",
        "max_images": 16,
        "mask": True,
    }
    assert caps["count"] == {"field": "n", "min": 1, "max": 1}
    kontext = registry.get("flux/kontext-pro/image-to-image")
    assert kontext is not None and kontext.edit is not None
    assert (kontext.edit.kind, kontext.edit.field, kontext.edit.style, kontext.edit.max_items) == (
        "json",
        "image_url",
        "string_or_array",
        4,
    )
    edit_only = registry.get("topaz-labs/sharpen")
    assert edit_only is not None and not edit_only.generate and edit_only.edit is not None
    assert registry.get("flux/schnell") is not None
    assert registry.get("flux/schnell").edit is None  # type: ignore[union-attr]


def test_normalise_each_shape(registry: Registry) -> None:
    flux = registry.prepare({"model": "flux/schnell", "prompt": "x", "n": 2})
    answer = registry.normalise(
        flux, {"images": [{"url": "a", "width": 1}, {"url": "b"}], "seed": 5}, created=10
    )
    assert answer.body == {"created": 10, "data": [{"url": "a"}, {"url": "b"}], "seed": 5}
    current = registry.normalise(
        flux,
        {
            "data": [{"url": "a", "b64_json": None}],
            "meta": {"usage": {"credits_used": 107341, "usd_spent": 0.0536705}},
        },
        created=10,
    )
    assert current.body == {
        "created": 10,
        "data": [{"url": "a"}],
        "usage": {"credits_used": 107341, "usd_spent": 0.0536705},
    }
    choices = registry.normalise(
        flux, {"output": {"choices": [{"image_base64": "QUJD"}]}}, created=10
    )
    assert choices.body == {"created": 10, "data": [{"b64_json": "QUJD"}]}
    dalle = registry.prepare({"model": "dall-e-3", "prompt": "x"})
    raw = {"created": 1, "data": [{"url": "a", "revised_prompt": "r"}]}
    assert registry.normalise(dalle, raw, created=10).body is raw


def test_b64_from_data_urls(registry: Registry) -> None:
    imagen = registry.prepare(
        {"model": "imagen-3.0-generate-002", "prompt": "x", "response_format": "b64_json"}
    )
    answer = registry.normalise(
        imagen, {"data": [{"url": "data:image/png;base64,QUJD"}]}, created=1
    )
    assert answer.body["data"] == [{"b64_json": "QUJD"}]


@pytest.mark.parametrize(
    "bad", [None, [], {"data": "x"}, {"images": [{"nope": 1}]}, "html", {"output": 3}]
)
def test_unreadable_answers(registry: Registry, bad: Any) -> None:
    prepared = registry.prepare({"model": "flux/schnell", "prompt": "x"})
    with pytest.raises(UpstreamError):
        registry.normalise(prepared, bad, created=1)


def test_odd_created_falls_back_to_the_gateway_clock(registry: Registry) -> None:
    prepared = registry.prepare({"model": "flux/schnell", "prompt": "x"})
    answer = registry.normalise(prepared, {"created": "soon", "images": [{"url": "a"}]}, created=42)
    assert answer.body["created"] == 42


def test_operator_file_adds_and_replaces_models(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text(
        "allow_unknown = true\n"
        '[models."acme/painter"]\n'
        'family = "acme"\n'
        'aliases = ["painter"]\n'
        'count = "num_images"\n'
        'size = [{ field = "aspect_ratio", kind = "aspect_ratio" }]\n'
        '[models."acme/painter".generate.schema]\n'
        'type = "object"\n'
        'required = ["prompt"]\n'
        '[models."acme/painter".generate.schema.properties]\n'
        'prompt = { type = "string", maxLength = 10 }\n'
        'num_images = { type = "integer", maximum = 2 }\n'
        'aspect_ratio = { enum = ["1:1", "16:9"] }\n'
        '[models."openai/gpt-image-1"]\n'
        'like = "openai/gpt-image-1"\n'
        'aliases = ["gpt-image-1", "painter-pro"]\n'
    )
    registry = Registry.load(path)
    prepared = registry.prepare({"model": "painter", "prompt": "x", "n": 2, "size": "1920x1080"})
    assert prepared.upstream_body == {
        "model": "acme/painter",
        "prompt": "x",
        "num_images": 2,
        "aspect_ratio": "16:9",
    }
    with pytest.raises(InvalidRequest) as caught:
        registry.prepare({"model": "painter", "prompt": "x" * 11})
    assert caught.value.param == "prompt"
    gpt = registry.get("painter-pro")
    assert gpt is not None and gpt.id == "openai/gpt-image-1" and gpt.edit is not None
    assert registry.prepare({"model": "brand-new", "prompt": "x"}).model.family == "passthrough"


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
fields = st.sampled_from(
    [
        "model",
        "prompt",
        "n",
        "size",
        "response_format",
        "num_images",
        "image_size",
        "aspect_ratio",
        "resolution",
        "convert_base64_to_url",
        "image_urls",
        "quality",
        "style",
        "seed",
    ]
)
models = st.sampled_from(
    [
        "dall-e-2",
        "dall-e-3",
        "gpt-image-1",
        "flux/schnell",
        "imagen-3.0-generate-002",
        "google/nano-banana-pro",
        "x-ai/grok-imagine-image",
        "blackforestlabs/flux-2-edit",
        "recraft-v3",
    ]
)


@settings(max_examples=400, deadline=None)
@given(model=models, body=st.dictionaries(fields, json_values, max_size=6))
def test_prepare_only_ever_raises_invalid_request(
    registry: Registry, model: str, body: dict[str, Any]
) -> None:
    body.setdefault("model", model)
    try:
        prepared = registry.prepare(body)
    except InvalidRequest as exc:
        param = exc.param
    else:
        param = "ok" if prepared.images >= 1 else None
        orjson.dumps(prepared.cache_fields)
    assert param
