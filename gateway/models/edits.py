"""Image edits: an edit form's fields and files as the request the model's edit route takes.

A multipart form sends every field as text, so each is first read as the type the model's
schema gives it (``n=2`` is the number 2). Then, by the model's :class:`Edit` route:

- ``multipart`` (``openai/gpt-image-1``, ``openai/gpt-image-2``): the fields are mapped
  and checked as for a generation, against the edit operation's own schema; the files go
  upstream as they came (:mod:`gateway.pipeline.edits` encodes them).
- ``json`` (image-to-image models): the files become data URLs in the model's image
  field (a string, or an array, within the model's ``max_items``) of a generation body,
  checked against the generation schema with the data URLs in place.

Either way the body prepared here leaves the files out (they are added as the request is
sent, read from where they were spooled) and the cache identity names each file, and the
mask, by its SHA-256: the same edit twice is one upstream call; another image is not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import orjson

from gateway.errors import InvalidRequest
from gateway.models import roles
from gateway.models.adapters import PreparedRequest, prepare
from gateway.models.edit_input import EditFile, EditInput
from gateway.models.spec import Edit, ModelSpec

OPENAI_INTEGERS = ("n", "output_compression", "partial_images")
"""OpenAI's integer edit fields, read as integers even where the model's schema lacks them
(``n`` becomes ``num_images``, which the schema has)."""
IMAGES_KEY = "/images"
MASK_KEY = "/mask"
"""Cache-identity names no schema field can have: an edit never shares a key with a
generation."""
DATA_URL = "data:{media_type};base64,"
INTEGER = re.compile(r"^-?[0-9]{1,18}$")
TRUE_FALSE = {"true": True, "false": False}


def _typed(name: str, value: str, prop: Any) -> Any:
    """A form field's text as the type the schema gives the field (text otherwise)."""
    kinds = roles.types_of(prop) if isinstance(prop, dict) else set()
    if not kinds and name in OPENAI_INTEGERS:
        kinds = {"integer"}
    if not kinds or "string" in kinds:
        return value
    text = value.strip()
    if kinds & {"integer", "number"}:
        if INTEGER.match(text):
            return int(text)
        if "number" in kinds:
            try:
                number = float(text)
            except ValueError:
                return value
            return number if number == number and abs(number) != float("inf") else value
    if "boolean" in kinds and text.lower() in TRUE_FALSE:
        return TRUE_FALSE[text.lower()]
    if kinds & {"array", "object"} and text[:1] in ("[", "{"):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            return value
    return value


def typed_fields(fields: Mapping[str, str], schema: Mapping[str, Any] | None) -> dict[str, Any]:
    """Every form field, read as the type ``schema`` gives it."""
    props = roles.properties(dict(schema)) if schema is not None else {}
    return {name: _typed(name, value, props.get(name)) for name, value in fields.items()}


def _plural(count: int) -> str:
    return "image" if count == 1 else "images"


def _check_files(
    spec: ModelSpec,
    route: Edit,
    images: Sequence[EditFile],
    mask: EditFile | None,
    masked: Sequence[str],
) -> None:
    if not images:
        raise InvalidRequest(
            "An edit needs at least one image file: 'image' (or 'image[]' for several).",
            param="image",
            code="missing_required_parameter",
        )
    most = route.max_items
    if most is not None and len(images) > most:
        raise InvalidRequest(
            f"{spec.id} takes at most {most} {_plural(most)} (its {route.field!r} field); "
            f"{len(images)} were sent.",
            param="image",
        )
    if mask is not None and route.mask_field is None:
        raise InvalidRequest(
            f"{spec.id} takes no mask. Models that take one: {', '.join(masked)}.",
            param="mask",
        )


def prepare_edit(
    spec: ModelSpec,
    fields: Mapping[str, str],
    images: Sequence[EditFile],
    mask: EditFile | None,
    *,
    editors: Sequence[str],
    masked: Sequence[str],
) -> PreparedRequest:
    """Validate an edit for ``spec`` and prepare it for the model's edit route.

    ``editors`` and ``masked`` are the models that edit, and those that take a mask, named
    in the messages of a refusal."""
    route = spec.edit
    if route is None:
        raise InvalidRequest(
            f"{spec.id} does not edit images. Models that edit: {', '.join(editors)}.",
            param="model",
            code="model_not_supported",
        )
    if fields.get("stream", "").strip().lower() in ("true", "1"):
        raise InvalidRequest("Streaming image edits are not supported.", param="stream")
    _check_files(spec, route, images, mask, masked)
    digests = [image.sha256 for image in images]
    if route.kind == "multipart":
        schema = route.check.schema if route.check is not None else None
        prepared = prepare(replace(spec, check=route.check), typed_fields(fields, schema))
        cache_fields = {**prepared.cache_fields, IMAGES_KEY: digests}
        if mask is not None:
            cache_fields[MASK_KEY] = mask.sha256
        edit = EditInput(route, tuple(images), mask)
        return replace(prepared, model=spec, cache_fields=cache_fields, edit=edit)
    field = route.field
    if field in fields:
        raise InvalidRequest(
            f"Send the images either as files or as {field!r}, not both.", param=field
        )
    array = route.style == "array" or (route.style == "string_or_array" and len(images) > 1)
    urls = [DATA_URL.format(media_type=image.media_type) for image in images]
    body = typed_fields(fields, spec.check.schema if spec.check is not None else None)
    body[field] = urls if array else urls[0]
    prepared = prepare(spec, body)
    upstream = {name: value for name, value in prepared.upstream_body.items() if name != field}
    cache_fields = {n: v for n, v in prepared.cache_fields.items() if n != field}
    cache_fields[IMAGES_KEY] = digests
    edit = EditInput(route, tuple(images), None, array)
    return replace(prepared, upstream_body=upstream, cache_fields=cache_fields, edit=edit)
