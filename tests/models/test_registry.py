"""The model registry and the per-family adapters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import InvalidRequest, UpstreamError
from gateway.models.registry import Registry


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load()


def test_every_documented_model_is_known(registry: Registry) -> None:
    expected = {
        "dall-e-2",
        "dall-e-3",
        "openai/gpt-image-1",
        "openai/gpt-image-1-mini",
        "openai/gpt-image-1-5",
        "flux/schnell",
        "flux/dev",
        "flux-pro",
        "flux-pro/v1.1",
        "flux-realism",
        "flux-pro/v1.1-ultra",
        "stable-diffusion-v3-medium",
        "stable-diffusion-v35-large",
        "recraft-v3",
        "imagen-3.0-generate-002",
        "google/imagen-4.0-generate-001",
        "google/imagen-4.0-ultra-generate-001",
    }
    assert {m.id for m in registry.models()} == expected


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
            {"model": "flux-pro/v1.1-ultra", "prompt": "x", "size": "1792x1024"},
            {"model": "flux-pro/v1.1-ultra", "prompt": "x", "aspect_ratio": "16:9"},
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
            {"model": "recraft-v3", "prompt": "x", "response_format": "url", "style": "any"},
            {"model": "recraft-v3", "prompt": "x", "style": "any"},
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
    ],
)
def test_translation(registry: Registry, body: dict[str, Any], upstream: dict[str, Any]) -> None:
    assert registry.prepare(body).upstream_body == upstream


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "flux/schnell", "prompt": "x", "n": 2, "num_images": 2}, "n"),
        ({"model": "flux/schnell", "prompt": "x", "size": "1x1"}, "size"),
        (
            {"model": "flux/schnell", "prompt": "x", "size": "512x512", "image_size": "square"},
            "size",
        ),
        ({"model": "flux/schnell", "prompt": "x", "n": 5}, "n"),
        (
            {"model": "flux/schnell", "prompt": "x", "response_format": "b64_json"},
            "response_format",
        ),
        ({"model": "imagen-3.0-generate-002", "prompt": "x" * 401}, "prompt"),
        ({"model": "dall-e-3", "prompt": "x", "n": 2}, "n"),
        ({"model": "dall-e-3", "prompt": "x", "style": "cartoon"}, "style"),
        (
            {"model": "openai/gpt-image-1", "prompt": "x", "output_compression": 101},
            "output_compression",
        ),
        ({"model": "dall-e-2", "prompt": "x", "n": True}, "n"),
        ({"model": "dall-e-2", "prompt": "x", "n": 1.5}, "n"),
        ({"model": "dall-e-2", "prompt": ["x"]}, "prompt"),
        ({"model": 3, "prompt": "x"}, "model"),
    ],
)
def test_bad_input_names_the_field(registry: Registry, body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        registry.prepare(body)
    assert caught.value.param == param


def test_null_optional_fields_mean_absent(registry: Registry) -> None:
    prepared = registry.prepare({"model": "dall-e-2", "prompt": "x", "n": None, "size": None})
    assert prepared.images == 1


def test_cache_fields_fill_defaults_and_ignore_user(registry: Registry) -> None:
    short = registry.prepare({"model": "dall-e-2", "prompt": "x"}).cache_fields
    full = registry.prepare(
        {
            "model": "dall-e-2",
            "prompt": "x",
            "n": 1,
            "size": "1024x1024",
            "response_format": "url",
            "user": "u",
        }
    ).cache_fields
    assert short == full
    other = registry.prepare({"model": "dall-e-2", "prompt": "x", "quality": "hd"})
    assert other.cache_fields != short


def test_normalise_each_shape(registry: Registry) -> None:
    flux = registry.prepare({"model": "flux/schnell", "prompt": "x", "n": 2})
    answer = registry.normalise(
        flux, {"images": [{"url": "a", "width": 1}, {"url": "b"}], "seed": 5}, created=10
    )
    assert answer.body == {"created": 10, "data": [{"url": "a"}, {"url": "b"}], "seed": 5}
    imagen = registry.prepare({"model": "imagen-3.0-generate-002", "prompt": "x"})
    answer = registry.normalise(
        imagen,
        {"data": [{"url": "a", "mime_type": "image/png"}], "meta": {"usage": {"tokens_used": 3}}},
        created=10,
    )
    assert answer.body == {"created": 10, "data": [{"url": "a"}], "usage": {"tokens_used": 3}}
    dalle = registry.prepare({"model": "dall-e-3", "prompt": "x"})
    raw = {"created": 1, "data": [{"url": "a", "revised_prompt": "r"}]}
    assert registry.normalise(dalle, raw, created=10).body is raw


@pytest.mark.parametrize("bad", [None, [], {"data": "x"}, {"images": [{"nope": 1}]}, "html"])
def test_unreadable_answers(registry: Registry, bad: Any) -> None:
    prepared = registry.prepare({"model": "flux/schnell", "prompt": "x"})
    with pytest.raises(UpstreamError):
        registry.normalise(prepared, bad, created=1)


def test_override_file_adds_models(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text('allow_unknown = true\n[models."flux/krea"]\nfamily = "flux"\n')
    registry = Registry.load(path)
    assert registry.get("flux/krea") is not None
    assert registry.prepare({"model": "brand-new", "prompt": "x"}).model.family == "passthrough"
    path.write_text('[models."x"]\nfamily = "nope"\n')
    with pytest.raises(ValueError, match="unknown family"):
        Registry.load(path)


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
        "quality",
        "style",
        "seed",
    ]
)
models = st.sampled_from(
    [
        "dall-e-2",
        "dall-e-3",
        "flux/schnell",
        "imagen-3.0-generate-002",
        "flux-pro/v1.1-ultra",
        "recraft-v3",
        "openai/gpt-image-1",
    ]
)


@settings(max_examples=300, deadline=None)
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
    assert param


def test_odd_created_falls_back_to_the_gateway_clock(registry: Registry) -> None:
    prepared = registry.prepare({"model": "flux/schnell", "prompt": "x"})
    answer = registry.normalise(prepared, {"created": "soon", "images": [{"url": "a"}]}, created=42)
    assert answer.body["created"] == 42
