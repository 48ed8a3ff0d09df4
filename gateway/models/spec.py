"""What the gateway knows of one model: plain data, shared by the registry and the adapters."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Count:
    """The model's own count field (``n``, ``num_images``) and its range."""

    field: str = "n"
    min: int = 1
    max: int = 10
    default: int = 1


@dataclass(frozen=True, slots=True)
class Size:
    """The model's own size field and how OpenAI's ``size`` maps onto it."""

    field: str
    kind: str
    values: tuple[str, ...]
    default: str | None


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """Everything the gateway knows of one model."""

    id: str
    family: str
    owned_by: str
    response: str
    prompt_max: int
    count: Count
    size: Size | None
    formats: tuple[str, ...]
    format_default: str
    format_native: bool
    enums: dict[str, tuple[tuple[str, ...], str | None]] = field(default_factory=dict)
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)


def passthrough_spec(model_id: str) -> ModelSpec:
    """A model the registry does not know, allowed by ``allow_unknown``: only basics checked."""
    return ModelSpec(
        id=model_id,
        family="passthrough",
        owned_by="upstream",
        response="any",
        prompt_max=1_000_000,
        count=Count("n", 1, 10_000, 1),
        size=None,
        formats=("url", "b64_json"),
        format_default="url",
        format_native=True,
    )
