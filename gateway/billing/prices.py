"""The price table and the estimated cost of a request.

Prices use the upstream's own vocabulary (``GET /v1/models?include=pricing``):

- ``fixed``: ``units`` of ``{name, measure, price, per}``, added up per image;
- ``variants``: ``dimensions`` and ``variants`` of ``{when, price, unit, per}``: the price
  depends on request fields (``quality``, ``size``, ``resolution``...);
- ``variable``: not quotable ahead.

``price`` is always read with ``per`` (USD per ``per`` units). Quotable ahead are the units
``image`` (one per image) and ``megapixel`` (the image's pixels / 10**6, from the request's
size). Anything else (tokens, seconds), an unknown model, ``variable`` pricing, or a
per-megapixel rate without a size the gateway can read falls back to the default per-image
price, a conservative figure the reported cost then corrects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from gateway.billing.money import rate_nanos

Kind = Literal["fixed", "variants", "variable"]
IMAGE_UNITS = frozenset({"image", "images"})
MEGAPIXEL_UNITS = frozenset({"megapixel", "megapixels", "mp"})
# The presets of image_size as the upstream's fal-style models render them.
IMAGE_SIZE_PRESETS = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}
_MILLION = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class Rate:
    """``price`` USD per ``per`` of ``measure``."""

    price: Decimal
    per: Decimal
    measure: str
    name: str | None = None

    def image_nanos(self, megapixels: Decimal | None) -> int | None:
        """What one image costs at this rate (rounded up), or None when not quotable."""
        measure = self.measure.lower()
        if measure in IMAGE_UNITS:
            return rate_nanos(self.price, Decimal(1), self.per)
        if measure in MEGAPIXEL_UNITS and megapixels is not None:
            return rate_nanos(self.price, megapixels, self.per)
        return None

    def text(self) -> str:
        """``$0.04/image``, ``$2.5/1000000 token``."""
        if self.per == 1:
            return f"${self.price}/{self.measure}"
        return f"${self.price}/{self.per} {self.measure}"


@dataclass(frozen=True, slots=True)
class Variant:
    """A price that applies when every ``when`` field has the given value."""

    when: tuple[tuple[str, str], ...]
    rate: Rate

    def consistent_with(self, values: Mapping[str, str]) -> bool:
        """True unless the request gives one of the ``when`` fields another value."""
        return all(values.get(name, wanted) == wanted for name, wanted in self.when)


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """The price of one model, under its id and any aliases."""

    model: str
    kind: Kind
    units: tuple[Rate, ...] = ()
    dimensions: tuple[str, ...] = ()
    variants: tuple[Variant, ...] = ()
    aliases: tuple[str, ...] = ()
    source: str | None = None

    def priced_by(self) -> tuple[str, ...]:
        """The request fields this price depends on: its variants' dimensions and the size
        fields (per-megapixel rates)."""
        named = dict.fromkeys(name for variant in self.variants for name, _ in variant.when)
        return (*_PRICED_BY, *(name for name in named if name not in _PRICED_BY))

    def summary(self) -> str:
        """The price in a few words: ``$0.003/image``, ``9 variants $0.011/image to ...``."""
        if self.kind == "fixed":
            return " + ".join(unit.text() for unit in self.units)
        if self.kind == "variants":
            rates = sorted((v.rate for v in self.variants), key=lambda r: r.price / r.per)
            low, high = rates[0], rates[-1]
            span = low.text() if low.text() == high.text() else f"{low.text()} to {high.text()}"
            return f"{len(rates)} variants {span}"
        return "variable"


@dataclass(frozen=True, slots=True)
class Estimate:
    """The estimated cost of a request: ``nanos`` = ``per_image_nanos`` x ``images``.

    ``basis`` says where the figure came from; with ``"default"``, ``reason`` says why the
    default per-image price was used.
    """

    nanos: int
    per_image_nanos: int
    images: int
    basis: Literal["fixed", "variant", "default"]
    reason: str | None = None


def field_text(value: Any) -> str | None:
    """A request field's value as the text a variant's ``when`` is compared with."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):
        number = Decimal(repr(value)) if isinstance(value, float) else value
        if not number.is_finite():
            return None
        return str(int(number)) if number == number.to_integral_value() else str(number)
    dims = _dims(value)
    return f"{dims[0]}x{dims[1]}" if dims else None


