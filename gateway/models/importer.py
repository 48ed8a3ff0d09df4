"""From AIML's documented operations to registry data (``gateway models import`` and
``gateway models sync``).

The merge rule, for a model id documented more than once:

1. Generation and edit operations are kept apart. Of the paths a model is documented
   under, the canonical one wins (``/v1/images/generations`` over ``/images/generations``
   over ``/v1/images/generations/with-url``; ``/v1/images/edits`` over ``/images/edits``);
   copies under the other paths are ignored.
2. The documents left are merged in catalogue order into the loosest schema (see
   :func:`gateway.models.schemas.loosest`): every field of any copy, the wider bound, the
   union of enums; defaults from the first copy that has one.
3. Every merge and every ignored copy is reported, naming the documents and the fields in
   which they differ.

Each model's count, size, response-format and image-input fields are then found by
:mod:`gateway.models.roles` and written out explicitly, so the data says what ``n`` and
``size`` become and an operator can change it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.models import roles
from gateway.models.catalogue import EDIT_PATHS, GENERATE_PATHS, Operation
from gateway.models.schemas import JsonSchema, loosest

FILE_FIELDS = ("image", "mask")


class ImportRules(BaseModel):
    """What the gateway adds to AIML's documents: OpenAI's names for AIML's models, and
    which maker (family) each id prefix belongs to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    aliases: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    families: dict[str, str] = Field(default_factory=dict)

    def family(self, model_id: str) -> str:
        """The family of the longest matching prefix; else the id's namespace."""
        matches = [prefix for prefix in self.families if model_id.startswith(prefix)]
        if matches:
            return self.families[max(matches, key=len)]
        namespace, sep, _ = model_id.partition("/")
        return namespace if sep else "other"


def builtin_rules() -> ImportRules:
    """The rules shipped in ``gateway/models/data/import.toml``."""
    text = resources.files("gateway.models").joinpath("data/import.toml").read_text()
    try:
        return ImportRules.model_validate(tomllib.loads(text))
    except (ValidationError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"gateway/models/data/import.toml: {exc}") from None


@dataclass
class ImportResult:
    """The registry data and what the import did."""

    data: dict[str, Any]
    report: list[str] = field(default_factory=list)

    @property
    def models(self) -> dict[str, Any]:
        """The imported model entries by id."""
        found: dict[str, Any] = self.data["models"]
        return found


def _differing(ops: list[Operation]) -> list[str]:
    names: list[str] = []
    for op in ops:
        names += [n for n in roles.properties(op.request) if n not in names]
    first = ops[0].request
    return [
        name
        for name in names
        if name != "model"
        and any(
            roles.properties(op.request).get(name) != roles.properties(first).get(name)
            for op in ops[1:]
        )
    ]


def _merge(
    model_id: str, kind: str, ops: list[Operation], report: list[str]
) -> tuple[str, JsonSchema, list[str]] | None:
    if not ops:
        return None
    paths = GENERATE_PATHS if kind == "generate" else EDIT_PATHS
    best = next(path for path in paths if any(op.path == path for op in ops))
    chosen = [op for op in ops if op.path == best]
    schema = chosen[0].request
    for op in chosen[1:]:
        schema = loosest(schema, op.request)
    sources = list(dict.fromkeys(op.source for op in chosen))
    if len(chosen) > 1:
        differing = _differing(chosen)
        report.append(
            f"merged {model_id} ({kind}): {len(chosen)} documents ({', '.join(sources)}); "
            + (
                f"loosest of the differing fields: {', '.join(differing)}"
                if differing
                else "identical"
            )
        )
    for op in ops:
        if op.path != best:
            report.append(
                f"ignored {model_id} ({kind}): {op.source} {op.path} ({best} is preferred)"
            )
    props = dict(roles.properties(schema))
    props["model"] = {"type": "string", "enum": [model_id]}
    return best, {**schema, "properties": props}, sources


