"""The pieces every part of the OpenAPI document is written with: references to its
schemas, the error answers, JSON bodies and answers, the cost header, the ``days`` query.

Shared by :mod:`gateway.web.openapi` and the modules that write one group of paths each
(``openapi_admin``, ``openapi_edits``, ``openapi_logs``), so every path spells an error or
an admin route the same way.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from gateway.limits.usage import MAX_DAYS

ERROR = {"$ref": "#/components/schemas/Error"}
REF = "#/components/schemas/{model}"
ADMIN: list[dict[str, list[str]]] = [{"bearerAuth": []}]
"""The security of an admin route: the admin token as a bearer token."""
COST_HEADER = {
    "x-gateway-cost-usd": {
        "description": "What this request was charged, in USD (exact decimal): the "
        "upstream's reported cost on a miss, 0 on a cache hit or when nothing was charged.",
        "schema": {"type": "string"},
    }
}


def ref(model: type[BaseModel]) -> dict[str, str]:
    """A reference to ``model``'s schema in ``components.schemas``."""
    return {"$ref": REF.format(model=model.__name__)}


def days(default: int) -> dict[str, Any]:
    """The ``days`` query parameter of the usage routes."""
    return {
        "name": "days",
        "in": "query",
        "description": f"How many quota days of history, newest first (1 to {MAX_DAYS}).",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_DAYS, "default": default},
    }


def errors(*statuses: int) -> dict[str, Any]:
    """The OpenAI-shaped error answers of ``statuses``."""
    return {
        str(s): {
            "description": "OpenAI-shaped error",
            "content": {"application/json": {"schema": ERROR}},
        }
        for s in statuses
    }


def answer(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    """A JSON answer of ``schema``."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def body(model: type[BaseModel]) -> dict[str, Any]:
    """A required JSON request body validated by ``model``."""
    return {"required": True, "content": {"application/json": {"schema": ref(model)}}}


def costed(responses: dict[str, Any]) -> dict[str, Any]:
    """Responses that all carry ``x-gateway-cost-usd``."""
    return {status: {**response, "headers": COST_HEADER} for status, response in responses.items()}
