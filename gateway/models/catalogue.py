"""Reading AIML's published operations: a condensed catalogue file, a folder of per-model
OpenAPI documents, or the documents the live catalogue points at.

Every reader yields :class:`Operation` values with draft 7 request schemas; what becomes of
them (merging copies, finding each model's count and size fields) is
:mod:`gateway.models.importer`'s business.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from gateway.models.schemas import JsonSchema, SchemaError, to_json_schema

GENERATE_PATHS = (
    "/v1/images/generations",
    "/images/generations",
    "/v1/images/generations/with-url",
)
EDIT_PATHS = ("/v1/images/edits", "/images/edits")
CONTENT_TYPES = ("application/json", "multipart/form-data")


class CatalogueError(ValueError):
    """A catalogue or document cannot be read; the message names it."""


@dataclass(frozen=True, slots=True)
class Operation:
    """One documented image operation: where it is, which models it takes, what it takes."""

    source: str
    path: str
    models: tuple[str, ...]
    request: JsonSchema
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def kind(self) -> str | None:
        """``generate``, ``edit``, or None for paths the gateway does not serve."""
        if self.path in GENERATE_PATHS:
            return "generate"
        if self.path in EDIT_PATHS:
            return "edit"
        return None


def _model_ids(request: JsonSchema) -> tuple[str, ...]:
    prop = request.get("properties", {}).get("model", {})
    if not isinstance(prop, dict):
        return ()
    found: list[Any] = list(prop.get("enum") or ())
    for key in ("const", "default"):
        if not found and isinstance(prop.get(key), str):
            found = [prop[key]]
    return tuple(m for m in found if isinstance(m, str) and m)


def operations_from_catalogue(data: Any, source: str = "catalogue") -> list[Operation]:
    """The operations of a condensed catalogue (``{"operations": [...]}``)."""
    if not isinstance(data, dict) or not isinstance(data.get("operations"), list):
        raise CatalogueError(f"{source}: not a catalogue (no 'operations' list)")
    found: list[Operation] = []
    for index, raw in enumerate(data["operations"]):
        where = f"{source}: operations[{index}]"
        if not isinstance(raw, dict) or not isinstance(raw.get("request"), dict):
            raise CatalogueError(f"{where}: needs a 'request' schema")
        try:
            request = to_json_schema(raw["request"])
        except SchemaError as exc:
            raise CatalogueError(f"{where}: {exc}") from None
        models = raw.get("models") or _model_ids(request)
        if not isinstance(models, list | tuple) or not all(isinstance(m, str) for m in models):
            raise CatalogueError(f"{where}: 'models' must be a list of model ids")
        found.append(
            Operation(
                source=str(raw.get("source") or where),
                path=str(raw.get("path") or ""),
                models=tuple(models),
                request=request,
            )
        )
    return found


def operations_from_document(source: str, doc: Any) -> list[Operation]:
    """The image operations of one OpenAPI document (AIML's per-model ``docs-json``)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("paths"), dict):
        raise CatalogueError(f"{source}: not an OpenAPI document (no 'paths')")
    found: list[Operation] = []
    for path, item in doc["paths"].items():
        operation = item.get("post") if isinstance(item, dict) else None
        if not isinstance(operation, dict) or path not in GENERATE_PATHS + EDIT_PATHS:
            continue
        content = (operation.get("requestBody") or {}).get("content") or {}
        kind = next((ct for ct in CONTENT_TYPES if ct in content), None)
        if kind is None or not isinstance(content[kind], dict):
            continue
        try:
            request = to_json_schema(content[kind].get("schema") or {}, doc)
        except SchemaError as exc:
            raise CatalogueError(f"{source}: {path}: {exc}") from None
        if not isinstance(request, dict):
            raise CatalogueError(f"{source}: {path}: the request schema is not an object")
        models = _model_ids(request)
        if models:
            found.append(Operation(source=source, path=path, models=models, request=request))
    return found


def read_json(path: Path) -> Any:
    """A JSON file's contents (CatalogueError naming the file on any failure)."""
    try:
        return orjson.loads(path.read_bytes())
    except OSError as exc:
        raise CatalogueError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    except orjson.JSONDecodeError as exc:
        raise CatalogueError(f"{path}: not valid JSON: {exc}") from None


def operations_from_folder(folder: Path) -> tuple[list[Operation], list[str]]:
    """Every OpenAPI document below ``folder`` (``*.json``, sorted); notes on skipped files."""
    found: list[Operation] = []
    notes: list[str] = []
    for path in sorted(folder.rglob("*.json")):
        source = path.relative_to(folder).as_posix()
        doc = read_json(path)
        if not isinstance(doc, dict) or "paths" not in doc:
            notes.append(f"skipped {source}: not an OpenAPI document")
            continue
        ops = operations_from_document(source, doc)
        if not ops:
            notes.append(f"skipped {source}: no image operation with model ids")
        found.extend(ops)
    return found, notes


def operations_from_path(path: Path) -> tuple[list[Operation], list[str], str]:
    """A catalogue file or a folder of documents: operations, notes, and its origin."""
    if path.is_dir():
        ops, notes = operations_from_folder(path)
        return ops, notes, f"OpenAPI documents in {path.name}/"
    data = read_json(path)
    if isinstance(data, dict) and "paths" in data:
        return operations_from_document(path.name, data), [], path.name
    ops = operations_from_catalogue(data, path.name)
    origin = data.get("origin") if isinstance(data.get("origin"), str) else path.name
    return ops, [], str(origin)


def with_aliases(ops: Iterable[Operation], aliases: dict[str, tuple[str, ...]]) -> list[Operation]:
    """``ops`` carrying the upstream's own aliases of their models (live catalogue)."""
    return [
        Operation(
            op.source,
            op.path,
            op.models,
            op.request,
            {m: aliases[m] for m in op.models if aliases.get(m)},
        )
        for op in ops
    ]
