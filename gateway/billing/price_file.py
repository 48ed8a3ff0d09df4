"""Price files: the built-in table (package data) and the operator's ``GATEWAY_PRICES_FILE``.

One format for both, and for what ``gateway prices sync`` writes: TOML or JSON (chosen by
the file's suffix) with a ``[models."<id>"]`` table per model in the upstream's own
vocabulary (see :mod:`gateway.billing.prices`). Numbers are read as decimals, never floats.
Validation is strict (unknown fields are refused) and an error is one line naming the file,
the model and the field, so a bad file stops start-up with exit code 2.
"""

from __future__ import annotations

import json
import os
import tempfile
import tomllib
from collections.abc import Mapping
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from gateway.billing.money import format_usd, parse_usd
from gateway.billing.prices import ModelPrice, PriceTable, Rate, Variant, field_text

Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Unit = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Price = Annotated[Decimal, Field(ge=0)]
Per = Annotated[Decimal, Field(gt=0)]
BUILTIN = "data/prices.toml"


class PricesFileError(ValueError):
    """A price file that cannot be read or is not valid (the message is one line)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UnitEntry(_Strict):
    """One unit of a fixed price: ``price`` USD per ``per`` of ``measure``."""

    name: Name | None = None
    measure: Unit
    price: Price
    per: Per = Decimal(1)


class VariantEntry(_Strict):
    """The price when every field in ``when`` has the given value."""

    when: dict[Name, str | bool | int | Decimal]
    price: Price
    unit: Unit = "image"
    per: Per = Decimal(1)


class ModelEntry(_Strict):
    """The price of one model."""

    kind: Literal["fixed", "variants", "variable"]
    units: list[UnitEntry] = []
    dimensions: list[Name] = []
    variants: list[VariantEntry] = []
    aliases: list[Name] = []
    source: Annotated[str, StringConstraints(max_length=500)] | None = None

    @model_validator(mode="after")
    def _shape(self) -> ModelEntry:
        if self.kind == "fixed" and (not self.units or self.variants or self.dimensions):
            raise ValueError("a fixed price has one or more units and no variants")
        if self.kind == "variants" and (not self.variants or self.units):
            raise ValueError("a variants price has one or more variants and no units")
        if self.kind == "variable" and (self.units or self.variants):
            raise ValueError("a variable price has neither units nor variants")
        if self.dimensions:
            for index, variant in enumerate(self.variants):
                unknown = sorted(set(variant.when) - set(self.dimensions))
                if unknown:
                    raise ValueError(
                        f"variants[{index}].when names {unknown[0]!r}, which is not one of "
                        f"the dimensions {self.dimensions}"
                    )
        return self


class PriceFile(_Strict):
    """A whole price file; ``upstream``, ``synced_at`` and ``etag`` are written by sync."""

    models: dict[Name, ModelEntry] = {}
    upstream: str | None = None
    synced_at: str | None = None
    etag: str | None = None


def _path(loc: list[Any]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def describe(where: str, exc: ValidationError) -> str:
    """One line naming the file, the model and the field of the first error."""
    errors = exc.errors()
    first = errors[0]
    loc = list(first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ").replace("\n", " ")
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    if len(loc) >= 2 and loc[0] == "models":
        field = _path(loc[2:])
        at = f"model {loc[1]!r}" + (f", field {field}" if field else "")
        return f"{where}: {at}: {message}{more}"
    return f"{where}: field {_path(loc) or '(top level)'}: {message}{more}"


def parse_price_file(text: str, suffix: str, where: str) -> PriceFile:
    """Parse and validate the text of a price file (``suffix`` ``.toml`` or ``.json``)."""
    try:
        if suffix == ".toml":
            data: Any = tomllib.loads(text, parse_float=Decimal)
        elif suffix == ".json":
            data = json.loads(text, parse_float=Decimal)
        else:
            raise PricesFileError(f"{where}: the name must end in .toml or .json")
    except tomllib.TOMLDecodeError as exc:
        raise PricesFileError(f"{where}: not valid TOML: {exc}") from None
    except json.JSONDecodeError as exc:
        raise PricesFileError(f"{where}: not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PricesFileError(f"{where}: the file must hold an object with 'models'")
    try:
        return PriceFile.model_validate(data)
    except ValidationError as exc:
        raise PricesFileError(describe(where, exc)) from None


def read_price_file(path: Path, where: str | None = None) -> PriceFile:
    """Read and validate the price file at ``path``."""
    where = where or f"prices file {path}"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise PricesFileError(f"{where}: cannot read it: {reason}") from None
    return parse_price_file(text, path.suffix.lower(), where)


def builtin_price_file() -> PriceFile:
    """The table shipped with the gateway (``gateway/billing/data/prices.toml``)."""
    text = resources.files("gateway.billing").joinpath(BUILTIN).read_text(encoding="utf-8")
    return parse_price_file(text, ".toml", "built-in prices")


def model_price(model: str, entry: ModelEntry) -> ModelPrice:
    """The table's form of one file entry."""
    return ModelPrice(
        model=model,
        kind=entry.kind,
        units=tuple(Rate(u.price, u.per, u.measure, u.name) for u in entry.units),
        dimensions=tuple(entry.dimensions),
        variants=tuple(
            Variant(
                tuple(
                    (name, text)
                    for name, value in v.when.items()
                    if (text := field_text(value)) is not None
                ),
                Rate(v.price, v.per, v.unit),
            )
            for v in entry.variants
        ),
        aliases=tuple(entry.aliases),
        source=entry.source,
    )


