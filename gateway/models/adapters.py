"""Translation between OpenAI's image API and each model's own fields, and back.

Requests: ``n`` becomes the model's count field; ``size`` "WxH" becomes ``image_size``
(``{width, height}`` within the model's bounds, or a preset of those exact dimensions),
the nearest ``aspect_ratio``, the ``resolution`` that covers it, or stays ``size``;
``response_format`` stays where the model has it, becomes a flag where the model has one
(``convert_base64_to_url``), and is refused with a clear message where the model only
returns URLs. Native fields pass through as sent; sending both dialects for one thing is
a 400 naming the field. The translated body is then checked against the model's
published schema.

Answers: every shape the upstream uses (``{"data", "meta": {"usage"}}``, ``{"images"}``,
``{"output": {"choices"}}``, OpenAI's own) becomes ``{"created", "data": [...]}``, with
the upstream's ``usage`` (``meta.usage``: credits and USD) kept where OpenAI's answer has
its own ``usage``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from gateway.errors import InvalidRequest, UpstreamError
from gateway.models import roles
from gateway.models.edit_input import EditInput
from gateway.models.spec import ModelSpec, SizeTarget

MAX_IMAGES = 10_000
OPENAI_FIELDS = ("n", "size", "response_format", "user", "safety_identifier")
METADATA = ("user", "safety_identifier")
ITEM_FIELDS = frozenset(("url", "b64_json", "revised_prompt"))
KEPT = ("background", "output_format", "quality", "size", "seed")
FORMATS = ("url", "b64_json")


@dataclass(frozen=True, slots=True)
class PreparedRequest:
    """A validated request: what goes upstream, how many images, and its cache identity."""

    model: ModelSpec
    upstream_body: dict[str, Any]
    images: int
    cache_fields: dict[str, Any]
    response_format: str
    edit: EditInput | None = None
    """An edit's route and files (:mod:`gateway.models.edits`); None for a generation."""


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


def _count(spec: ModelSpec, body: dict[str, Any], out: dict[str, Any], renamed: Any) -> int:
    n = body.get("n")
    count = spec.count
    field = count.field if count is not None else None
    if n is not None and field is None:
        if _integer(n, "n") != 1:
            raise _bad(f"{spec.id} makes one image per request; n must be 1.", "n")
        out.pop("n", None)
        return 1
    if field is None or count is None:
        return 1
    param = "n" if n is not None else field
    given = n if n is not None else body.get(field)
    if n is not None and field != "n":
        if body.get(field) is not None:
            raise _bad(f"Send either n or {field} to {spec.id}, not both.", "n")
        out.pop("n", None)
        renamed[field] = "n"
    if given is None:
        return count.default
    images = _integer(given, param)
    if not 1 <= images <= MAX_IMAGES:
        raise _bad(f"{param} must be from 1 to {MAX_IMAGES}; got {images}.", param)
    out[field] = images
    return images


def _parse_size(value: Any) -> tuple[int, int]:
    found = roles.WXH.match(value.lower()) if isinstance(value, str) else None
    if found is None:
        shown = repr(value)[:40]
        raise _bad(f"Invalid size {shown}: expected 'WIDTHxHEIGHT' such as '1024x1024'.", "size")
    return int(found.group(1)), int(found.group(2))


def _distance(ratio: float, w: int, h: int) -> float:
    return abs(math.log((w / h) / ratio))


def _within(value: int, bounds: tuple[int | None, int | None]) -> bool:
    low, high = bounds
    return (low is None or value >= low) and (high is None or value <= high)


def _sides(bounds: tuple[int | None, int | None]) -> str:
    low, high = bounds
    if high is None:
        return f"at least {low}"
    return f"from {low or 1} to {high}"


def _image_size(target: SizeTarget, w: int, h: int, model: str) -> Any:
    width, height = target.width, target.height
    if width is not None and height is not None and _within(w, width) and _within(h, height):
        return {"width": w, "height": h}
    presets = [p for p in target.values if p in roles.PRESETS]
    for preset in presets:
        if roles.PRESETS[preset] == (w, h):
            return preset
    if (target.width is None or target.height is None) and presets:
        return min(
            presets, key=lambda p: _distance(roles.PRESETS[p][0] / roles.PRESETS[p][1], w, h)
        )
    if target.width is None or target.height is None:
        raise _bad(f"{model} does not take a size in pixels; leave size out.", "size")
    raise _bad(
        f"size {w}x{h} is outside what {model} makes: width {_sides(target.width)}, "
        f"height {_sides(target.height)} pixels.",
        "size",
    )


def _mapped(target: SizeTarget, size: str, w: int, h: int, model: str) -> Any:
    if target.kind == "wxh":
        return size
    if target.kind == "image_size":
        return _image_size(target, w, h, model)
    if target.kind == "aspect_ratio":
        ratios = [(v, roles.ratio_of(v)) for v in target.values]
        known = [(v, r) for v, r in ratios if r is not None]
        return min(known, key=lambda pair: _distance(pair[1], w, h))[0]
    sized = sorted(
        ((p, v) for v in target.values if (p := roles.pixels_of(v)) is not None),
        key=lambda pair: pair[0],
    )
    return next((v for p, v in sized if p >= max(w, h)), sized[-1][1])


