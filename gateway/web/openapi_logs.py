"""The OpenAPI paths of the request log and the audit log (merged by
:func:`gateway.web.openapi.build_openapi`)."""

from __future__ import annotations

from typing import Any

from gateway.web.openapi_parts import ADMIN, errors

NULLABLE_TEXT = {"type": ["string", "null"]}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema, "description": description}


LIMIT = _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50}, "")
BEFORE = _query("before", {"type": "string"}, "The next_before of the previous page")
TIME = {"oneOf": [{"type": "number"}, {"type": "string", "format": "date-time"}]}
REQUEST_ENTRY = {
    "type": "object",
    "required": ["id", "request_id", "created_at", "endpoint", "status"],
    "properties": {
        "id": {"type": "string", "description": "The entry's cursor"},
        "request_id": {"type": "string"},
        "created_at": {"type": "number", "description": "Unix seconds the request arrived"},
        "key_id": NULLABLE_TEXT,
        "team_id": NULLABLE_TEXT,
        "model": NULLABLE_TEXT,
        "endpoint": {"enum": ["generations", "edits"]},
        "status": {"type": "integer"},
        "error_code": NULLABLE_TEXT,
        "images": {"type": "integer"},
        "cache": {"enum": ["HIT", "MISS", "BYPASS", None]},
        "cost_usd": {**NULLABLE_TEXT, "description": "Exact decimal, when known"},
        "latency_ms": {"type": "number"},
        "upstream_ms": {"type": ["number", "null"]},
        "upstream_inference_id": NULLABLE_TEXT,
        "prompt": {"type": "string", "description": "Only with GATEWAY_REQUEST_LOG_PROMPTS"},
    },
}
AUDIT_ENTRY = {
    "type": "object",
    "required": ["id", "at", "action", "target", "changes", "actor"],
    "properties": {
        "id": {"type": "string"},
        "at": {"type": "number"},
        "action": {"type": "string", "examples": ["key.create", "key.revoke", "cache.purge"]},
        "target": {
            "type": "object",
            "properties": {
                "kind": {"type": "string"},
                "id": {"type": "string"},
                "name": NULLABLE_TEXT,
                "team_id": {
                    **NULLABLE_TEXT,
                    "description": "For a key: its team after the change (null: none)",
                },
            },
        },
        "changes": {
            "type": "object",
            "description": "Each changed field: [before, after]",
            "additionalProperties": {"type": "array", "minItems": 2, "maxItems": 2},
        },
        "actor": {"type": "string", "description": "admin:<8 hex of SHA-256 of the token>"},
        "source_ip": NULLABLE_TEXT,
        "request_id": NULLABLE_TEXT,
    },
}


def _page(item: dict[str, Any]) -> dict[str, Any]:
    schema = {
        "type": "object",
        "required": ["object", "data", "next_before"],
        "properties": {
            "object": {"const": "list"},
            "data": {"type": "array", "items": item},
            "next_before": NULLABLE_TEXT,
        },
    }
    return {"description": "OK", "content": {"application/json": {"schema": schema}}}


def log_paths() -> dict[str, Any]:
    """``/admin/requests``, its export and ``/admin/audit``."""
    return {
        "/admin/requests": {
            "get": {
                "summary": "The request log, newest first",
                "security": ADMIN,
                "parameters": [
                    _query("key_id", {"type": "string"}, "Only this key's requests"),
                    _query("team_id", {"type": "string"}, "Only this team's requests"),
                    _query("model", {"type": "string"}, "Only this model's requests"),
                    _query("status", {"type": "string"}, "A status code (429) or class (4xx)"),
                    LIMIT,
                    BEFORE,
                ],
                "responses": {"200": _page(REQUEST_ENTRY), **errors(400, 401, 404, 503)},
            }
        },
        "/admin/requests/export": {
            "get": {
                "summary": "Every request-log entry created in [since, until), as JSON lines",
                "security": ADMIN,
                "parameters": [
                    _query("since", TIME, "Unix seconds or ISO 8601 (default: the oldest kept)"),
                    _query("until", TIME, "Unix seconds or ISO 8601 (default: now)"),
                ],
                "responses": {
                    "200": {
                        "description": "One entry per line, oldest first",
                        "content": {"application/x-ndjson": {"schema": REQUEST_ENTRY}},
                    },
                    **errors(400, 401, 404, 503),
                },
            }
        },
        "/admin/audit": {
            "get": {
                "summary": "The audit log of admin changes, newest first",
                "security": ADMIN,
                "parameters": [LIMIT, BEFORE],
                "responses": {"200": _page(AUDIT_ENTRY), **errors(400, 401, 404, 503)},
            }
        },
    }
