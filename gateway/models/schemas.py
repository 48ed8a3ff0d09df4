"""AIML's published request schemas as plain JSON Schema, and the rule that merges copies.

AIML's documents are OpenAPI 3.0: ``nullable``, boolean ``exclusiveMinimum`` next to
``minimum``, ``$ref`` into ``components``. JSON Schema validators read draft 7, so
:func:`to_json_schema` rewrites those (and nothing else: every constraint stays).

Some model ids are documented several times with schemas that differ in details.
:func:`loosest` merges two copies into one: the union of fields, and for each constraint
both copies document the looser of the two, because the gateway must never refuse what
the upstream would take.
"""

from __future__ import annotations

import copy
from typing import Any

JsonSchema = dict[str, Any]

DRAFT = "http://json-schema.org/draft-07/schema#"
ANNOTATIONS = ("deprecated", "example", "examples", "xml", "externalDocs", "discriminator")
LOWER = ("minimum", "minLength", "minItems", "minProperties", "exclusiveMinimum")
UPPER = ("maximum", "maxLength", "maxItems", "maxProperties", "exclusiveMaximum")
NUMERIC = ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum")


class SchemaError(ValueError):
    """A document's schema cannot be read (an unresolvable ``$ref``, a cycle)."""


def _resolve(ref: str, root: dict[str, Any], seen: tuple[str, ...]) -> Any:
    if not ref.startswith("#/"):
        raise SchemaError(f"unsupported $ref {ref!r} (only local references are read)")
    if ref in seen:
        raise SchemaError(f"$ref cycle through {ref!r}")
    node: Any = root
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            raise SchemaError(f"$ref {ref!r} points at nothing")
        node = node[part]
    return node


