"""What the gateway knows of one model: plain data built once at start-up from the registry
file (:mod:`gateway.models.derive`), read by the adapters on every request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.models import roles
from gateway.models.validation import BodyCheck


@dataclass(frozen=True, slots=True)
class Count:
    """The model's own count field and what its schema allows (``max`` None: unbounded)."""

    field: str
    default: int = 1
    min: int = 1
    max: int | None = None


@dataclass(frozen=True, slots=True)
class SizeTarget:
    """One field OpenAI's ``size`` maps onto, with what the schema allows for it.

    ``kind``: ``wxh`` (takes "WxH" as is), ``image_size`` (a ``{width, height}`` within
    ``width``/``height`` bounds, or a preset), ``aspect_ratio`` (the nearest ratio),
    ``resolution`` (the smallest that covers the longer side).
    """

    field: str
    kind: str
    values: tuple[Any, ...] = ()
    width: tuple[int | None, int | None] | None = None
    height: tuple[int | None, int | None] | None = None


@dataclass(frozen=True, slots=True)
class Formats:
    """How OpenAI's ``response_format`` maps: ``native`` (the model has the field),
    ``url_flag`` (a boolean such as ``convert_base64_to_url``), or ``url_only``."""

    kind: str
    field: str | None
    values: tuple[str, ...]
    default: str


@dataclass(frozen=True, slots=True)
class Edit:
    """How the model edits images.

    ``multipart``: the upstream's ``/v1/images/edits`` takes the files as form parts
    (``field`` for the images, up to ``max_items``; ``mask_field``); ``schema`` checks the
    other form fields. ``json``: the images go, as data URLs, into the generation body's
    ``field``: a string (``style`` ``string``), an array (``array``) or either
    (``string_or_array``), at most ``max_items`` (None: no published limit).
    """

    kind: str
    path: str
    field: str
    style: str
    max_items: int | None
    mask_field: str | None = None
    check: BodyCheck | None = None


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """Everything the gateway knows of one model."""

    id: str
    family: str
    aliases: tuple[str, ...]
    path: str
    check: BodyCheck | None
    count: Count | None
    sizes: tuple[SizeTarget, ...]
    formats: Formats
    edit: Edit | None
    generate: bool
    defaults: dict[str, Any] = field(default_factory=dict)
    closed: bool = False
    sources: tuple[str, ...] = ()

    def values(self, name: str) -> tuple[Any, ...]:
        """The values the model's schema enumerates for a top-level field (empty if none)."""
        if self.check is None:
            return ()
        prop = roles.properties(self.check.schema).get(name)
        return tuple(roles.enum_values(prop)) if isinstance(prop, dict) else ()

    def named_in(self, names: list[str] | tuple[str, ...] | frozenset[str]) -> bool:
        """Whether an allow-list names this model, by its id or one of its aliases."""
        return self.id in names or any(alias in names for alias in self.aliases)

    @property
    def owned_by(self) -> str:
        """OpenAI's ``owned_by``: the family (the model's maker)."""
        return self.family

    def capabilities(self) -> dict[str, Any]:
        """What ``GET /v1/models/{model}`` reports the model can do."""
        count = self.count
        return {
            "generate": self.generate,
            "edit": self.edit is not None,
            "edit_input": None
            if self.edit is None
            else {
                "kind": self.edit.kind,
                "field": self.edit.field,
                "style": self.edit.style,
                "max_images": self.edit.max_items,
                "mask": self.edit.mask_field is not None,
            },
            "count": None
            if count is None
            else {"field": count.field, "min": count.min, "max": count.max},
            "size": [{"field": s.field, "kind": s.kind} for s in self.sizes],
            "response_formats": list(self.formats.values),
        }


def passthrough_spec(model_id: str) -> ModelSpec:
    """A model the registry does not know, allowed by ``allow_unknown``: only OpenAI's own
    fields are checked and everything goes upstream as sent."""
    return ModelSpec(
        id=model_id,
        family="passthrough",
        aliases=(),
        path="/v1/images/generations",
        check=None,
        count=Count("n", 1, 1, None),
        sizes=(SizeTarget("size", "wxh"),),
        formats=Formats("native", "response_format", ("url", "b64_json"), "url"),
        edit=None,
        generate=True,
    )
