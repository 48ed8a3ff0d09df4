"""The limits of :class:`gateway.store.types.Limits` as validated fields, money read exactly.

Declared keys, the admin API's bodies and the ``default_`` settings all take the same limits;
they are generated here from the store's dataclass, so a new limit is a setting, a declared
key's field and an admin field at once. A money limit is written as a decimal amount of USD
and held by every store in integer nano-dollars, so it is read as an exact Decimal, never a
float.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, get_type_hints

from pydantic import BaseModel, Field, create_model, field_validator

from gateway.store.types import LIMIT_DESCRIPTIONS, LIMIT_NAMES, MONEY_LIMITS, Limits

MAX_LIMIT = 2**53 - 1
MAX_USD = Decimal(MAX_LIMIT).scaleb(-9)
"""The largest money limit: what every store holds exactly in nano-dollars (a double in Lua)."""


def limit_fields(prefix: str = "") -> dict[str, Any]:
    """The limits of :class:`Limits` as pydantic field definitions named ``prefix + name``:
    the dataclass's own type (``None`` for unlimited), from 0 to the largest integer every
    store holds exactly, with its description. A money limit is a decimal amount of USD
    with at most nine decimals (the stores hold it in nano-dollars, see
    :func:`limits_of`)."""
    hints = get_type_hints(Limits)
    found: dict[str, Any] = {}
    for name in LIMIT_NAMES:
        described = LIMIT_DESCRIPTIONS[name]
        if name in MONEY_LIMITS:
            found[prefix + name] = (
                Decimal | None,
                Field(default=None, ge=0, le=MAX_USD, decimal_places=9, description=described),
            )
        else:
            found[prefix + name] = (
                hints[name],
                Field(default=None, ge=0, le=MAX_LIMIT, description=described),
            )
    return found


def usd_amount(value: Any) -> Any:
    """A money limit as given (a JSON or TOML number, a decimal string, a Decimal) read as
    an exact Decimal; a float is read as the decimal it was written as (its shortest repr).
    Anything else is refused with a message naming what is expected."""
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise ValueError("must be a decimal amount of USD (e.g. 1.50), not a boolean")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except ArithmeticError:
            amount = None
        if amount is not None and amount.is_finite():
            return amount
    raise ValueError("must be a decimal amount of USD (e.g. 1.50)")


def usd_nanos(amount: Decimal) -> int:
    """A validated amount of USD (at most nine decimals) as integer nano-dollars, exactly."""
    return int(amount.scaleb(9))


class _LimitModel(BaseModel):
    """What every model carrying the limits shares: money limits read exactly."""

    @field_validator(*MONEY_LIMITS, mode="before", check_fields=False)
    @classmethod
    def _money(cls, value: Any) -> Any:
        return usd_amount(value)


class _DefaultLimitModel(BaseModel):
    """The same for the ``default_`` limits of the settings."""

    @field_validator(*(f"default_{n}" for n in MONEY_LIMITS), mode="before", check_fields=False)
    @classmethod
    def _money(cls, value: Any) -> Any:
        return usd_amount(value)


if TYPE_CHECKING:
    LimitFields = _LimitModel
    DefaultLimitFields = _DefaultLimitModel
else:
    LimitFields = create_model("LimitFields", __base__=_LimitModel, **limit_fields())
    DefaultLimitFields = create_model(
        "DefaultLimitFields", __base__=_DefaultLimitModel, **limit_fields("default_")
    )


def limits_of(values: Mapping[str, Any], prefix: str = "") -> dict[str, int | None]:
    """The limits named in ``values`` (``prefix + name``, validated by a model with
    :func:`limit_fields`), in the stores' terms: money in nano-dollars. Only the limits
    present in ``values`` are returned."""
    found: dict[str, int | None] = {}
    for name in LIMIT_NAMES:
        if prefix + name not in values:
            continue
        value = values[prefix + name]
        found[name] = usd_nanos(value) if name in MONEY_LIMITS and value is not None else value
    return found
