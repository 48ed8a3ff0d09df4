"""The OpenAPI document stays true to the app's routes."""

from __future__ import annotations

import re

from starlette.routing import Route

from gateway.models.registry import Registry
from gateway.settings import Settings
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
