"""The route table: every path and method the gateway answers, and its endpoint.

Generations and edits are also the app's hot routes, served in front of Starlette's layers
(:mod:`gateway.web.hotpath`): the table names them apart for the app to hand over.
``/openapi.json`` answers the document as it was built once, at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.observability.clock import Clock
from gateway.settings.model import Settings
from gateway.web.middleware import AccessLog
from gateway.web.routes import admin, edits, health, images, logs, models, teams, usage
from gateway.web.routes import prices as prices_route
from gateway.web.routes.console import Console
from gateway.web.routes.overview import Overview
from gateway.web.uploads import UploadLimits


@dataclass(frozen=True, slots=True)
class RouteTable:
    """Every route, and those of them that skip Starlette's layers."""

    routes: list[Route]
    hot: list[Route]


def route_table(settings: Settings, access: AccessLog, clock: Clock, document: bytes) -> RouteTable:
    """The routes of a gateway configured by ``settings``, whose image routes log to
    ``access`` and whose ``/openapi.json`` answers ``document``."""

    async def openapi_route(request: Request) -> Response:
        return Response(document, media_type="application/json")

    console = Console.load()
    generations = Route("/v1/images/generations", images.Generations(access), methods=["POST"])
    edit_route = Route(
        "/v1/images/edits", edits.Edits(access, UploadLimits.of(settings)), methods=["POST"]
    )
    routes = [
        generations,
        edit_route,
        Route("/v1/images/variations", edits.variations, methods=["POST"]),
        Route("/v1/models", models.list_models, methods=["GET"]),
        Route("/v1/models/{model:path}", models.retrieve_model, methods=["GET"]),
        Route("/v1/usage", usage.own_usage, methods=["GET"]),
        Route("/admin/keys", admin.create_key, methods=["POST"]),
        Route("/admin/keys", admin.list_keys, methods=["GET"]),
        Route("/admin/keys/{key_id}", admin.get_key, methods=["GET"]),
        Route("/admin/keys/{key_id}", admin.update_key, methods=["PATCH"]),
        Route("/admin/keys/{key_id}", admin.revoke_key, methods=["DELETE"]),
        Route("/admin/keys/{key_id}/usage", admin.key_usage, methods=["GET"]),
        Route("/admin/keys/{key_id}/rotate", admin.rotate_key, methods=["POST"]),
        Route("/admin/teams", teams.create_team, methods=["POST"]),
        Route("/admin/teams", teams.list_teams, methods=["GET"]),
        Route("/admin/teams/{team_id}", teams.get_team, methods=["GET"]),
        Route("/admin/teams/{team_id}", teams.update_team, methods=["PATCH"]),
        Route("/admin/teams/{team_id}", teams.delete_team, methods=["DELETE"]),
        Route("/admin/teams/{team_id}/usage", teams.team_usage, methods=["GET"]),
        Route("/admin/cache", admin.cache_stats, methods=["GET"]),
        Route("/admin/cache", admin.purge_cache, methods=["DELETE"]),
        Route("/admin/prices", prices_route.list_prices, methods=["GET"]),
        Route("/admin/whoami", admin.whoami, methods=["GET"]),
        Route("/admin/overview", Overview(clock()).endpoint, methods=["GET"]),
        Route("/admin/requests", logs.list_requests, methods=["GET"]),
        Route("/admin/requests/export", logs.export_requests, methods=["GET"]),
        Route("/admin/audit", logs.list_audit, methods=["GET"]),
        Route("/console", console.page, methods=["GET"]),
        Route("/console/{path:path}", console.asset, methods=["GET"]),
        Route("/healthz", health.healthz, methods=["GET"]),
        Route("/readyz", health.readyz, methods=["GET"]),
        Route("/metrics", health.metrics, methods=["GET"]),
        Route("/openapi.json", openapi_route, methods=["GET"]),
    ]
    return RouteTable(routes=routes, hot=[generations, edit_route])
