"""The registry file format, checked strictly before anything is built from it.

A typo in a model file (``promt_max``) would otherwise be ignored and the default used, so
every table is a pydantic model that forbids unknown fields, and every error becomes one
line naming the file, the model (or family) and the field.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

ResponseShape = Literal["openai", "images", "data_meta", "any"]
SizeKind = Literal["enum", "image_size", "aspect_ratio"]
Format = Literal["url", "b64_json"]


class RegistryError(ValueError):
    """A model file is unreadable or wrong; the message is one line naming where."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CountData(_Strict):
    """``count = {field, min, max, default}``."""

    field: str = Field(default="n", min_length=1)
    min: int = Field(default=1, ge=0)
    max: int = Field(default=10, ge=1)
    default: int = Field(default=1, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> CountData:
        if not self.min <= self.default <= self.max:
            raise ValueError(
                f"needs min <= default <= max, got {self.min}, {self.default}, {self.max}"
            )
        return self


class SizeData(_Strict):
    """``size = {field, kind, values, default}``."""

    field: str = Field(min_length=1)
    kind: SizeKind
    values: tuple[str, ...] = ()
    default: str | None = None


class FormatData(_Strict):
    """``response_format = {values, default, native}``."""

    values: tuple[Format, ...] = Field(default=("url",), min_length=1)
    default: Format = "url"
    native: bool = False


class EnumData(_Strict):
    """One entry of ``enums``."""

    values: tuple[str, ...] = Field(min_length=1)
    default: str | None = None


class RangeData(_Strict):
    """One entry of ``ranges``."""

    min: float
    max: float


class FieldsData(_Strict):
    """What a family declares and a model may override."""

    response: ResponseShape | None = None
    owned_by: str | None = None
    prompt_max: int | None = Field(default=None, gt=0)
    count: CountData | None = None
    size: SizeData | None = None
    response_format: FormatData | None = None
    enums: dict[str, EnumData] | None = None
    ranges: dict[str, RangeData] | None = None


class ModelData(FieldsData):
    """One ``[models."id"]`` table: a family, or ``like`` another model, plus overrides."""

    family: str | None = None
    like: str | None = None


class RegistryFileData(_Strict):
    """A whole registry file (the built-in one or the operator's)."""

    allow_unknown: bool = False
    family: dict[str, FieldsData] = Field(default_factory=dict)
    models: dict[str, ModelData] = Field(default_factory=dict)


def where_of(loc: tuple[int | str, ...]) -> str:
    """``model 'x': field 'count.max'`` for a pydantic error location."""
    parts = [str(p) for p in loc]
    if len(parts) >= 2 and parts[0] in ("models", "family"):
        kind = "model" if parts[0] == "models" else "family"
        head = f"{kind} {parts[1]!r}"
        rest = parts[2:]
    else:
        head, rest = "", parts
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
        return RegistryFileData.model_validate(data)
    except ValidationError as exc:
        raise RegistryError(error_line(source, exc)) from None
