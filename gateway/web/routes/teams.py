"""The admin API's ``/admin/teams``: teams of keys sharing limits, budgets and a model list.

Reads take either admin token; changes only the full one (:mod:`gateway.web.admin_auth`).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gateway.limits.usage import usage_report
from gateway.web.admin_auth import admin, admin_change
from gateway.web.admin_bodies import (
    TeamCreate,
    TeamUpdate,
    changes_of,
    check_models,
    parse_body,
    render_team,
)
from gateway.web.http import json_response
from gateway.web.routes.admin import json_of
from gateway.web.routes.usage import days_param


async def create_team(request: Request) -> Response:
    """Create a team; its limits are unlimited unless the body sets them."""
    svc = admin_change(request)
    changes = changes_of(parse_body(TeamCreate, await json_of(request, svc)))
    check_models(changes.get("models"), svc.registry)
    record = await svc.teams.create(
        changes["name"],
        limits=changes.get("limits"),
        models=changes.get("models"),
        metadata=changes.get("metadata"),
    )
    return json_response(render_team(record), status=201)


async def list_teams(request: Request) -> Response:
    """Every team, oldest first."""
    svc = admin(request)
    teams = await svc.teams.list()
    return json_response({"object": "list", "data": [render_team(t) for t in teams]})


async def get_team(request: Request) -> Response:
    """One team."""
    svc = admin(request)
    return json_response(render_team(await svc.teams.get(request.path_params["team_id"])))


async def update_team(request: Request) -> Response:
    """Change name, limits, models, ``disabled`` or metadata; every key of the team sees
    the change on its next request, on every replica."""
    svc = admin_change(request)
    changes = changes_of(parse_body(TeamUpdate, await json_of(request, svc)))
    check_models(changes.get("models"), svc.registry)
    record = await svc.teams.update(request.path_params["team_id"], changes)
    return json_response(render_team(record))


async def delete_team(request: Request) -> Response:
    """Delete a team no live key is in (409 while one is); the answer is the team as it
    was."""
    svc = admin_change(request)
    record = await svc.teams.delete(request.path_params["team_id"])
    return json_response(render_team(record))


async def team_usage(request: Request) -> Response:
    """A team's usage: every key of the team counted together."""
    svc = admin(request)
    record = await svc.teams.get(request.path_params["team_id"])
    return json_response(await usage_report(svc.store, svc.calendar, record, days_param(request)))