def load_price_table(path: Path | None, default_image_usd: Decimal) -> PriceTable:
    """The built-in table with the operator's file (``GATEWAY_PRICES_FILE``) over it."""
    layers = [builtin_price_file()]
    if path is not None:
        layers.append(read_price_file(path, f"GATEWAY_PRICES_FILE {path}"))
    return PriceTable(
        [[model_price(model, entry) for model, entry in layer.models.items()] for layer in layers],
        parse_usd(default_image_usd),
    )


def entry_json(entry: ModelEntry) -> dict[str, Any]:
    """A file entry as JSON data, prices as exact decimal strings, defaults left out."""
    return entry.model_dump(mode="json", exclude_defaults=True)


def price_json(price: ModelPrice) -> dict[str, Any]:
    """A table entry as JSON data (for ``/admin/prices`` and ``gateway prices``)."""
    data: dict[str, Any] = {"model": price.model, "kind": price.kind}
    if price.aliases:
        data["aliases"] = list(price.aliases)
    if price.units:
        data["units"] = [
            {
                **({"name": u.name} if u.name else {}),
                "measure": u.measure,
                "price": str(u.price),
                "per": str(u.per),
            }
            for u in price.units
        ]
    if price.dimensions:
        data["dimensions"] = list(price.dimensions)
    if price.variants:
        data["variants"] = [
            {
                "when": dict(v.when),
                "price": str(v.rate.price),
                "unit": v.rate.measure,
                "per": str(v.rate.per),
            }
            for v in price.variants
        ]
    if price.source:
        data["source"] = price.source
    return data


def price_table_json(table: PriceTable, prices_file: Path | None) -> dict[str, Any]:
    """The whole table as JSON data: what ``GET /admin/prices`` and ``gateway prices list
    --json`` show."""
    return {
        "object": "list",
        "default_image_price_usd": format_usd(table.default_image_nanos),
        "prices_file": str(prices_file) if prices_file is not None else None,
        "data": [price_json(price) for price in table.models()],
    }


def write_price_file(path: Path, models: Mapping[str, ModelEntry], **meta: str | None) -> None:
    """Write a JSON price file atomically (a reader never sees half a file)."""
    data = {
        **{k: v for k, v in meta.items() if v is not None},
        "models": {model: entry_json(models[model]) for model in sorted(models)},
    }
    content = orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n"
    directory = path.parent if str(path.parent) else Path(".")
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
