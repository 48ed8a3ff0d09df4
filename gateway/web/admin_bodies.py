"""The admin API's request bodies and key rendering (the HTTP-free half of the admin API)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gateway.errors import InvalidRequest
from gateway.store.types import KeyRecord

NOT_NULL = ("name", "disabled", "cache", "metadata")
LIMIT_FIELDS = ("rpm", "images_per_minute", "images_per_day", "images_per_month")


def _timestamp(value: Any) -> float | None:
    """Expiry as unix seconds; ISO 8601 strings are accepted too."""
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return None if value is None else float(value)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError("must be unix seconds or an ISO 8601 date-time") from None
        if parsed.tzinfo is None:
            raise ValueError("an ISO 8601 date-time needs a time zone (e.g. Z)")
        return parsed.timestamp()
    raise ValueError("must be unix seconds or an ISO 8601 date-time")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    expires_at: float | str | None = None
    models: list[str] | None = None
    rpm: int | None = Field(default=None, ge=0)
    images_per_minute: int | None = Field(default=None, ge=0)
    images_per_day: int | None = Field(default=None, ge=0)
    images_per_month: int | None = Field(default=None, ge=0)
    cache: bool | None = None
    metadata: dict[str, Any] | None = None

    @field_validator("expires_at", mode="before")
    @classmethod
    def _expiry(cls, value: Any) -> float | None:
        return _timestamp(value)


class KeyCreate(_Body):
    """``POST /admin/keys``."""

    name: str = Field(min_length=1, max_length=200)


class KeyUpdate(_Body):
    """``PATCH /admin/keys/{id}``: only the fields present change."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    disabled: bool | None = None


def parse_body(model: type[_Body], data: Any) -> _Body:
    """Validate an admin body, turning pydantic's errors into a 400 naming the field."""
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    for field in NOT_NULL:
        if field in data and data[field] is None:
            raise InvalidRequest(f"{field} cannot be null.", param=field)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        param = ".".join(str(part) for part in first["loc"]) or None
        raise InvalidRequest(f"Invalid value for {param}: {first['msg']}.", param=param) from None


def changes_of(body: _Body) -> dict[str, Any]:
    """The fields a create/update body sets, in KeyService's terms."""
    given = body.model_dump(exclude_unset=True)
    changes: dict[str, Any] = {}
    limits = {name: given.pop(name) for name in LIMIT_FIELDS if name in given}
    if limits:
        changes["limits"] = limits
    changes.update(given)
    return changes


def render_key(record: KeyRecord) -> dict[str, Any]:
    """The public form of a key record (never its hash)."""
    return {
        "id": record.id,
        "object": "gateway.key",
        "name": record.name,
        "prefix": record.prefix,
        "created_at": int(record.created_at),
        "expires_at": int(record.expires_at) if record.expires_at is not None else None,
        "models": list(record.models) if record.models is not None else None,
        "disabled": record.disabled,
        "revoked": record.revoked_at is not None,
        "revoked_at": int(record.revoked_at) if record.revoked_at is not None else None,
        **record.limits.as_dict(),
        "cache": record.cache,
        "declared": record.declared,
        "metadata": record.metadata,
    }
