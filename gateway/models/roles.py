"""What a model's request schema says about the fields OpenAI's API has its own names for.

The importer uses these readers to pick each model's count, size, response-format and
image-input fields; the registry uses them to read the bounds it maps OpenAI's values into.
Bounds are always read from the schema, never copied beside it.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from gateway.models.schemas import JsonSchema

SizeKind = Literal["wxh", "image_size", "aspect_ratio", "resolution"]
FormatKind = Literal["native", "url_flag"]
ImageStyle = Literal["array", "string", "string_or_array"]
COUNT_FIELDS = ("n", "num_images")
IMAGE_FIELDS = ("image_urls", "image_url", "image")
FLAG_FIELD = "convert_base64_to_url"
PRESETS: dict[str, tuple[int, int]] = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}
WXH = re.compile(r"^([1-9][0-9]{0,4})x([1-9][0-9]{0,4})$")
RESOLUTION = re.compile(r"^([0-9]+(?:\.[0-9]+)?)[kK]$")
RATIO = re.compile(r"^([0-9]+(?:\.[0-9]+)?):([0-9]+(?:\.[0-9]+)?)$")


def properties(schema: JsonSchema) -> dict[str, JsonSchema]:
    """The top-level properties of a request schema."""
    found = schema.get("properties")
    return found if isinstance(found, dict) else {}


def branches(prop: JsonSchema) -> list[JsonSchema]:
    """The alternatives of a property (its ``anyOf`` / ``oneOf``, or itself)."""
    for key in ("anyOf", "oneOf"):
        found = prop.get(key)
        if isinstance(found, list):
            return [b for b in found if isinstance(b, dict)]
    return [prop]


def types_of(prop: JsonSchema) -> set[str]:
    """Every JSON type the property's branches name."""
    kinds: set[str] = set()
    for branch in branches(prop):
        kind = branch.get("type")
        kinds.update(kind if isinstance(kind, list) else [kind] if isinstance(kind, str) else [])
    return kinds


def enum_values(prop: JsonSchema) -> list[Any]:
    """The enumerated values of every branch, in order."""
    found: list[Any] = []
    for branch in branches(prop):
        for value in branch.get("enum") or ():
            if value not in found:
                found.append(value)
        if "const" in branch and branch["const"] not in found:
            found.append(branch["const"])
    return found


def bounds(prop: JsonSchema) -> tuple[int | None, int | None]:
    """The smallest and largest integer a numeric property takes (None: unbounded)."""
    low: float | None = prop.get("minimum")
    high: float | None = prop.get("maximum")
    if isinstance(prop.get("exclusiveMinimum"), int | float):
        low = math.floor(prop["exclusiveMinimum"]) + 1
    if isinstance(prop.get("exclusiveMaximum"), int | float):
        high = math.ceil(prop["exclusiveMaximum"]) - 1
    values = [v for v in enum_values(prop) if isinstance(v, int | float)]
    if values:
        low = min(values) if low is None else max(low, min(values))
        high = max(values) if high is None else min(high, max(values))
    return (
        None if low is None else math.ceil(low),
        None if high is None else math.floor(high),
    )


def object_branch(prop: JsonSchema) -> JsonSchema | None:
    """The ``{width, height}`` alternative of an ``image_size`` property."""
    for branch in branches(prop):
        sides = branch.get("properties")
        if isinstance(sides, dict) and "width" in sides and "height" in sides:
            return branch
    return None


def is_wxh(value: Any) -> bool:
    """Whether ``value`` is an OpenAI size string like ``1024x768``."""
    return isinstance(value, str) and WXH.match(value) is not None


def ratio_of(value: Any) -> float | None:
    """``16:9`` as 16/9; None for anything else (``auto``)."""
    found = RATIO.match(value) if isinstance(value, str) else None
    if found is None or float(found.group(2)) == 0 or float(found.group(1)) == 0:
        return None
    return float(found.group(1)) / float(found.group(2))


def pixels_of(value: Any) -> int | None:
    """``2K`` as 2048 pixels; None for anything else."""
    found = RESOLUTION.match(value) if isinstance(value, str) else None
    return round(float(found.group(1)) * 1024) if found else None


def _size_kind(name: str, prop: JsonSchema) -> str | None:
    values = enum_values(prop)
    if name == "size" and "string" in types_of(prop):
        return "wxh" if not values or any(is_wxh(v) for v in values) else None
    if name == "image_size" and (object_branch(prop) or set(values) & set(PRESETS)):
        return "image_size"
    if name == "aspect_ratio" and any(ratio_of(v) for v in values):
        return "aspect_ratio"
    if name == "resolution" and any(pixels_of(v) for v in values):
        return "resolution"
    return None


def find_count(schema: JsonSchema) -> str | None:
    """The model's count field, if it has one."""
    props = properties(schema)
    return next((name for name in COUNT_FIELDS if name in props), None)


def find_sizes(schema: JsonSchema) -> list[tuple[str, str]]:
    """(field, kind) of every field OpenAI's ``size`` maps onto."""
    found: list[tuple[str, str]] = []
    for name, prop in properties(schema).items():
        kind = _size_kind(name, prop) if isinstance(prop, dict) else None
        if kind is not None:
            found.append((name, kind))
    return found


def find_response_format(schema: JsonSchema) -> tuple[str, str] | None:
    """(field, kind) of the model's equivalent of OpenAI's ``response_format``."""
    props = properties(schema)
    if "response_format" in props:
        return "response_format", "native"
    if "boolean" in types_of(props.get(FLAG_FIELD) or {}):
        return FLAG_FIELD, "url_flag"
    return None


def find_image_input(schema: JsonSchema) -> tuple[str, str, int | None] | None:
    """(field, style, most images: None when unbounded) of the JSON field the model takes
    input images in."""
    props = properties(schema)
    for name in IMAGE_FIELDS:
        prop = props.get(name)
        if not isinstance(prop, dict):
            continue
        arrays = [b for b in branches(prop) if b.get("type") == "array"]
        strings = [b for b in branches(prop) if b.get("type") == "string"]
        most = max((int(b.get("maxItems", 0)) for b in arrays), default=0) or None
        if arrays and strings:
            return name, "string_or_array", most
        if arrays:
            return name, "array", most
        if strings:
            return name, "string", 1
    return None


def required(schema: JsonSchema) -> list[str]:
    """The schema's required top-level fields."""
    found = schema.get("required")
    return [name for name in found if isinstance(name, str)] if isinstance(found, list) else []
