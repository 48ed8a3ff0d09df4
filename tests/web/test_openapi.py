"""The OpenAPI document stays true to the app's routes."""

from __future__ import annotations

import re

from starlette.routing import Route

from gateway.limits.usage import MAX_DAYS
from gateway.models.registry import Registry
from gateway.settings.model import Settings
from gateway.store.types import LIMIT_DESCRIPTIONS
from gateway.web.admin_bodies import KeyCreate, KeyUpdate
from gateway.web.app import create_app
from gateway.web.openapi import build_openapi


def test_every_route_is_documented_and_every_documented_route_exists() -> None:
    app = create_app(Settings())
    routes = {
        (re.sub(r":\w+}", "}", r.path), m.lower())
        for r in app.routes
        if isinstance(r, Route)
        for m in (r.methods or ())
        if m != "HEAD"
    }
    document = build_openapi(Registry.load())
    documented = {
        (path, method)
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert routes == documented


def test_model_enum_is_the_registry() -> None:
    registry = Registry.load()
    schema = build_openapi(registry)["components"]["schemas"]["ImageRequest"]
    names = [m.id for m in registry.models()] + list(registry.aliases())
    assert schema["properties"]["model"]["enum"] == names
    assert "gpt-image-1" in names


def test_admin_schemas_are_those_of_the_models_that_validate_the_bodies() -> None:
    document = build_openapi(Registry.load())
    schemas = document["components"]["schemas"]
    for path, method, model in (
        ("/admin/keys", "post", KeyCreate),
        ("/admin/keys/{key_id}", "patch", KeyUpdate),
    ):
        body = document["paths"][path][method]["requestBody"]["content"]["application/json"]
        assert body["schema"] == {"$ref": f"#/components/schemas/{model.__name__}"}
        assert schemas[model.__name__] == model.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        assert schemas[model.__name__]["additionalProperties"] is False
    created = document["paths"]["/admin/keys"]["post"]["responses"]["201"]
    assert created["content"]["application/json"]["schema"]["$ref"].endswith("/KeyCreated")


def test_every_limit_is_in_every_admin_schema_and_nothing_else_is_a_limit() -> None:
    schemas = build_openapi(Registry.load())["components"]["schemas"]
    for name in ("KeyCreate", "KeyUpdate", "KeyObject"):
        properties = schemas[name]["properties"]
        described = {
            p: s.get("description")
            for p, s in properties.items()
            if s.get("description") in LIMIT_DESCRIPTIONS.values()
        }
        assert described == LIMIT_DESCRIPTIONS


def test_fields_that_cannot_be_null_are_documented_as_such() -> None:
    schemas = build_openapi(Registry.load())["components"]["schemas"]
    assert schemas["KeyUpdate"]["properties"]["disabled"] == {
        "type": "boolean",
        "description": "Refuse the key until enabled.",
        "title": "Disabled",
    }
    assert "null" in str(schemas["KeyUpdate"]["properties"]["rpm"])


def test_usage_days_are_documented_as_the_api_accepts_them() -> None:
    paths = build_openapi(Registry.load())["paths"]
    for path in ("/v1/usage", "/admin/keys/{key_id}/usage"):
        (days,) = paths[path]["get"]["parameters"]
        assert days["schema"]["maximum"] == MAX_DAYS and days["schema"]["minimum"] == 1