def _side(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


def _dims(value: Any) -> tuple[int, int] | None:
    if isinstance(value, str):
        if value in IMAGE_SIZE_PRESETS:
            return IMAGE_SIZE_PRESETS[value]
        width, sep, height = value.lower().partition("x")
        if sep and width.isdigit() and height.isdigit():
            return int(width), int(height)
        return None
    if isinstance(value, dict):
        w, h = _side(value.get("width")), _side(value.get("height"))
        if w is not None and h is not None:
            return w, h
    return None


Quote = tuple[int | None, Literal["fixed", "variant", "default"], str | None]
"""A per-image estimate in nano-dollars (None: not quotable ahead), its basis and why not."""

MAX_QUOTES = 4096
_PRICED_BY = ("size", "image_size", "width", "height")
"""The fields :func:`megapixels` reads: every model's estimate may depend on them."""


_PLAIN = frozenset((str, int, bool, float, type(None)))


def _key_text(value: Any) -> object:
    """What a field contributes to a remembered quote: a plain value itself with its type
    (``1024``, ``1024.0`` and ``True`` never share one), anything else its type and its text
    as variants compare it."""
    kind = type(value)
    return (kind, value) if kind in _PLAIN else (kind, field_text(value))


def megapixels(fields: Mapping[str, Any]) -> Decimal | None:
    """The image's pixels / 10**6 from ``size`` ("WxH"), ``image_size`` (a preset or
    ``{width, height}``) or ``width`` and ``height``; None when the request does not say."""
    for name in ("size", "image_size"):
        dims = _dims(fields.get(name))
        if dims is not None:
            return Decimal(dims[0] * dims[1]) / _MILLION
    dims = _dims({"width": fields.get("width"), "height": fields.get("height")})
    return Decimal(dims[0] * dims[1]) / _MILLION if dims else None


class PriceTable:
    """Prices by model id or alias, layered: a later layer's entry replaces an earlier one
    under every name it has (its id and its aliases); within a layer ids win over aliases."""

    def __init__(self, layers: Sequence[Iterable[ModelPrice]], default_image_nanos: int) -> None:
        self.default_image_nanos = default_image_nanos
        self._names: dict[str, ModelPrice] = {}
        self._quotes: dict[tuple[object, ...], Quote] = {}
        for layer in layers:
            entries = list(layer)
            for entry in entries:
                for alias in entry.aliases:
                    self._names[alias] = entry
            for entry in entries:
                self._names[entry.model] = entry
        self._priced_by = {name: entry.priced_by() for name, entry in self._names.items()}

    def get(self, model: str) -> ModelPrice | None:
        """The price of ``model`` (an id or an alias)."""
        return self._names.get(model)

    def models(self) -> list[ModelPrice]:
        """Every entry still in force, sorted by model id."""
        unique = {id(entry): entry for entry in self._names.values()}
        return sorted(unique.values(), key=lambda entry: entry.model)

    def estimate(self, model: str, fields: Mapping[str, Any], images: int) -> Estimate:
        """The estimated cost of ``images`` images of ``model`` for a request with ``fields``
        (the model's own field names, defaults filled in, as the registry prepares them)."""
        per_image, basis, reason = self._quote(model, fields)
        if per_image is None:
            per_image, basis = self.default_image_nanos, "default"
        return Estimate(per_image * images, per_image, images, basis, reason)

    def _quote(self, model: str, fields: Mapping[str, Any]) -> Quote:
        """:meth:`_per_image`, remembered by what it depends on: the model and the fields that
        price it (its variants' dimensions and the size fields), never the prompt. Requests
        repeat a handful of sizes and qualities, and every one is estimated before admission
        (cache hits too), so the variant search runs once per combination, not per request.
        Bounded: forgotten wholesale past :data:`MAX_QUOTES` combinations."""
        names = self._priced_by.get(model, _PRICED_BY)
        key = (model, *[_key_text(fields.get(name)) for name in names])
        found = self._quotes.get(key)
        if found is None:
            found = self._per_image(model, fields)
            if len(self._quotes) >= MAX_QUOTES:
                self._quotes.clear()
            self._quotes[key] = found
        return found

    def _per_image(self, model: str, fields: Mapping[str, Any]) -> Quote:
        price = self.get(model)
        if price is None:
            return None, "default", "no price known for the model"
        if price.kind == "variable":
            return None, "default", "the model's price is variable"
        mp = megapixels(fields)
        if price.kind == "fixed":
            total = 0
            for unit in price.units:
                nanos = unit.image_nanos(mp)
                if nanos is None:
                    return None, "default", f"unit {unit.measure!r} is not quotable ahead"
                total += nanos
            return total, "fixed", None
        return self._variant(price, fields, mp)

    @staticmethod
    def _variant(price: ModelPrice, fields: Mapping[str, Any], mp: Decimal | None) -> Quote:
        """The dearest variant consistent with the request: the one it names when every
        dimension is given, else the most the request can cost; the dearest of all when
        the request matches none (a value the price list does not know)."""
        values = {
            name: text for name, value in fields.items() if (text := field_text(value)) is not None
        }
        candidates = [v for v in price.variants if v.consistent_with(values)] or list(
            price.variants
        )
        quoted = [n for v in candidates if (n := v.rate.image_nanos(mp)) is not None]
        if not quoted:
            return None, "default", "no variant is quotable ahead for the request"
        return max(quoted), "variant", None
