"""Edit forms prepared for the model's edit route: fields typed by the schema, files checked
against what the model takes, and a cache identity that names every file."""

from __future__ import annotations

import hashlib
import io
from typing import IO

import pytest

from gateway.errors import InvalidRequest
from gateway.models.adapters import PreparedRequest
from gateway.models.edits import IMAGES_KEY, MASK_KEY, typed_fields
from gateway.models.registry import Registry

PNG = b"\x89PNG\r\n\x1a\n" + b"png" * 10


class File:
    """An uploaded file as the parser leaves it."""

    def __init__(self, data: bytes = PNG, field: str = "image") -> None:
        self.data = data
        self.field = field
        self.filename: str | None = "a.png"
        self.content_type: str | None = "image/png"
        self.media_type = "image/png"
        self.file: IO[bytes] = io.BytesIO(data)
        self.size = len(data)
        self.sha256 = hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load()


def edit(
    registry: Registry, images: list[File] | None = None, mask: File | None = None, **fields: str
) -> PreparedRequest:
    return registry.prepare_edit(fields, [File()] if images is None else images, mask)


def refused(registry: Registry, *args: object, **fields: str) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        edit(registry, *args, **fields)  # type: ignore[arg-type]
    return caught.value


def test_form_text_is_read_as_the_schema_types_it() -> None:
    schema = {
        "properties": {
            "num_images": {"type": "integer"},
            "guidance_scale": {"type": "number"},
            "sync_mode": {"type": "boolean"},
            "image_size": {"anyOf": [{"type": "string"}, {"type": "object"}]},
            "safety_tolerance": {"type": "string"},
            "loras": {"type": "array"},
        }
    }
    fields = {
        "n": "2",
        "num_images": "3",
        "guidance_scale": "2.5",
        "sync_mode": "true",
        "image_size": "square",
        "safety_tolerance": "2",
        "loras": '[{"path": "x"}]',
        "output_compression": "ninety",
        "other": "7",
    }
    assert typed_fields(fields, schema) == {
        "n": 2,
        "num_images": 3,
        "guidance_scale": 2.5,
        "sync_mode": True,
        "image_size": "square",
        "safety_tolerance": "2",
        "loras": [{"path": "x"}],
        "output_compression": "ninety",
        "other": "7",
    }


def test_a_multipart_edit_is_checked_against_the_edit_schema(registry: Registry) -> None:
    prepared = edit(registry, model="gpt-image-1", prompt="hat", n="3", quality="low")
    assert prepared.model.id == "openai/gpt-image-1" and prepared.images == 3
    assert prepared.upstream_body == {
        "model": "openai/gpt-image-1",
        "prompt": "hat",
        "n": 3,
        "quality": "low",
    }
    assert prepared.edit is not None and prepared.edit.route.kind == "multipart"
    error = refused(registry, model="gpt-image-1", prompt="hat", quality="ultra")
    assert error.param == "quality"
    assert refused(registry, model="gpt-image-1", prompt="hat", n="11").param == "n"


def test_the_cache_identity_names_every_file_and_the_mask(registry: Registry) -> None:
    one = edit(registry, model="gpt-image-1", prompt="p").cache_fields
    again = edit(registry, model="gpt-image-1", prompt="p").cache_fields
    other = edit(registry, [File(PNG + b"!")], model="gpt-image-1", prompt="p").cache_fields
    masked = edit(registry, None, File(PNG, "mask"), model="gpt-image-1", prompt="p").cache_fields
    assert one == again and one != other and one != masked
    assert one[IMAGES_KEY] == [hashlib.sha256(PNG).hexdigest()]
    assert masked[MASK_KEY] == hashlib.sha256(PNG).hexdigest()
    generation = registry.prepare({"model": "gpt-image-1", "prompt": "p"}).cache_fields
    assert IMAGES_KEY not in generation


@pytest.mark.parametrize(
    ("model", "field", "count", "sent"),
    [
        ("flux/dev/image-to-image", "image_url", 1, "string"),
        ("flux/kontext-pro/image-to-image", "image_url", 1, "string"),
        ("flux/kontext-pro/image-to-image", "image_url", 3, "array"),
        ("google/nano-banana-edit", "image_urls", 1, "array"),
        ("alibaba/qwen-image-edit", "image", 1, "string"),
    ],
)
def test_a_json_edit_leaves_the_image_field_to_the_encoder(
    registry: Registry, model: str, field: str, count: int, sent: str
) -> None:
    prepared = edit(registry, [File() for _ in range(count)], model=model, prompt="blue")
    assert field not in prepared.upstream_body and field not in prepared.cache_fields
    assert prepared.edit is not None and prepared.edit.array is (sent == "array")
    assert prepared.edit.route.field == field


def test_n_becomes_the_json_models_count_field(registry: Registry) -> None:
    prepared = edit(registry, model="flux/kontext-pro/image-to-image", prompt="x", n="2")
    assert prepared.upstream_body["num_images"] == 2 and "n" not in prepared.upstream_body


def test_what_the_model_cannot_take_is_refused_naming_the_field(registry: Registry) -> None:
    no_route = refused(registry, model="dall-e-3", prompt="x")
    assert no_route.param == "model" and "openai/gpt-image-1" in no_route.message
    assert "google/nano-banana-edit" in no_route.message
    two = [File(), File()]
    too_many = refused(registry, two, model="flux/dev/image-to-image", prompt="x")
    assert too_many.param == "image" and "at most 1 image" in too_many.message
    assert refused(registry, [], model="gpt-image-1", prompt="x").param == "image"
    mask = File(PNG, "mask")
    no_mask = refused(registry, None, mask, model="flux/dev/image-to-image", prompt="x")
    assert no_mask.param == "mask" and "openai/gpt-image-1" in no_mask.message
    both = {"image_url": "https://x/a.png"}
    assert refused(registry, model="flux/dev/image-to-image", prompt="x", **both).param == (
        "image_url"
    )
    assert refused(registry, model="gpt-image-1", prompt="x", stream="true").param == "stream"
    assert refused(registry, prompt="x").param == "model"
    assert refused(registry, model="flux/dev/image-to-image").param == "prompt"
