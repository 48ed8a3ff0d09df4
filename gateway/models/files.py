"""The registry file format, checked strictly before anything is built from it.

A typo in a model file (``promt_max``) would otherwise be ignored and the default used, so
every table is a pydantic model that forbids unknown fields, and every error becomes one
line naming the file, the model and the field.

The built-in file is JSON written by ``gateway models import``; an operator's file
(``GATEWAY_MODELS_FILE``) is JSON (what ``gateway models sync`` writes) or TOML (easier
by hand), with the same fields.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.models.roles import FormatKind, ImageStyle, SizeKind


class RegistryError(ValueError):
    """A model file is unreadable or wrong; the message is one line naming where."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class OperationData(_Strict):
    """``generate = {path, schema}``: the upstream path and its JSON Schema (draft 7)."""

    path: str = Field(default="/v1/images/generations", pattern=r"^/")
    request: dict[str, Any] = Field(alias="schema")


class SizeData(_Strict):
    """One entry of ``size``: a field OpenAI's ``size`` maps onto, and how."""

    field: str = Field(min_length=1)
    kind: SizeKind


class FormatData(_Strict):
    """``response_format``: the model's equivalent of OpenAI's field."""

    field: str = Field(min_length=1)
    kind: FormatKind


class EditData(_Strict):
    """``edit``: how the model takes images to edit (see :class:`gateway.models.spec.Edit`)."""

    kind: Literal["multipart", "json"]
    path: str | None = Field(default=None, pattern=r"^/")
    field: str = Field(min_length=1)
    style: ImageStyle = "string"
    max_items: int | None = Field(default=None, ge=1)
    mask_field: str | None = None
    request: dict[str, Any] | None = Field(default=None, alias="schema")


class ModelData(_Strict):
    """One model. ``like`` copies another model's entry (for an operator's file: the
    built-in entry of the same id with ``like`` set to it) and replaces the fields given."""

    like: str | None = None
    family: str | None = Field(default=None, min_length=1)
    aliases: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    generate: OperationData | None = None
    count: str | None = None
    size: tuple[SizeData, ...] = ()
    response_format: FormatData | None = None
    edit: EditData | None = None


class SyncData(_Strict):
    """Where ``gateway models sync`` read the file from, and the catalogue's ETag then."""

    upstream: str
    etag: str | None = None
    synced_at: str | None = None


class RegistryFileData(_Strict):
    """A whole registry file (the built-in one or the operator's)."""

    origin: str | None = None
    allow_unknown: bool = False
    sync: SyncData | None = None
    models: dict[str, ModelData] = Field(default_factory=dict)


def where_of(loc: tuple[int | str, ...]) -> str:
    """``model 'x': field 'generate.path'`` for a pydantic error location."""
    parts = [str(p) for p in loc]
    head, rest = "", parts
    if len(parts) >= 2 and parts[0] == "models":
        head, rest = f"model {parts[1]!r}", parts[2:]
    if rest:
        field = f"field {'.'.join(rest)!r}"
        return f"{head}: {field}" if head else field
    return head


def error_line(source: str, exc: ValidationError) -> str:
    """The first error of ``exc`` as one line naming ``source``, the model and the field."""
    first = exc.errors()[0]
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown field"
    where = where_of(tuple(first["loc"]))
    return f"{source}: {where}: {message}" if where else f"{source}: {message}"


def parse_file(source: str, data: Any) -> RegistryFileData:
    """Validate a parsed registry file (RegistryError naming ``source`` on any error)."""
    try:
        return RegistryFileData.model_validate(data, by_alias=True)
    except ValidationError as exc:
        raise RegistryError(error_line(source, exc)) from None
