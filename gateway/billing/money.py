"""Exact amounts of USD as integer nano-dollars (10**-9 USD); never floats.

Why nano-dollars and not micro-dollars: the upstream reports costs with up to nine decimals
(``x-aimlapi-usd-spent: 0.001240000``, ``$0.0536705``). Held as whole nano-dollars every
reported cost is kept exactly, so any sum of them is exact and recorded spend equals the sum
of the upstream's figures to the micro-dollar (and to the nano-dollar), whatever the number
of calls. Rounding to micro-dollars per call instead would drift by up to half a
micro-dollar a call.

Rounding happens in two places only, both documented where they happen:

- an amount given with more than nine decimals is rounded half-up to the nano-dollar
  (:func:`parse_usd`; the upstream never sends one);
- a price computed from a rate (per megapixel, per million units) is rounded *up* to the
  nano-dollar (:func:`rate_nanos`), so an estimate never falls short through rounding.

A counter of nano-dollars stays exact in a double (Lua numbers in Redis) up to 2**53 - 1
nano-dollars, about $9,007,199.25, which bounds every single amount accepted here.
"""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, ROUND_HALF_UP, Context, Decimal, InvalidOperation

NANOS_PER_USD = 1_000_000_000
MAX_NANOS = 2**53 - 1
_CONTEXT = Context(prec=80)
_PLAIN = re.compile(r"[0-9]{1,16}(\.[0-9]{1,40})?")
_NANO = Decimal(1).scaleb(-9)
_ONE = Decimal(1)


class InvalidAmount(ValueError):
    """A value that is not a non-negative, finite USD amount the gateway can hold."""


def _decimal(value: object) -> Decimal:
    if isinstance(value, bool):
        raise InvalidAmount(f"not a number: {value!r}")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        # orjson hands JSON numbers over as floats. repr() is the shortest text that reads
        # back as the same float, which for a decimal of up to 15 significant digits (every
        # cost the upstream sends) is that decimal as it was written.
        return Decimal(repr(value))
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("-") and _PLAIN.fullmatch(text[1:]):
            raise InvalidAmount(f"negative amount: {text[:40]!r}")
        if not _PLAIN.fullmatch(text):
            raise InvalidAmount(f"not a decimal number: {text[:40]!r}")
        return Decimal(text)
    raise InvalidAmount(f"not a number: {type(value).__name__}")


def parse_usd(value: object) -> int:
    """USD as nano-dollars, from a decimal string (``"0.053670500"``), an int, a float as read
    from JSON, or a Decimal; half-up rounding past nine decimals.

    Strings must be plain decimals (digits, one optional point): no sign, exponent,
    ``NaN`` or ``Infinity``, as in the upstream's headers. Raises :class:`InvalidAmount`
    for anything negative, non-finite, non-numeric or above :data:`MAX_NANOS`.

    A plain decimal string (every upstream header) is read with integer arithmetic, exactly
    as the Decimal path would round it (:func:`_parse_decimal`, which reads the rest and
    words every refusal).
    """
    if type(value) is str:
        text = value.strip()
        if _PLAIN.fullmatch(text):
            whole, _, fraction = text.partition(".")
            nanos = int(whole) * NANOS_PER_USD
            if fraction:
                nanos += int(fraction[:9].ljust(9, "0"))
                if len(fraction) > 9 and fraction[9] >= "5":
                    nanos += 1
            if nanos <= MAX_NANOS:
                return nanos
    return _parse_decimal(value)


def _parse_decimal(value: object) -> int:
    """:func:`parse_usd` through :class:`~decimal.Decimal`, for any value it takes."""
    amount = _decimal(value)
    if not amount.is_finite():
        raise InvalidAmount(f"not a finite number: {amount}")
    if amount < 0:
        raise InvalidAmount(f"negative amount: {amount}")
    try:
        nanos = int(_CONTEXT.scaleb(amount, 9).quantize(_ONE, ROUND_HALF_UP, _CONTEXT))
    except InvalidOperation:
        raise InvalidAmount(f"amount too large: {amount}") from None
    if nanos > MAX_NANOS:
        raise InvalidAmount(f"amount too large: {amount}")
    return nanos


def rate_nanos(price: Decimal, quantity: Decimal, per: Decimal) -> int:
    """``price`` USD per ``per`` units, for ``quantity`` units, rounded up to the nano-dollar."""
    exact = _CONTEXT.divide(_CONTEXT.multiply(price, quantity), per)
    return int(_CONTEXT.scaleb(exact, 9).quantize(_ONE, ROUND_CEILING, _CONTEXT))


def to_decimal(nanos: int) -> Decimal:
    """Nano-dollars as an exact Decimal of USD."""
    return _CONTEXT.multiply(Decimal(nanos), _NANO).normalize(_CONTEXT)


def format_usd(nanos: int) -> str:
    """Nano-dollars as a plain decimal string of USD for headers and JSON: exact, no exponent,
    trailing zeros dropped (``0``, ``0.05``, ``1``, ``0.0536705``)."""
    if nanos < 0:
        return "-" + format_usd(-nanos)
    whole, fraction = divmod(nanos, NANOS_PER_USD)
    if not fraction:
        return str(whole)
    return f"{whole}.{fraction:09d}".rstrip("0")
