"""``gateway prices sync``: the upstream's live price list into the operator's price file.

Reads ``GET {upstream}/v1/models?include=pricing`` (with ``If-None-Match`` when the file
holds the ETag of an earlier sync of the same upstream: a 304 leaves the file as it is),
keeps the image models that carry a price, and writes them as a JSON price file. Entries
the operator wrote by hand (any ``source`` but ``"upstream"``) are kept unless the upstream
now prices that model; entries of an earlier sync that the upstream no longer lists go.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.billing.price_file import (
    ModelEntry,
    PriceFile,
    UnitEntry,
    VariantEntry,
    entry_json,
    model_price,
    read_price_file,
    write_price_file,
)

UPSTREAM = "upstream"
Price = Annotated[Decimal, Field(ge=0)]
Per = Annotated[Decimal, Field(gt=0)]


class SyncError(Exception):
    """The sync could not be done (the message is one line for the user)."""


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Unit(_Lenient):
    name: str | None = None
    measure: str
    price: Price
    per: Per


class _Variant(_Lenient):
    when: dict[str, str | bool | int | Decimal]
    price: Price
    unit: str
    per: Per


class _Pricing(_Lenient):
    kind: str
    units: list[_Unit] = []
    dimensions: list[str] = []
    variants: list[_Variant] = []


@dataclass
class SyncReport:
    """What a sync did: ``status`` is ``"written"`` or ``"not_modified"`` (file untouched)."""

    status: Literal["written", "not_modified"]
    path: Path
    etag: str | None
    models: int = 0
    added: list[str] = field(default_factory=list)
    changed: list[tuple[str, str, str]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _entry(item: dict[str, Any]) -> ModelEntry:
    pricing = _Pricing.model_validate(item["pricing"])
    if pricing.kind not in ("fixed", "variants", "variable"):
        raise ValueError(f"unknown pricing kind {pricing.kind!r}")
    aliases = item.get("aliases")
    return ModelEntry(
        kind=pricing.kind,  # type: ignore[arg-type]
        units=[UnitEntry(**u.model_dump()) for u in pricing.units],
        dimensions=pricing.dimensions,
        variants=[VariantEntry(**v.model_dump()) for v in pricing.variants],
        aliases=[a for a in aliases if isinstance(a, str) and a]
        if isinstance(aliases, list)
        else [],
        source=UPSTREAM,
    )


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"{where}: {first['msg']}" if where else str(first["msg"])
    return str(exc)


def read_upstream(data: Any) -> tuple[dict[str, ModelEntry], list[tuple[str, str]]]:
    """The priced image models of a ``/v1/models?include=pricing`` answer, and the image
    models skipped with the reason (no price, or a price the gateway cannot read)."""
    items = data.get("data") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise SyncError("the upstream's model list is not a list of models")
    found: dict[str, ModelEntry] = {}
    skipped: list[tuple[str, str]] = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue
        kind = item.get("type")
        if isinstance(kind, str) and "image" not in kind:
            continue
        if item.get("pricing") is None:
            skipped.append((item["id"], "no pricing listed"))
            continue
        try:
            found[item["id"]] = _entry(item)
        except (ValidationError, ValueError, TypeError) as exc:
            skipped.append((item["id"], _reason(exc)))
    return found, skipped


def _comparable(entry: ModelEntry) -> dict[str, Any]:
    return {k: v for k, v in entry_json(entry).items() if k != "source"}


def sync_prices(
    client: httpx.Client, upstream_url: str, path: Path, *, api_key: str | None, now: datetime
) -> SyncReport:
    """Fetch the upstream's prices and write them to ``path`` (a ``.json`` file)."""
    if path.suffix.lower() != ".json":
        raise SyncError(f"{path}: prices sync writes JSON; name the file *.json")
    existing = read_price_file(path) if path.exists() else PriceFile()
    headers = {"accept": "application/json"}
    if api_key:
        headers["authorization"] = f"Bearer {api_key}"
    if existing.etag and existing.upstream == upstream_url:
        headers["if-none-match"] = existing.etag
    url = f"{upstream_url}/v1/models"
    try:
        response = client.get(url, params={"include": "pricing"}, headers=headers)
    except httpx.HTTPError as exc:
        raise SyncError(
            f"cannot reach the upstream at {upstream_url}: {type(exc).__name__}"
        ) from None
    if response.status_code == 304:
        return SyncReport("not_modified", path, existing.etag, len(existing.models))
    if response.status_code != 200:
        raise SyncError(
            f"the upstream answered {response.status_code} to GET /v1/models?include=pricing"
        )
    try:
        data = json.loads(response.content, parse_float=Decimal)
    except ValueError:
        raise SyncError("the upstream's model list is not valid JSON") from None
    fresh, skipped = read_upstream(data)
    if not fresh:
        raise SyncError(f"the upstream listed no priced image models; {path} left as it is")
    report = SyncReport("written", path, response.headers.get("etag"), skipped=skipped)
    models = {m: e for m, e in existing.models.items() if e.source != UPSTREAM or m in fresh}
    for model, entry in sorted(fresh.items()):
        old = models.get(model)
        if old is None:
            report.added.append(model)
        elif _comparable(old) != _comparable(entry):
            report.changed.append(
                (model, model_price(model, old).summary(), model_price(model, entry).summary())
            )
        models[model] = entry
    report.removed = sorted(set(existing.models) - set(models))
    report.models = len(models)
    write_price_file(
        path,
        models,
        upstream=upstream_url,
        synced_at=now.isoformat(timespec="seconds"),
        etag=report.etag,
    )
    return report