def _multipart(path: str, schema: JsonSchema) -> dict[str, Any]:
    """An edit on the upstream's own edits endpoint: the files are form parts, so they leave
    the schema that checks the other fields."""
    props = roles.properties(schema)
    image = props.get("image") or {}
    most = max(
        (int(b.get("maxItems", 1)) for b in roles.branches(image) if b.get("type") == "array"),
        default=1,
    )
    rest = {k: v for k, v in props.items() if k not in FILE_FIELDS}
    needed = [n for n in roles.required(schema) if n not in FILE_FIELDS]
    found: dict[str, Any] = {"kind": "multipart", "path": path, "field": "image"}
    found["style"] = "array" if most > 1 else "string"
    found["max_items"] = most
    if "mask" in props:
        found["mask_field"] = "mask"
    found["schema"] = {**schema, "properties": rest, "required": needed}
    return found


def _edit(
    generate: JsonSchema | None, edit: tuple[str, JsonSchema, list[str]] | None
) -> dict[str, Any] | None:
    if edit is not None:
        return _multipart(edit[0], edit[1])
    image = roles.find_image_input(generate) if generate is not None else None
    if image is None:
        return None
    name, style, most = image
    found: dict[str, Any] = {"kind": "json", "field": name, "style": style}
    if most is not None:
        found["max_items"] = most
    return found


def _entry(
    model_id: str,
    generate: tuple[str, JsonSchema, list[str]] | None,
    edit: tuple[str, JsonSchema, list[str]] | None,
    aliases: list[str],
    rules: ImportRules,
) -> dict[str, Any]:
    entry: dict[str, Any] = {"family": rules.family(model_id)}
    if aliases:
        entry["aliases"] = aliases
    sources = (generate[2] if generate else []) + (edit[2] if edit else [])
    entry["sources"] = list(dict.fromkeys(sources))
    schema = generate[1] if generate else None
    if generate is not None and schema is not None:
        entry["generate"] = {"path": generate[0], "schema": schema}
        count = roles.find_count(schema)
        if count is not None:
            entry["count"] = count
        sizes = roles.find_sizes(schema)
        if sizes:
            entry["size"] = [{"field": name, "kind": kind} for name, kind in sizes]
        fmt = roles.find_response_format(schema)
        if fmt is not None:
            entry["response_format"] = {"field": fmt[0], "kind": fmt[1]}
    found = _edit(schema, edit)
    if found is not None:
        entry["edit"] = found
    return entry


def import_operations(
    ops: Iterable[Operation],
    *,
    origin: str,
    rules: ImportRules | None = None,
    notes: Iterable[str] = (),
) -> ImportResult:
    """Registry data for every model the operations name, with the report of merges."""
    rules = rules or builtin_rules()
    report = list(notes)
    grouped: dict[str, dict[str, list[Operation]]] = {}
    upstream_aliases: dict[str, list[str]] = {}
    for op in ops:
        kind = op.kind
        if kind is None:
            report.append(f"ignored {op.source} {op.path}: not an image endpoint")
            continue
        for model_id in op.models:
            grouped.setdefault(model_id, {}).setdefault(kind, []).append(op)
            known = upstream_aliases.setdefault(model_id, [])
            known += [a for a in op.aliases.get(model_id, ()) if a not in known]
    models: dict[str, Any] = {}
    for model_id in sorted(grouped):
        kinds = grouped[model_id]
        generate = _merge(model_id, "generate", kinds.get("generate", []), report)
        edit = _merge(model_id, "edit", kinds.get("edit", []), report)
        names = upstream_aliases.get(model_id, [])
        names += [a for a in rules.aliases.get(model_id, ()) if a not in names and a != model_id]
        models[model_id] = _entry(model_id, generate, edit, names, rules)
    report.append(f"imported {len(models)} models")
    return ImportResult({"origin": origin, "models": models}, report)


def dump(data: dict[str, Any]) -> bytes:
    """Registry data as the bytes written to a file: the same data, the same bytes."""
    return orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n"
