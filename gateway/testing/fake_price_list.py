"""The fake upstream's published price list: AIML's shape and, for the models the tests use,
its figures (``GET /v1/models?include=pricing``), as data apart from the billing logic."""

from __future__ import annotations

from typing import Any

IMAGE = "openai/image-generations"


def _per_image(price: float) -> dict[str, Any]:
    return {
        "kind": "fixed",
        "units": [{"name": "image", "measure": "image", "price": price, "per": 1}],
    }


def _quality_size(
    prices: dict[str, tuple[float, float, float]], sizes: tuple[str, ...]
) -> dict[str, Any]:
    return {
        "kind": "variants",
        "dimensions": ["quality", "size"],
        "variants": [
            {"when": {"quality": quality, "size": size}, "price": price, "unit": "image", "per": 1}
            for quality, row in prices.items()
            for size, price in zip(sizes, row, strict=True)
        ],
    }


GPT_SIZES = ("1024x1024", "1024x1536", "1536x1024")
Row = tuple[float, float, float]


def _gpt(alias: str, low: Row, medium: Row, high: Row) -> dict[str, Any]:
    prices = {"low": low, "medium": medium, "high": high}
    return {"type": IMAGE, "aliases": [alias], "pricing": _quality_size(prices, GPT_SIZES)}


def price_list() -> dict[str, dict[str, Any]]:
    """The fake's published catalogue with prices: model id -> ``{type, aliases?, pricing?}``."""
    return {
        "dall-e-2": {
            "type": IMAGE,
            "pricing": {
                "kind": "variants",
                "dimensions": ["size"],
                "variants": [
                    {"when": {"size": s}, "price": p, "unit": "image", "per": 1}
                    for s, p in (("256x256", 0.0208), ("512x512", 0.0234), ("1024x1024", 0.026))
                ],
            },
        },
        "dall-e-3": {
            "type": IMAGE,
            "pricing": _quality_size(
                {"standard": (0.052, 0.104, 0.104), "hd": (0.104, 0.156, 0.156)},
                ("1024x1024", "1024x1792", "1792x1024"),
            ),
        },
        "openai/gpt-image-1": _gpt(
            "gpt-image-1",
            (0.0143, 0.0208, 0.0208),
            (0.0546, 0.0819, 0.0819),
            (0.2171, 0.325, 0.325),
        ),
        "openai/gpt-image-1-mini": _gpt(
            "gpt-image-1-mini",
            (0.0065, 0.0078, 0.0078),
            (0.0143, 0.0195, 0.0195),
            (0.0468, 0.0676, 0.0676),
        ),
        "openai/gpt-image-1-5": {"type": IMAGE, "pricing": {"kind": "variable"}},
        "flux/schnell": {
            "type": IMAGE,
            "pricing": {
                "kind": "fixed",
                "units": [{"name": "output", "measure": "megapixel", "price": 0.003, "per": 1}],
            },
        },
        "flux/dev": {
            "type": IMAGE,
            "pricing": {
                "kind": "fixed",
                "units": [{"name": "output", "measure": "megapixel", "price": 0.025, "per": 1}],
            },
        },
        "flux-pro": {"type": IMAGE, "pricing": _per_image(0.05)},
        "flux-pro/v1.1": {"type": IMAGE, "pricing": _per_image(0.04)},
        "flux-realism": {"type": IMAGE, "pricing": _per_image(0.035)},
        "flux-pro/v1.1-ultra": {"type": IMAGE, "pricing": _per_image(0.06)},
        "stable-diffusion-v3-medium": {"type": IMAGE, "pricing": _per_image(0.035)},
        "stable-diffusion-v35-large": {"type": IMAGE, "pricing": _per_image(0.065)},
        "recraft-v3": {"type": IMAGE},
        "imagen-3.0-generate-002": {"type": IMAGE, "pricing": _per_image(0.03)},
        "google/imagen-4.0-generate-001": {"type": IMAGE, "pricing": _per_image(0.04)},
        "google/imagen-4.0-ultra-generate-001": {"type": IMAGE, "pricing": _per_image(0.06)},
        "gpt-4o": {
            "type": "chat-completion",
            "pricing": {
                "kind": "fixed",
                "units": [
                    {"name": "input", "measure": "token", "price": 2.5, "per": 1_000_000},
                    {"name": "output", "measure": "token", "price": 10, "per": 1_000_000},
                ],
            },
        },
    }
