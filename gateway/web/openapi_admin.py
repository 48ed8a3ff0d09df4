"""The OpenAPI paths of the admin API's keys, teams, cache, prices and overview, and the
schemas of the models that validate its bodies and shape its answers (merged by
:func:`gateway.web.openapi.build_openapi`).

The schemas are those of the pydantic models of :mod:`gateway.web.admin_bodies`, so the
document cannot drift from what the routes accept and answer.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from gateway.keys.search import STATUSES
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
from gateway.web.openapi_parts import ADMIN, REF, answer, body, days, errors, ref

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


def model_schemas() -> dict[str, Any]:
    """The JSON schemas of the admin API's models, by model name (their own ``$defs``
    lifted to the top, so every ``$ref`` resolves in ``components.schemas``)."""
    schemas: dict[str, Any] = {}
    for model, mode in MODELS:
        schema = model.model_json_schema(ref_template=REF, mode=mode)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return schemas


def key_paths() -> dict[str, Any]:
    """``/admin/keys`` and its sub-resources."""
    key_object = ref(KeyObject)
    key_id = [{"name": "key_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    return {
        "/admin/keys": {
            "post": {
                "summary": "Create a key",
                "security": ADMIN,
                "requestBody": body(KeyCreate),
                "responses": {
                    "201": answer(ref(KeyCreated), "Created"),
                    **errors(400, 401, 403, 404),
                },
            },
            "get": {
                "summary": "List, search and page keys",
                "security": ADMIN,
                "parameters": KEY_LIST_PARAMETERS,
                "responses": {"200": answer(ref(KeyList)), **errors(400, 401, 404)},
            },
        },
        "/admin/keys/{key_id}": {
            "parameters": key_id,
            "get": {
                "summary": "Show a key",
                "security": ADMIN,
                "responses": {"200": answer(key_object), **errors(401, 404)},
            },
            "patch": {
                "summary": "Change a key",
                "security": ADMIN,
                "requestBody": body(KeyUpdate),
                "responses": {"200": answer(key_object), **errors(400, 401, 403, 404, 409)},
            },
            "delete": {
                "summary": "Revoke a key",
                "security": ADMIN,
                "responses": {"200": answer(key_object), **errors(401, 403, 404)},
            },
        },
        "/admin/keys/{key_id}/rotate": {
            "parameters": key_id,
            "post": {
                "summary": "Give a key a new secret (shown only in this answer); the old "
                "one works for grace_seconds more",
                "security": ADMIN,
                "requestBody": {**body(KeyRotate), "required": False},
                "responses": {
                    "200": answer(ref(KeyCreated)),
                    **errors(400, 401, 403, 404, 409),
                },
            },
        },
        "/admin/keys/{key_id}/usage": {
            "parameters": key_id,
            "get": {
                "summary": "A key's usage",
                "security": ADMIN,
                "parameters": [days(30)],
                "responses": {"200": answer({"type": "object"}), **errors(400, 401, 404)},
            },
        },
    }


def team_paths() -> dict[str, Any]:
    """``/admin/teams`` and its sub-resources."""
    team = ref(TeamObject)
    team_id = [{"name": "team_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    return {
        "/admin/teams": {
            "post": {
                "summary": "Create a team",
                "security": ADMIN,
                "requestBody": body(TeamCreate),
                "responses": {"201": answer(team, "Created"), **errors(400, 401, 403, 404)},
            },
            "get": {
                "summary": "List teams (include=usage: today's figures and spend, and the "
                "number of keys, of each)",
                "security": ADMIN,
                "parameters": [INCLUDE],
                "responses": {"200": answer(ref(TeamList)), **errors(400, 401, 404)},
            },
        },
        "/admin/teams/{team_id}": {
            "parameters": team_id,
            "get": {
                "summary": "Show a team",
                "security": ADMIN,
                "responses": {"200": answer(team), **errors(401, 404)},
            },
            "patch": {
                "summary": "Change a team",
                "security": ADMIN,
                "requestBody": body(TeamUpdate),
                "responses": {"200": answer(team), **errors(400, 401, 403, 404)},
            },
            "delete": {
                "summary": "Delete a team (409 while keys that are not revoked are in it); "
                "answers the team as it was",
                "security": ADMIN,
                "responses": {"200": answer(team), **errors(401, 403, 404, 409)},
            },
        },
        "/admin/teams/{team_id}/usage": {
            "parameters": team_id,
            "get": {
                "summary": "A team's usage, spend and what is left of its limits",
                "security": ADMIN,
                "parameters": [days(30)],
                "responses": {"200": answer({"type": "object"}), **errors(400, 401, 404)},
            },
        },
    }


def admin_paths() -> dict[str, Any]:
    """The rest of the admin API: the cache, the price table, the caller's role and the
    overview."""
    return {
        "/admin/cache": {
            "get": {
                "summary": "Cache size",
                "security": ADMIN,
                "responses": {"200": answer({"type": "object"}), **errors(401, 404)},
            },
            "delete": {
                "summary": "Purge the cache",
                "security": ADMIN,
                "parameters": [{"name": "key_id", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": answer({"type": "object"}), **errors(401, 403, 404)},
            },
        },
        "/admin/prices": {
            "get": {
                "summary": "The price table costs are estimated with",
                "security": ADMIN,
                "responses": {"200": answer({"type": "object"}), **errors(401, 404)},
            },
        },
        "/admin/whoami": {
            "get": {
                "summary": "The calling token's role: admin, or readonly (reads only)",
                "security": ADMIN,
                "responses": {"200": answer(IDENTITY), **errors(401, 404)},
            }
        },
        "/admin/overview": {
            "get": {
                "summary": "Today's figures, refusals, upstream and store health",
                "security": ADMIN,
                "responses": {"200": answer({"type": "object"}), **errors(401, 404)},
            }
        },
    }
