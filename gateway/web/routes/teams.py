"""The admin API's ``/admin/teams``: teams of keys sharing limits, budgets and a model list.

Reads take either admin token; changes only the full one (:mod:`gateway.web.admin_auth`),
and every change is written to the audit log before it is answered (:mod:`gateway.web.audit`).
"""

from __future__ import annotations

from collections import Counter

from starlette.requests import Request
from starlette.responses import Response

from gateway.limits.usage import COUNTERS, SPEND, day_usage, usage_report, with_spend
from gateway.store.types import team_subject
from gateway.web.admin_auth import admin, admin_change
from gateway.web.admin_bodies import (
    TeamCreate,
    TeamUpdate,
    changes_of,
    check_models,
    parse_body,
    render_team,
)
from gateway.web.admin_queries import includes
from gateway.web.audit import record_team_change, team_changes, update_action
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
    audited = await record_team_change(request, "team.create", None, record)
    return json_response(render_team(record), status=201, headers=audited)


async def list_teams(request: Request) -> Response:
    """Every team, oldest first; ``include=usage`` adds each team's counters and spend for
    the current quota day (``usage_today``) and how many of its keys are not revoked
    (``keys``)."""
    svc = admin(request)
    extra = includes(request.query_params)
    teams = await svc.teams.list()
    data = [render_team(t) for t in teams]
    if "usage" in extra:
        subjects = [team_subject(t.id) for t in teams]
        day = svc.calendar.window().day
        today = await day_usage(svc.store, subjects, day, (*COUNTERS, SPEND))
        members = Counter(
            r.team_id for r in await svc.keys.list() if r.team_id and r.revoked_at is None
        )
        for item, subject in zip(data, subjects, strict=True):
            item["usage_today"] = with_spend(today[subject])
            item["keys"] = members.get(item["id"], 0)
    return json_response({"object": "list", "data": data})


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
    before = await svc.teams.get(request.path_params["team_id"])
    record = await svc.teams.update(before.id, changes)
    action = update_action(team_changes(before, record), "team")
    audited = await record_team_change(request, action, before, record)
    return json_response(render_team(record), headers=audited)


async def delete_team(request: Request) -> Response:
    """Delete a team no live key is in (409 while one is); the answer is the team as it
    was."""
    svc = admin_change(request)
    record = await svc.teams.delete(request.path_params["team_id"])
    audited = await record_team_change(
        request, "team.delete", record, record, {"deleted": [False, True]}
    )
    return json_response(render_team(record), headers=audited)


async def team_usage(request: Request) -> Response:
    """A team's usage: every key of the team counted together."""
    svc = admin(request)
    record = await svc.teams.get(request.path_params["team_id"])
    return json_response(await usage_report(svc.store, svc.calendar, record, days_param(request)))
