"""The OpenAPI document of the client and admin APIs, served at ``GET /openapi.json``.

The paths are written by hand (the handlers are plain Starlette): the client API's, the
console's and the probes' here, the others by group in ``openapi_admin``, ``openapi_edits``
and ``openapi_logs``. A test keeps them true: every route of the app is documented and every
documented route exists. The admin API's schemas are those of the pydantic models that
validate its bodies and shape its answers (:mod:`gateway.web.admin_bodies`).
"""

from __future__ import annotations

from typing import Any

from gateway import __version__
from gateway.models.registry import Registry
from gateway.web.openapi_admin import admin_paths, key_paths, model_schemas, team_paths
from gateway.web.openapi_edits import edit_paths
from gateway.web.openapi_logs import log_paths
from gateway.web.openapi_parts import ERROR, answer, costed, days, errors

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


def build_openapi(registry: Registry) -> dict[str, Any]:
    """The document, with the registry's model ids as the ``model`` enum."""
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
                    "responses": costed(
                        {
                            "200": answer({"$ref": "#/components/schemas/ImagesResponse"}),
                            "201": answer({"$ref": "#/components/schemas/ImagesResponse"}),
                            **errors(400, 401, 403, 413, 429, 502, 503, 504),
                        }
                    ),
                }
            },
            "/v1/models": {
                "get": {
                    "summary": "Models this key may use (aliases listed too)",
                    "responses": {"200": answer({"type": "object"}), **errors(401)},
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
                    "responses": {"200": answer({"type": "object"}), **errors(401, 404)},
                }
            },
            "/v1/usage": {
                "get": {
                    "summary": "This key's usage",
                    "parameters": [days(30)],
                    "responses": {"200": answer({"type": "object"}), **errors(400, 401, 503)},
                }
            },
            **key_paths(),
            **team_paths(),
            **admin_paths(),
            **edit_paths(),
            **log_paths(),
            "/console": {"get": CONSOLE},
            "/console/{path}": {
                "parameters": [
                    {"name": "path", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "get": CONSOLE,
            },
            "/healthz": {"get": {"security": [], "responses": {"200": answer({"type": "object"})}}},
            "/readyz": {
                "get": {
                    "security": [],
                    "responses": {
                        "200": answer({"type": "object"}),
                        "503": answer({"type": "object"}),
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
                "get": {"security": [], "responses": {"200": answer({"type": "object"})}}
            },
        },
    }