def to_json_schema(
    schema: Any, root: dict[str, Any] | None = None, seen: tuple[str, ...] = ()
) -> Any:
    """A draft 7 copy of an OpenAPI 3.0 schema object, local ``$ref`` resolved."""
    if isinstance(schema, list):
        return [to_json_schema(item, root, seen) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema and isinstance(schema["$ref"], str):
        ref = schema["$ref"]
        return to_json_schema(_resolve(ref, root or {}, seen), root, (*seen, ref))
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ANNOTATIONS or key == "nullable":
            continue
        if key in ("properties", "patternProperties", "definitions") and isinstance(value, dict):
            out[key] = {name: to_json_schema(sub, root, seen) for name, sub in value.items()}
        elif key in ("default", "enum", "const", "required"):
            out[key] = copy.deepcopy(value)
        else:
            out[key] = to_json_schema(value, root, seen)
    for flag, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        flagged = out.pop(flag) if isinstance(out.get(flag), bool) else False
        if flagged and bound in out:
            out[flag] = out.pop(bound)
    if schema.get("nullable") is True and "type" in out:
        kinds = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = [*kinds, "null"] if "null" not in kinds else kinds
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    return out


def _types(schema: JsonSchema) -> list[str] | None:
    kind = schema.get("type")
    if kind is None:
        return None
    return list(kind) if isinstance(kind, list) else [kind]


def _union(first: list[Any], second: list[Any]) -> list[Any]:
    return first + [item for item in second if item not in first]


def _branches(schema: JsonSchema) -> list[JsonSchema]:
    found = schema.get("anyOf")
    if isinstance(found, list) and len(schema) == 1 + ("default" in schema):
        return list(found)
    return [{k: v for k, v in schema.items() if k != "default"}]


def _branch_key(schema: JsonSchema) -> str:
    kinds = _types(schema)
    return ",".join(sorted(kinds)) if kinds else "any"


def _merge_branches(a: JsonSchema, b: JsonSchema) -> JsonSchema:
    merged = [dict(branch) for branch in _branches(a)]
    for branch in _branches(b):
        key = _branch_key(branch)
        for index, mine in enumerate(merged):
            if _branch_key(mine) == key:
                merged[index] = loosest(mine, branch)
                break
        else:
            merged.append(branch)
    out: JsonSchema = {"anyOf": merged} if len(merged) > 1 else merged[0]
    default = a.get("default", b.get("default"))
    if "default" in a or "default" in b:
        out["default"] = default
    return out


def _bound(schema: JsonSchema, side: str) -> tuple[str, Any] | None:
    inclusive, exclusive = (
        ("minimum", "exclusiveMinimum") if side == "low" else ("maximum", "exclusiveMaximum")
    )
    if isinstance(schema.get(exclusive), int | float) and not isinstance(schema[exclusive], bool):
        if inclusive not in schema:
            return exclusive, schema[exclusive]
        strict = (
            schema[exclusive] >= schema[inclusive]
            if side == "low"
            else schema[exclusive] <= schema[inclusive]
        )
        return (exclusive, schema[exclusive]) if strict else (inclusive, schema[inclusive])
    if inclusive in schema:
        return inclusive, schema[inclusive]
    return None


def _looser_bound(a: JsonSchema, b: JsonSchema, side: str) -> tuple[str, Any] | None:
    first, second = _bound(a, side), _bound(b, side)
    if first is None or second is None:
        return first or second
    if first[1] != second[1]:
        wider = first[1] < second[1] if side == "low" else first[1] > second[1]
        return first if wider else second
    return first if first[0] in ("minimum", "maximum") else second


def loosest(a: JsonSchema, b: JsonSchema) -> JsonSchema:
    """One schema for two copies of a field's documentation.

    A constraint both copies document becomes the looser of the two (the lower minimum,
    the higher maximum, the union of enums and types); a constraint only one copy documents
    is kept, since the other copy saying nothing is no promise that anything goes. A field
    is required only when both copies require it; ``a``'s default wins.
    """
    if a == b:
        return copy.deepcopy(a)
    if "anyOf" in a or "anyOf" in b:
        return _merge_branches(a, b)
    out: JsonSchema = {}
    types_a, types_b = _types(a), _types(b)
    if types_a is not None or types_b is not None:
        kinds = _union(types_a or [], types_b or [])
        if "integer" in kinds and "number" in kinds:
            kinds.remove("integer")
        out["type"] = kinds[0] if len(kinds) == 1 else kinds
    for side in ("low", "high"):
        bound = _looser_bound(a, b, side)
        if bound is not None:
            out[bound[0]] = bound[1]
    for key in LOWER + UPPER:
        if key in NUMERIC:
            continue
        if key in a and key in b:
            out[key] = (min if key in LOWER else max)(a[key], b[key])
        elif key in a or key in b:
            out[key] = a.get(key, b.get(key))
    if "enum" in a or "enum" in b:
        out["enum"] = _union(a.get("enum", []), b.get("enum", []))
    if "required" in a and "required" in b:
        out["required"] = [name for name in a["required"] if name in b["required"]]
    if "properties" in a or "properties" in b:
        props_a, props_b = a.get("properties", {}), b.get("properties", {})
        props = {name: copy.deepcopy(sub) for name, sub in props_a.items()}
        for name, sub in props_b.items():
            props[name] = loosest(props[name], sub) if name in props else copy.deepcopy(sub)
        out["properties"] = props
    if "items" in a or "items" in b:
        items_a, items_b = a.get("items"), b.get("items")
        if isinstance(items_a, dict) and isinstance(items_b, dict):
            out["items"] = loosest(items_a, items_b)
        else:
            out["items"] = copy.deepcopy(items_a if items_a is not None else items_b)
    if a.get("additionalProperties") is False and b.get("additionalProperties") is False:
        out["additionalProperties"] = False
    for key in ("format", "pattern", "const", "multipleOf"):
        if key in a and key in b:
            if a[key] == b[key]:
                out[key] = a[key]
        elif key in a or key in b:
            out[key] = copy.deepcopy(a.get(key, b.get(key)))
    if "default" in a or "default" in b:
        out["default"] = copy.deepcopy(a["default"] if "default" in a else b["default"])
    return out
