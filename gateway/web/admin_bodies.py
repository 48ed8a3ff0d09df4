"""The admin API's request and response bodies (the HTTP-free half of the admin API).

The pydantic models here validate what the admin API accepts and shape what it answers,
and :mod:`gateway.web.openapi_admin` publishes their JSON schemas: the document cannot drift
from what is enforced. The limit fields come from :class:`gateway.store.types.Limits`;
money limits are decimal USD here (a JSON number or a decimal string in, an exact decimal
string out) and integer nano-dollars in the store, converted in :func:`changes_of` and
:func:`public_limits` only.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gateway.billing.money import format_usd
from gateway.errors import InvalidRequest
from gateway.keys.search import Status, status_of
from gateway.keys.service import MAX_GRACE_SECONDS
from gateway.models.registry import Registry
from gateway.settings.limits import LimitFields, limits_of
from gateway.store.types import LIMIT_NAMES, MONEY_LIMITS, KeyRecord, Limits, TeamRecord

NOT_NULL = ("name", "disabled", "cache", "metadata")
LATEST = 253_402_300_799
NAME = "A name for people; the CLI also finds a key by its name where it is unique."
TEAM_NAME = "A name for people; the CLI also finds a team by its name where it is unique."
TEAM_ID = "The team the key belongs to (its limits and budgets apply too); null: none."
METADATA = "Free-form JSON kept with the record (owner, ticket, ...)."
Body = TypeVar("Body", bound=BaseModel)


def _timestamp(value: Any) -> float | None:
    """Expiry as unix seconds (from 1970 to the end of year 9999); ISO 8601 strings are
    accepted too."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not 0 <= value <= LATEST:
            raise ValueError("must be unix seconds between 0 and 253402300799 (year 9999)")
        return float(value)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError("must be unix seconds or an ISO 8601 date-time") from None
        if parsed.tzinfo is None:
            raise ValueError("an ISO 8601 date-time needs a time zone (e.g. Z)")
        return parsed.timestamp()
    raise ValueError("must be unix seconds or an ISO 8601 date-time")


def _not_null(schema: dict[str, Any]) -> None:
    """Say in the schema that the ``NOT_NULL`` fields may be left out but not be null."""
    for name in NOT_NULL:
        field = schema.get("properties", {}).get(name)
        if field is None or "anyOf" not in field:
            continue
        kinds = [kind for kind in field.pop("anyOf") if kind.get("type") != "null"]
        field.pop("default", None)
        field.update(kinds[0] if len(kinds) == 1 else {"anyOf": kinds})


class _Body(LimitFields):
    """Fields of every create and update body. Those that cannot be null (``NOT_NULL``)
    default to None only to tell "not given" apart: ``changes_of`` reads only the fields a
    body sets."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_not_null)

    metadata: dict[str, Any] | None = Field(default=None, description=METADATA)


class _KeyBody(_Body):
    """Fields of both key bodies."""

    expires_at: float | str | None = Field(
        default=None,
        description="When the key stops working: unix seconds or an ISO 8601 date-time "
        "with a time zone; null: never.",
    )
    models: list[str] | None = Field(
        default=None, description="The models the key may use (registry ids); null: all."
    )
    cache: bool | None = Field(default=None, description="Serve this key from the cache.")
    team_id: str | None = Field(default=None, min_length=1, max_length=100, description=TEAM_ID)

    @field_validator("expires_at", mode="before")
    @classmethod
    def _expiry(cls, value: Any) -> float | None:
        return _timestamp(value)


class KeyCreate(_KeyBody):
    """``POST /admin/keys``."""

    name: str = Field(min_length=1, max_length=200, description=NAME)


class KeyUpdate(_KeyBody):
    """``PATCH /admin/keys/{id}``: only the fields present change; ``null`` removes a limit
    (or the key from its team)."""

    name: str | None = Field(default=None, min_length=1, max_length=200, description=NAME)
    disabled: bool | None = Field(default=None, description="Refuse the key until enabled.")


class KeyRotate(BaseModel):
    """``POST /admin/keys/{id}/rotate`` (the body may be left out)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    grace_seconds: int = Field(
        default=0,
        ge=0,
        le=MAX_GRACE_SECONDS,
        description="Seconds the previous key keeps working (at most 7 days); 0: refused "
        "at once. A key an earlier rotation left working is refused at once either way.",
    )


class _TeamBody(_Body):
    """Fields of both team bodies."""

    models: list[str] | None = Field(
        default=None,
        description="The models the team's keys may use (registry ids), narrowing each "
        "key's own list; null: no narrowing.",
    )


class TeamCreate(_TeamBody):
    """``POST /admin/teams``."""

    name: str = Field(min_length=1, max_length=200, description=TEAM_NAME)


class TeamUpdate(_TeamBody):
    """``PATCH /admin/teams/{id}``: only the fields present change; ``null`` removes a limit."""

    name: str | None = Field(default=None, min_length=1, max_length=200, description=TEAM_NAME)
    disabled: bool | None = Field(
        default=None, description="Refuse every key of the team until enabled."
    )


def _optional(*names: str) -> Any:
    """A schema hook: ``names`` may be left out of an answer (serialisation schemas call
    every field with a default required)."""

    def hook(schema: dict[str, Any]) -> None:
        schema["required"] = [n for n in schema.get("required", []) if n not in names]

    return hook


