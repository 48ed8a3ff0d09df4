"""Translation between OpenAI's image schema and each model family's own dialect.

Requests: ``n`` becomes the model's count field, ``size`` "WxH" becomes ``image_size``
``{width, height}`` or the nearest ``aspect_ratio``, ``response_format`` is kept where
the model has it. Native fields pass through as sent; both dialects at once is a 400.
Answers: ``images[]`` and ``data[]`` + ``meta`` become ``{"created", "data"}``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from gateway.errors import InvalidRequest, UpstreamError
from gateway.models.spec import ModelSpec

MIN_SIDE, MAX_SIDE = 64, 8192


@dataclass(frozen=True, slots=True)
class PreparedRequest:
    """A validated request: what goes upstream, how many images, and its cache identity."""

    model: ModelSpec
    upstream_body: dict[str, Any]
    images: int
    cache_fields: dict[str, Any]
    response_format: str


@dataclass(frozen=True, slots=True)
class NormalisedResponse:
    """An answer in OpenAI's shape, with its image count."""

    body: dict[str, Any]
    images: int


def _bad(message: str, param: str) -> InvalidRequest:
    return InvalidRequest(message, param=param)


def _integer(value: Any, param: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(f"{param} must be an integer, not {type(value).__name__}.", param)
    if isinstance(value, float) and not value.is_integer():
        raise _bad(f"{param} must be an integer, not {value}.", param)
    return int(value)


def _parse_size(value: Any, param: str = "size") -> tuple[int, int]:
    if not isinstance(value, str):
        raise _bad(f"{param} must be a string like '1024x768'.", param)
    width, sep, height = value.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        raise _bad(f"Invalid {param} {value[:40]!r}: expected 'WIDTHxHEIGHT'.", param)
    w, h = int(width), int(height)
    if not (MIN_SIDE <= w <= MAX_SIDE and MIN_SIDE <= h <= MAX_SIDE):
        raise _bad(f"{param} sides must be from {MIN_SIDE} to {MAX_SIDE} pixels.", param)
    return w, h


def _nearest_ratio(w: int, h: int, values: tuple[str, ...]) -> str:
    def distance(ratio: str) -> float:
        a, _, b = ratio.partition(":")
        return abs(math.log((w / h) / (float(a) / float(b))))

    return min(values, key=distance)


def _check_enum(value: Any, allowed: tuple[str, ...], param: str) -> None:
    if value not in allowed:
        shown = repr(value)[:60]
        raise _bad(f"Invalid value {shown} for {param}; allowed: {', '.join(allowed)}.", param)


def _image_size(value: Any, presets: tuple[str, ...]) -> None:
    if isinstance(value, str):
        _check_enum(value, presets, "image_size")
        return
    if not isinstance(value, dict) or set(value) != {"width", "height"}:
        raise _bad('image_size must be a preset name or {"width", "height"}.', "image_size")
    for side in ("width", "height"):
        n = _integer(value[side], "image_size")
        if not MIN_SIDE <= n <= MAX_SIDE:
            raise _bad(f"image_size.{side} must be from {MIN_SIDE} to {MAX_SIDE}.", "image_size")


def _count(spec: ModelSpec, body: dict[str, Any], out: dict[str, Any]) -> int:
    field = spec.count.field
    given = body.get(field)
    if field != "n" and body.get("n") is not None:
        if given is not None:
            raise _bad(f"Send either n or {field}, not both.", "n")
        given = body["n"]
        out.pop("n", None)
        out[field] = given
    param = "n" if body.get("n") is not None else field
    if given is None:
        return spec.count.default
    count = _integer(given, param)
    if not spec.count.min <= count <= spec.count.max:
        raise _bad(
            f"{param} must be from {spec.count.min} to {spec.count.max} for "
            f"{spec.id}; got {count}.",
            param,
        )
    if field in out:
        out[field] = count if field != "n" or not isinstance(given, float) else given
    return count


def _size(spec: ModelSpec, body: dict[str, Any], out: dict[str, Any]) -> None:
    size = spec.size
    if size is None:
        return
    if size.kind == "enum":
        if body.get(size.field) is not None:
            _check_enum(body[size.field], size.values, size.field)
        return
    native = body.get(size.field)
    openai_size = body.get("size")
    if openai_size is not None and native is not None:
        raise _bad(f"Send either size or {size.field}, not both.", "size")
    if openai_size is not None:
        w, h = _parse_size(openai_size)
        out.pop("size", None)
        if size.kind == "image_size":
            out[size.field] = {"width": w, "height": h}
        else:
            out[size.field] = _nearest_ratio(w, h, size.values)
    elif native is not None:
        if size.kind == "image_size":
            _image_size(native, size.values)
        else:
            _check_enum(native, size.values, size.field)


def _response_format(spec: ModelSpec, body: dict[str, Any], out: dict[str, Any]) -> str:
    value = body.get("response_format")
    if value is None:
        return spec.format_default
    _check_enum(value, spec.formats, "response_format")
    if not spec.format_native:
        out.pop("response_format", None)
    return str(value)


def _others(spec: ModelSpec, body: dict[str, Any]) -> None:
    for name, (allowed, _default) in spec.enums.items():
        if body.get(name) is not None:
            _check_enum(body[name], allowed, name)
    for name, (low, high) in spec.ranges.items():
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _bad(f"{name} must be a number.", name)
        if not low <= value <= high:
            raise _bad(f"{name} must be from {low:g} to {high:g}; got {value}.", name)


def prepare(spec: ModelSpec, body: dict[str, Any]) -> PreparedRequest:
    """Validate ``body`` for ``spec`` and build the upstream body and the cache identity."""
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise _bad("You must provide a prompt as a non-empty string.", "prompt")
    if len(prompt) > spec.prompt_max:
        raise _bad(
            f"The prompt is {len(prompt)} characters long; {spec.id} accepts at most "
            f"{spec.prompt_max}.",
            "prompt",
        )
    out = {k: v for k, v in body.items() if v is not None}
    images = _count(spec, body, out)
    _size(spec, body, out)
    fmt = _response_format(spec, body, out)
    _others(spec, body)
    if spec.format_native and spec.family != "passthrough":
        out = dict(body)
    cache_fields = {k: v for k, v in out.items() if k != "user"}
    cache_fields[spec.count.field] = images
    if spec.size is not None and spec.size.default is not None:
        cache_fields.setdefault(spec.size.field, spec.size.default)
    for name, (_values, default) in spec.enums.items():
        if default is not None:
            cache_fields.setdefault(name, default)
    cache_fields["response_format"] = fmt
    return PreparedRequest(spec, out, images, cache_fields, fmt)


def _item(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise UpstreamError("The upstream returned an answer the gateway could not read.")
    if "url" in raw or "b64_json" in raw:
        keep = ("url", "b64_json", "revised_prompt")
        return {k: raw[k] for k in keep if k in raw}
    if "image_base64" in raw:
        return {"b64_json": raw["image_base64"]}
    raise UpstreamError("The upstream returned an answer the gateway could not read.")


def normalise(prepared: PreparedRequest, upstream: Any, *, created: int) -> NormalisedResponse:
    """Turn a family's answer into ``{"created", "data": [...]}`` (extras kept)."""
    if not isinstance(upstream, dict):
        raise UpstreamError("The upstream returned an answer the gateway could not read.")
    shape = prepared.model.response
    if (
        shape in ("openai", "any")
        and isinstance(upstream.get("data"), list)
        and ("meta" not in upstream)
    ):
        for item in upstream["data"]:
            _item(item)
        return NormalisedResponse(upstream, len(upstream["data"]))
    items: Any = upstream.get("images")
    if items is None:
        items = upstream.get("data")
    if items is None and isinstance(upstream.get("output"), dict):
        items = upstream["output"].get("choices")
    if not isinstance(items, list):
        raise UpstreamError("The upstream returned an answer the gateway could not read.")
    data = [_item(item) for item in items]
    stamp = upstream.get("created")
    if isinstance(stamp, bool) or not isinstance(stamp, int | float):
        stamp = created
    body: dict[str, Any] = {"created": int(stamp), "data": data}
    for extra in ("seed", "usage"):
        if extra in upstream:
            body[extra] = upstream[extra]
    meta = upstream.get("meta")
    if isinstance(meta, dict) and "usage" in meta:
        body["usage"] = meta["usage"]
    return NormalisedResponse(body, len(data))
