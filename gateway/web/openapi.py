"""The OpenAPI document of the client and admin APIs, served at ``GET /openapi.json``.

The paths are written here (the handlers are plain Starlette) and kept true by a test that
checks every route of the app is documented and every documented route exists; the admin
API's schemas are those of the pydantic models that validate its bodies and shape its
answers (:mod:`gateway.web.admin_bodies`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from gateway import __version__
from gateway.keys.search import STATUSES
from gateway.limits.usage import MAX_DAYS
from gateway.models.registry import Registry
from gateway.web.admin_bodies import (
    KeyCreate,
    KeyCreated,
    KeyList,
    KeyObject,
    KeyRotate,
    KeyUpdate,
    TeamCreate,
    TeamList,
    TeamObject,
    TeamUpdate,
)
from gateway.web.openapi_edits import edit_paths
from gateway.web.openapi_logs import log_paths

ERROR = {"$ref": "#/components/schemas/Error"}
REF = "#/components/schemas/{model}"
MODELS: tuple[tuple[type[BaseModel], Literal["validation", "serialization"]], ...] = (
    (KeyCreate, "validation"),
    (KeyUpdate, "validation"),
    (KeyRotate, "validation"),
    (KeyObject, "serialization"),
    (KeyCreated, "serialization"),
    (KeyList, "serialization"),
    (TeamCreate, "validation"),
    (TeamUpdate, "validation"),
    (TeamObject, "serialization"),
    (TeamList, "serialization"),
)
COST_HEADER = {
    "x-gateway-cost-usd": {
        "description": "What this request was charged, in USD (exact decimal): the "
        "upstream's reported cost on a miss, 0 on a cache hit or when nothing was charged.",
        "schema": {"type": "string"},
    }
}


INCLUDE = {"name": "include", "in": "query", "schema": {"enum": ["usage"]}}
KEY_LIST_PARAMETERS = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
    {"name": "after", "in": "query", "schema": {"type": "string", "minLength": 1}},
    {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 200}},
    {"name": "team_id", "in": "query", "schema": {"type": "string", "minLength": 1}},
    {
        "name": "status",
        "in": "query",
        "schema": {"enum": list(STATUSES)},
    },
    INCLUDE,
]
IDENTITY = {
    "type": "object",
    "required": ["role"],
    "properties": {"role": {"enum": ["admin", "readonly"]}},
}
CONSOLE = {
    "summary": "The operator console (only while the admin API is on)",
    "security": [],
    "responses": {
        "200": {
            "description": "The console's page or one of its files",
            "content": {"text/html": {"schema": {"type": "string"}}},
        },
        "304": {"description": "Not modified"},
        "404": {
            "description": "The admin API is off, or no such file",
            "content": {"application/json": {"schema": ERROR}},
        },
    },
}


def model_schemas() -> dict[str, Any]:
    """The JSON schemas of the admin API's models, by model name (their own ``$defs``
    lifted to the top, so every ``$ref`` resolves in ``components.schemas``)."""
    schemas: dict[str, Any] = {}
    for model, mode in MODELS:
        schema = model.model_json_schema(ref_template=REF, mode=mode)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return schemas


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _days(default: int) -> dict[str, Any]:
    return {
        "name": "days",
        "in": "query",
        "description": f"How many quota days of history, newest first (1 to {MAX_DAYS}).",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_DAYS, "default": default},
    }


def _errors(*statuses: int) -> dict[str, Any]:
    return {
        str(s): {
            "description": "OpenAI-shaped error",
            "content": {"application/json": {"schema": ERROR}},
        }
        for s in statuses
    }


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(model: type[BaseModel]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(model)}}}


def _costed(responses: dict[str, Any]) -> dict[str, Any]:
    """Responses that all carry ``x-gateway-cost-usd``."""
    return {status: {**answer, "headers": COST_HEADER} for status, answer in responses.items()}


def team_paths(admin: list[dict[str, list[str]]]) -> dict[str, Any]:
    """``/admin/teams`` and its sub-resources."""
    team = _ref(TeamObject)
    team_id = [{"name": "team_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    return {
        "/admin/teams": {
            "post": {
                "summary": "Create a team",
                "security": admin,
                "requestBody": _body(TeamCreate),
                "responses": {"201": _json(team, "Created"), **_errors(400, 401, 403, 404)},
            },
            "get": {
                "summary": "List teams (include=usage: today's figures and spend, and the "
                "number of keys, of each)",
                "security": admin,
                "parameters": [INCLUDE],
                "responses": {"200": _json(_ref(TeamList)), **_errors(400, 401, 404)},
            },
        },
        "/admin/teams/{team_id}": {
            "parameters": team_id,
            "get": {
                "summary": "Show a team",
                "security": admin,
                "responses": {"200": _json(team), **_errors(401, 404)},
            },
            "patch": {
                "summary": "Change a team",
                "security": admin,
                "requestBody": _body(TeamUpdate),
                "responses": {"200": _json(team), **_errors(400, 401, 403, 404)},
            },
            "delete": {
                "summary": "Delete a team (409 while keys that are not revoked are in it); "
                "answers the team as it was",
                "security": admin,
                "responses": {"200": _json(team), **_errors(401, 403, 404, 409)},
            },
        },
        "/admin/teams/{team_id}/usage": {
            "parameters": team_id,
            "get": {
                "summary": "A team's usage, spend and what is left of its limits",
                "security": admin,
                "parameters": [_days(30)],
                "responses": {"200": _json({"type": "object"}), **_errors(400, 401, 404)},
            },
        },
    }


def build_openapi(registry: Registry) -> dict[str, Any]:
    """The document, with the registry's model ids as the ``model`` enum."""
    key_object = _ref(KeyObject)
    admin: list[dict[str, list[str]]] = [{"bearerAuth": []}]
    key_id = [{"name": "key_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "imagegw",
            "version": __version__,
            "description": "OpenAI-compatible gateway for image generation.",
        },
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                **model_schemas(),
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["message", "type", "param", "code"],
                            "properties": {
                                "message": {"type": "string"},
                                "type": {"type": "string"},
                                "param": {"type": ["string", "null"]},
                                "code": {"type": ["string", "null"]},
                            },
                        }
                    },
                },
                "ImageRequest": {
                    "type": "object",
                    "required": ["model", "prompt"],
                    "properties": {
                        "model": {
                            "type": "string",
                            "enum": [m.id for m in registry.models()] + list(registry.aliases()),
                        },
                        "prompt": {"type": "string", "minLength": 1},
                        "n": {"type": "integer", "minimum": 1},
                        "size": {"type": "string"},
                        "response_format": {"enum": ["url", "b64_json"]},
                        "user": {"type": "string"},
                    },
                    "additionalProperties": True,
                },
                "ImagesResponse": {
                    "type": "object",
                    "required": ["data"],
                    "properties": {
                        "created": {"type": "integer"},
                        "data": {"type": "array", "items": {"type": "object"}},
                    },
                },
            },
        },
        "security": [{"bearerAuth": []}],
        "paths": {
            "/v1/images/generations": {
                "post": {
                    "summary": "Generate images",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/ImageRequest"}
                            }
                        },
                    },
                    "responses": _costed(
                        {
                            "200": _json({"$ref": "#/components/schemas/ImagesResponse"}),
                            "201": _json({"$ref": "#/components/schemas/ImagesResponse"}),
                            **_errors(400, 401, 403, 413, 429, 502, 503, 504),
                        }
                    ),
                }
            },
            "/v1/models": {
                "get": {
                    "summary": "Models this key may use (aliases listed too)",
                    "responses": {"200": _json({"type": "object"}), **_errors(401)},
                }
            },
            "/v1/models/{model}": {
                "get": {
                    "summary": "One model (id or alias) and what it can do",
                    "parameters": [
                        {
                            "name": "model",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {"200": _json({"type": "object"}), **_errors(401, 404)},
                }
            },
            "/v1/usage": {
                "get": {
                    "summary": "This key's usage",
                    "parameters": [_days(30)],
                    "responses": {"200": _json({"type": "object"}), **_errors(400, 401, 503)},
                }
            },
            "/admin/keys": {
                "post": {
                    "summary": "Create a key",
                    "security": admin,
                    "requestBody": _body(KeyCreate),
                    "responses": {
                        "201": _json(_ref(KeyCreated), "Created"),
                        **_errors(400, 401, 403, 404),
                    },
                },
                "get": {
                    "summary": "List, search and page keys",
                    "security": admin,
                    "parameters": KEY_LIST_PARAMETERS,
                    "responses": {"200": _json(_ref(KeyList)), **_errors(400, 401, 404)},
                },
            },
            "/admin/keys/{key_id}": {
                "parameters": key_id,
                "get": {
                    "summary": "Show a key",
                    "security": admin,
                    "responses": {"200": _json(key_object), **_errors(401, 404)},
                },
                "patch": {
                    "summary": "Change a key",
                    "security": admin,
                    "requestBody": _body(KeyUpdate),
                    "responses": {"200": _json(key_object), **_errors(400, 401, 403, 404, 409)},
                },
                "delete": {
                    "summary": "Revoke a key",
                    "security": admin,
                    "responses": {"200": _json(key_object), **_errors(401, 403, 404)},
                },
            },
            "/admin/keys/{key_id}/rotate": {
                "parameters": key_id,
                "post": {
                    "summary": "Give a key a new secret (shown only in this answer); the old "
                    "one works for grace_seconds more",
                    "security": admin,
                    "requestBody": {**_body(KeyRotate), "required": False},
                    "responses": {
                        "200": _json(_ref(KeyCreated)),
                        **_errors(400, 401, 403, 404, 409),
                    },
                },
            },
            "/admin/keys/{key_id}/usage": {
                "parameters": key_id,
                "get": {
                    "summary": "A key's usage",
                    "security": admin,
                    "parameters": [_days(30)],
                    "responses": {"200": _json({"type": "object"}), **_errors(400, 401, 404)},
                },
            },
            **team_paths(admin),
            "/admin/cache": {
                "get": {
                    "summary": "Cache size",
                    "security": admin,
                    "responses": {"200": _json({"type": "object"}), **_errors(401, 404)},
                },
                "delete": {
                    "summary": "Purge the cache",
                    "security": admin,
                    "parameters": [{"name": "key_id", "in": "query", "schema": {"type": "string"}}],
                    "responses": {"200": _json({"type": "object"}), **_errors(401, 403, 404)},
                },
            },
            "/admin/prices": {
                "get": {
                    "summary": "The price table costs are estimated with",
                    "security": admin,
                    "responses": {"200": _json({"type": "object"}), **_errors(401, 404)},
                },
            },
            "/admin/whoami": {
                "get": {
                    "summary": "The calling token's role: admin, or readonly (reads only)",
                    "security": admin,
                    "responses": {"200": _json(IDENTITY), **_errors(401, 404)},
                }
            },
            "/admin/overview": {
                "get": {
                    "summary": "Today's figures, refusals, upstream and store health",
                    "security": admin,
                    "responses": {"200": _json({"type": "object"}), **_errors(401, 404)},
                }
            },
            **edit_paths(_errors, _json, _costed),
            **log_paths(_errors),
            "/console": {"get": CONSOLE},
            "/console/{path}": {
                "parameters": [
                    {"name": "path", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "get": CONSOLE,
            },
            "/healthz": {"get": {"security": [], "responses": {"200": _json({"type": "object"})}}},
            "/readyz": {
                "get": {
                    "security": [],
                    "responses": {
                        "200": _json({"type": "object"}),
                        "503": _json({"type": "object"}),
                    },
                }
            },
            "/metrics": {
                "get": {
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "Prometheus text format",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
            "/openapi.json": {
                "get": {"security": [], "responses": {"200": _json({"type": "object"})}}
            },
        },
    }