def _size(spec: ModelSpec, body: dict[str, Any], out: dict[str, Any], renamed: Any) -> None:
    size = body.get("size")
    targets = spec.sizes
    if size is None or not targets or (len(targets) == 1 and targets[0].field == "size"):
        return
    for target in targets:
        if target.field != "size" and body.get(target.field) is not None:
            raise _bad(f"Send either size or {target.field} to {spec.id}, not both.", "size")
    out.pop("size", None)
    if size == "auto":
        return
    w, h = _parse_size(size)
    for target in targets:
        out[target.field] = _mapped(target, size, w, h, spec.id)
        renamed[target.field] = "size"


def _response_format(
    spec: ModelSpec, body: dict[str, Any], out: dict[str, Any], renamed: Any
) -> str:
    fmt = body.get("response_format")
    formats = spec.formats
    if formats.kind == "native":
        return fmt if isinstance(fmt, str) else formats.default
    if fmt is not None and fmt not in FORMATS:
        shown = repr(fmt)[:40]
        raise _bad(
            f"Invalid value {shown} for response_format; allowed: url, b64_json.", "response_format"
        )
    flag = formats.field
    if formats.kind == "url_flag" and flag is not None:
        if fmt is None:
            return "b64_json" if body.get(flag) is False else "url"
        if body.get(flag) is not None:
            raise _bad(
                f"Send either response_format or {flag} to {spec.id}, not both.",
                "response_format",
            )
        out.pop("response_format", None)
        out[flag] = fmt == "url"
        renamed[flag] = "response_format"
        return str(fmt)
    if fmt == "b64_json":
        raise _bad(
            f"{spec.id} returns image URLs only: response_format must be 'url' (or left out).",
            "response_format",
        )
    out.pop("response_format", None)
    return "url"


def prepare(spec: ModelSpec, body: dict[str, Any]) -> PreparedRequest:
    """Validate ``body`` for ``spec`` and build the upstream body and the cache identity."""
    out = dict(body)
    for name in OPENAI_FIELDS:
        if name in out and out[name] is None:
            del out[name]
    out["model"] = spec.id
    renamed: dict[str, str] = {}
    images = _count(spec, body, out, renamed)
    _size(spec, body, out, renamed)
    fmt = _response_format(spec, body, out, renamed)
    if spec.closed and spec.check is not None:
        declared = roles.properties(spec.check.schema)
        for name in METADATA:
            if name in out and name not in declared:
                del out[name]
    if spec.check is not None:
        spec.check.check(out, spec.id, renamed)
    else:
        prompt = out.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise _bad("You must provide a prompt as a non-empty string.", "prompt")
    cache_fields = {**spec.defaults, **out}
    for name in METADATA:
        cache_fields.pop(name, None)
    cache_fields["response_format"] = fmt
    return PreparedRequest(spec, out, images, cache_fields, fmt)


def _unreadable() -> UpstreamError:
    return UpstreamError("The upstream returned an answer the gateway could not read.")


def _item(raw: Any, b64: bool) -> dict[str, Any]:
    if isinstance(raw, str):
        raw = {"url": raw}
    if not isinstance(raw, dict):
        raise _unreadable()
    if "image_base64" in raw and "b64_json" not in raw:
        raw = {**raw, "b64_json": raw["image_base64"]}
    item = {k: raw[k] for k in ITEM_FIELDS if raw.get(k) is not None}
    if "url" not in item and "b64_json" not in item:
        raise _unreadable()
    url = item.get("url")
    if b64 and "b64_json" not in item and isinstance(url, str) and url.startswith("data:"):
        _head, comma, encoded = url.partition(",")
        if comma:
            item = {"b64_json": encoded, **{k: v for k, v in item.items() if k != "url"}}
    return item


def _items(upstream: dict[str, Any]) -> list[Any]:
    for found in (upstream.get("data"), upstream.get("images")):
        if isinstance(found, list):
            return found
    output = upstream.get("output")
    if isinstance(output, dict):
        for key in ("choices", "images", "data"):
            if isinstance(output.get(key), list):
                return list(output[key])
    raise _unreadable()


def _is_openai(upstream: dict[str, Any], b64: bool) -> bool:
    data = upstream.get("data")
    created = upstream.get("created")
    if "meta" in upstream or not isinstance(data, list) or isinstance(created, bool):
        return False
    if not isinstance(created, int):
        return False
    for item in data:
        if not isinstance(item, dict) or not item.keys() <= ITEM_FIELDS:
            return False
        if not (item.get("url") or item.get("b64_json")) or (b64 and "b64_json" not in item):
            return False
    return True


def normalise(prepared: PreparedRequest, upstream: Any, *, created: int) -> NormalisedResponse:
    """Turn any upstream answer into ``{"created", "data": [...]}`` (usage kept)."""
    if not isinstance(upstream, dict):
        raise _unreadable()
    b64 = prepared.response_format == "b64_json"
    if _is_openai(upstream, b64):
        return NormalisedResponse(upstream, len(upstream["data"]))
    meta = upstream.get("meta")
    reported = meta.get("usage") if isinstance(meta, dict) else None
    if not isinstance(reported, dict):
        reported = upstream.get("usage") if isinstance(upstream.get("usage"), dict) else None
    data = [_item(item, b64) for item in _items(upstream)]
    stamp = upstream.get("created")
    if isinstance(stamp, bool) or not isinstance(stamp, int | float):
        stamp = created
    body: dict[str, Any] = {"created": int(stamp), "data": data}
    for extra in KEPT:
        if extra in upstream:
            body[extra] = upstream[extra]
    if reported is not None:
        body["usage"] = reported
    return NormalisedResponse(body, len(data))