class TeamObject(LimitFields):
    """A team as the admin API shows it."""

    model_config = ConfigDict(extra="forbid")

    id: str
    object: Literal["gateway.team"] = "gateway.team"
    name: str
    created_at: int
    disabled: bool
    models: list[str] | None
    metadata: dict[str, Any]


class ListedTeam(TeamObject):
    """A team in the listing; ``include=usage`` adds its figures for the current quota day
    and its number of keys."""

    model_config = ConfigDict(json_schema_extra=_optional("usage_today", "keys"))

    usage_today: dict[str, int | str] | None = Field(
        default=None,
        description="With include=usage: the team's counters of the current quota day, "
        "and spend_usd (exact decimal USD).",
    )
    keys: int | None = Field(
        default=None, description="With include=usage: how many keys of the team are not revoked."
    )


class TeamList(BaseModel):
    """``GET /admin/teams``: every team, oldest first."""

    model_config = ConfigDict(extra="forbid")

    object: Literal["list"] = "list"
    data: list[ListedTeam]


class KeyObject(LimitFields):
    """A key as the admin API shows it (never the key or its hash)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    object: Literal["gateway.key"] = "gateway.key"
    name: str
    team_id: str | None = Field(description=TEAM_ID)
    prefix: str = Field(description="The key's first characters, to recognise it.")
    status: Status
    created_at: int
    expires_at: int | None
    expired: bool
    models: list[str] | None
    disabled: bool
    revoked: bool
    revoked_at: int | None
    cache: bool
    declared: bool = Field(description="Declared in the config file (see the README).")
    metadata: dict[str, Any]


class KeyCreated(KeyObject):
    """The answer to ``POST /admin/keys`` (and to a rotation): the only time the key itself
    is shown."""

    key: str


class ListedKey(KeyObject):
    """A key in a listing; ``include=usage`` adds its counters for the current quota day."""

    model_config = ConfigDict(json_schema_extra=_optional("usage_today"))

    usage_today: dict[str, int] | None = Field(
        default=None, description="With include=usage: the counters of the current quota day."
    )


class KeyList(BaseModel):
    """``GET /admin/keys``: every key, or one page of a search."""

    model_config = ConfigDict(extra="forbid")

    object: Literal["list"] = "list"
    data: list[ListedKey]
    has_more: bool
    next_after: str | None = Field(description="The ``after`` of the next page; null: last.")


def parse_body(model: type[Body], data: Any) -> Body:
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
        message = str(first["msg"]).removeprefix("Value error, ")
        raise InvalidRequest(f"Invalid value for {param}: {message}.", param=param) from None


def check_models(models: Iterable[str] | None, registry: Registry) -> None:
    """Refuse an allow-list naming models the gateway does not serve (400 ``models``),
    unless unknown models are passed through."""
    if models is None or registry.allows_unknown:
        return
    unknown = [m for m in models if registry.get(m) is None]
    if unknown:
        raise InvalidRequest(
            f"Unknown model {unknown[0][:100]!r} in models: GET /v1/models lists the models "
            "this gateway serves.",
            param="models",
            code="model_not_found",
        )


def changes_of(body: _Body) -> dict[str, Any]:
    """The fields a create/update body sets, in the services' terms (money limits in
    nano-dollars, under ``limits``)."""
    given = body.model_dump(exclude_unset=True)
    limits = limits_of(given)
    for name in LIMIT_NAMES:
        given.pop(name, None)
    return {"limits": limits, **given} if limits else given


def public_limits(limits: Limits) -> dict[str, int | str | None]:
    """Limits as the admin API shows them: money limits as exact decimal strings of USD."""
    return {
        name: format_usd(value) if name in MONEY_LIMITS and value is not None else value
        for name, value in limits.as_dict().items()
    }


def _seconds(value: float | None) -> int | None:
    return int(value) if value is not None else None


def render_key(record: KeyRecord, now: float) -> dict[str, Any]:
    """The public form of a key record at ``now`` (never its hash), as :class:`KeyObject`
    describes it."""
    return {
        "id": record.id,
        "object": "gateway.key",
        "name": record.name,
        "team_id": record.team_id,
        "prefix": record.prefix,
        "status": status_of(record, now),
        "created_at": int(record.created_at),
        "expires_at": _seconds(record.expires_at),
        "expired": record.expires_at is not None and record.expires_at <= now,
        "models": list(record.models) if record.models is not None else None,
        "disabled": record.disabled,
        "revoked": record.revoked_at is not None,
        "revoked_at": _seconds(record.revoked_at),
        **public_limits(record.limits),
        "cache": record.cache,
        "declared": record.declared,
        "metadata": record.metadata,
    }


def render_team(record: TeamRecord) -> dict[str, Any]:
    """The public form of a team record, as :class:`TeamObject` describes it."""
    return {
        "id": record.id,
        "object": "gateway.team",
        "name": record.name,
        "created_at": int(record.created_at),
        "disabled": record.disabled,
        "models": list(record.models) if record.models is not None else None,
        **public_limits(record.limits),
        "metadata": record.metadata,
    }
