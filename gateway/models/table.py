"""The registry as a person reads it: what ``n`` and ``size`` become for each model.

``gateway models list`` prints it; ``gateway models list --markdown`` prints the README's
model table (a test keeps the README's copy current).
"""

from __future__ import annotations

from typing import Any

from gateway.models.registry import Registry
from gateway.models.spec import Count, Edit, ModelSpec, SizeTarget

HEADER = ("model", "aliases", "family", "generate", "edit", "n becomes", "size becomes")


def _range(low: int | None, high: int | None) -> str:
    if high is None:
        return f"≥{low or 1}"
    return str(high) if low == high else f"{low or 1}-{high}"


def count_text(count: Count | None) -> str:
    """``num_images 1-4``, or that the model makes one image per request."""
    if count is None:
        return "1 per request"
    return f"`{count.field}` {_range(count.min, count.max)}"


def _size_text(target: SizeTarget) -> str:
    if target.kind == "wxh":
        listed = ", ".join(str(v) for v in target.values)
        return f"`{target.field}` ({listed})" if listed else f"`{target.field}`"
    if target.kind == "image_size":
        presets = " or a preset" if target.values else ""
        if target.width is None or target.height is None:
            return f"`{target.field}` preset"
        sides = (
            _range(*target.width)
            if target.width == target.height
            else (f"w {_range(*target.width)}, h {_range(*target.height)}")
        )
        return f"`{target.field}` {{width, height}} {sides}{presets}"
    if target.kind == "aspect_ratio":
        return f"nearest `{target.field}`"
    return f"`{target.field}` ({', '.join(str(v) for v in target.values)})"


def size_text(spec: ModelSpec) -> str:
    """What OpenAI's ``size`` becomes; ``—`` when the model has no size field."""
    return " + ".join(_size_text(t) for t in spec.sizes) or "—"


def edit_text(edit: Edit | None) -> str:
    """How the model takes images to edit."""
    if edit is None:
        return "—"
    most = f"≤{edit.max_items} images" if edit.max_items else "any number of images"
    if edit.kind == "multipart":
        mask = ", mask" if edit.mask_field else ""
        return f"multipart `{edit.path}` ({most}{mask})"
    if edit.style == "string":
        return f"`{edit.field}` (1 image)"
    if edit.style == "string_or_array":
        return f"`{edit.field}` (1, or {most} as an array)"
    return f"`{edit.field}` ({most})"


def rows(registry: Registry) -> list[tuple[str, ...]]:
    """One row of :data:`HEADER` per model."""
    return [
        (
            f"`{spec.id}`",
            ", ".join(f"`{a}`" for a in spec.aliases),
            spec.family,
            "yes" if spec.generate else "needs input images",
            edit_text(spec.edit),
            count_text(spec.count),
            size_text(spec),
        )
        for spec in registry.models()
    ]


def markdown(registry: Registry) -> str:
    """The model table in Markdown."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in rows(registry)]
    return "\n".join(lines) + "\n"


def plain(registry: Registry) -> str:
    """The model table for a terminal."""
    table = [HEADER, *[tuple(cell.replace("`", "") for cell in row) for row in rows(registry)]]
    widths = [max(len(row[i]) for row in table) for i in range(len(HEADER))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in table
    )


def as_json(registry: Registry) -> list[dict[str, Any]]:
    """Every model with its aliases and capabilities (``GET /v1/models/{model}``'s data)."""
    return [
        {
            "id": spec.id,
            "family": spec.family,
            "aliases": list(spec.aliases),
            "sources": list(spec.sources),
            "capabilities": spec.capabilities(),
        }
        for spec in registry.models()
    ]


BEGIN, END = "<!-- models table: begin -->", "<!-- models table: end -->"


def splice(document: str, table: str) -> str:
    """``document`` with ``table`` between the README's model-table markers."""
    head, found, rest = document.partition(BEGIN)
    _old, found_end, tail = rest.partition(END)
    if not found or not found_end:
        raise ValueError(f"the document has no {BEGIN} ... {END} markers")
    return f"{head}{BEGIN}\n{table}{END}{tail}"
