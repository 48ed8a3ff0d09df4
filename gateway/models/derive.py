"""One registry entry as the :class:`ModelSpec` the adapters use, its schemas compiled.

Every field the entry names is checked against its schema here, at start-up: a count or
size field the schema does not have is an error naming it, not a request that fails later.
"""

from __future__ import annotations

from typing import Any

from gateway.models import roles
from gateway.models.files import ModelData
from gateway.models.spec import Count, Edit, Formats, ModelSpec, SizeTarget
from gateway.models.validation import BodyCheck, SchemaInvalid

GENERATIONS = "/v1/images/generations"


def _compile(schema: dict[str, Any], where: str) -> BodyCheck:
    try:
        return BodyCheck(schema)
    except SchemaInvalid as exc:
        raise ValueError(f"field {where!r}: {exc}") from None


def _prop(schema: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    prop = roles.properties(schema).get(name)
    if not isinstance(prop, dict):
        raise ValueError(f"field {where!r}: {name!r} is not a field of the model's schema")
    return prop


def _count(schema: dict[str, Any], name: str) -> Count:
    prop = _prop(schema, name, "count")
    low, high = roles.bounds(prop)
    default = prop.get("default", 1)
    if isinstance(default, bool) or not isinstance(default, int | float):
        default = 1
    return Count(name, int(default), max(1, low or 1), high)


def _size(schema: dict[str, Any], name: str, kind: str) -> SizeTarget:
    prop = _prop(schema, name, "size")
    values = tuple(roles.enum_values(prop))
    if kind != "image_size":
        return SizeTarget(name, kind, values)
    sides = roles.object_branch(prop)
    if sides is None:
        return SizeTarget(name, kind, values)
    width, height = (roles.bounds(sides["properties"][side]) for side in ("width", "height"))
    return SizeTarget(name, kind, values, width, height)


def _formats(schema: dict[str, Any], data: ModelData) -> Formats:
    found = data.response_format
    if found is None:
        return Formats("url_only", None, ("url",), "url")
    prop = _prop(schema, found.field, "response_format")
    if found.kind == "url_flag":
        return Formats("url_flag", found.field, ("url", "b64_json"), "url")
    values = tuple(str(v) for v in roles.enum_values(prop)) or ("url", "b64_json")
    default = prop.get("default")
    return Formats("native", found.field, values, default if default in values else values[0])


def _edit(schema: dict[str, Any] | None, data: ModelData) -> Edit | None:
    found = data.edit
    if found is None:
        return None
    if found.kind == "multipart":
        check = _compile(found.request, "edit.schema") if found.request is not None else None
        path = found.path or "/v1/images/edits"
        return Edit(
            "multipart", path, found.field, found.style, found.max_items, found.mask_field, check
        )
    if schema is None:
        raise ValueError("field 'edit': a JSON edit needs the model's 'generate' schema")
    _prop(schema, found.field, "edit.field")
    most = 1 if found.style == "string" else found.max_items
    return Edit("json", found.path or GENERATIONS, found.field, found.style, most)


def build_spec(model_id: str, data: ModelData) -> ModelSpec:
    """The spec of one resolved entry (ValueError naming the field on any mistake)."""
    if data.generate is None and data.edit is None:
        raise ValueError("field 'generate': a model needs 'generate' or 'edit'")
    schema = data.generate.request if data.generate is not None else None
    check = _compile(schema, "generate.schema") if schema is not None else None
    if schema is None and (data.count or data.size or data.response_format):
        raise ValueError("field 'generate': count, size and response_format need its schema")
    props = roles.properties(schema or {})
    count = _count(schema, data.count) if schema is not None and data.count else None
    sizes = tuple(_size(schema, s.field, s.kind) for s in data.size) if schema else ()
    edit = _edit(schema, data)
    needs_image = (
        edit is not None and edit.kind == "json" and edit.field in roles.required(schema or {})
    )
    return ModelSpec(
        id=model_id,
        family=data.family or "other",
        aliases=data.aliases,
        path=data.generate.path if data.generate is not None else GENERATIONS,
        check=check,
        count=count,
        sizes=sizes,
        formats=_formats(schema or {}, data),
        edit=edit,
        generate=schema is not None and not needs_image,
        defaults={
            name: prop["default"]
            for name, prop in props.items()
            if isinstance(prop, dict) and "default" in prop
        },
        closed=(schema or {}).get("additionalProperties") is False,
        sources=data.sources,
    )
