"""The admin API: ``/admin/keys`` and the cache purge, behind the admin tokens (reads take
either; changes only the full one, see :mod:`gateway.web.admin_auth`). Every change is
written to the audit log before it is answered (see :mod:`gateway.web.audit`). Teams are in
:mod:`gateway.web.routes.teams`."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gateway.limits.usage import day_usage, usage_report
from gateway.web.admin_auth import admin, admin_change, role_of
from gateway.web.admin_bodies import (
    KeyCreate,
    KeyRotate,
    KeyUpdate,
    changes_of,
    check_models,
    parse_body,
    render_key,
)
from gateway.web.admin_queries import includes, key_query
from gateway.web.audit import key_changes, record_change, record_key_change, update_action
from gateway.web.http import json_response, parse_json, read_body, read_json
from gateway.web.routes.usage import days_param
from gateway.web.services import Services


async def json_of(request: Request, svc: Services) -> Any:
    """The request body as JSON, within the gateway's body size and read-time limits."""
    settings = svc.settings
    return await read_json(
        request, settings.max_body_bytes, settings.body_read_timeout, svc.deadlines
    )


async def create_key(request: Request) -> Response:
    """Create a key; the plaintext key is in this answer only."""
    svc = admin_change(request)
    body = parse_body(KeyCreate, await json_of(request, svc))
    changes = changes_of(body)
    check_models(changes.get("models"), svc.registry)
    if changes.get("team_id") is not None:
        await svc.teams.existing(changes["team_id"])
    record, plaintext = await svc.keys.create(
        changes.pop("name"),
        expires_at=changes.get("expires_at"),
        models=changes.get("models"),
        limits=changes.get("limits"),
        cache=changes.get("cache", True),
        metadata=changes.get("metadata"),
        team_id=changes.get("team_id"),
    )
    audited = await record_key_change(request, "key.create", None, record)
    return json_response(
        {**render_key(record, svc.clock()), "key": plaintext}, status=201, headers=audited
    )


async def list_keys(request: Request) -> Response:
    """Keys, revoked ones included, oldest first: every key up to the unpaged maximum, or
    one page of a search (``limit``, ``after``, ``q``, ``team_id``, ``status``);
    ``include=usage`` adds each key's counters for the current quota day."""
    svc = admin(request)
    query = key_query(request.query_params)
    extra = includes(request.query_params)
    page = await svc.keys.search(query)
    now = svc.clock()
    data = [render_key(r, now) for r in page.records]
    if "usage" in extra:
        today = await day_usage(svc.store, [r.id for r in page.records], svc.calendar.window().day)
        for item in data:
            item["usage_today"] = today[item["id"]]
    return json_response(
        {"object": "list", "data": data, "has_more": page.has_more, "next_after": page.next_after}
    )


async def whoami(request: Request) -> Response:
    """The caller's admin role, so a client (the console) shows only what it may do."""
    _, role = role_of(request)
    return json_response({"object": "admin.identity", "role": role})


async def get_key(request: Request) -> Response:
    """One key."""
    svc = admin(request)
    record = await svc.keys.get(request.path_params["key_id"])
    return json_response(render_key(record, svc.clock()))


async def update_key(request: Request) -> Response:
    """Change name, expiry, models, limits, cache, team or ``disabled``."""
    svc = admin_change(request)
    changes = changes_of(parse_body(KeyUpdate, await json_of(request, svc)))
    check_models(changes.get("models"), svc.registry)
    if changes.get("team_id") is not None:
        await svc.teams.existing(changes["team_id"])
    before = await svc.keys.get(request.path_params["key_id"])
    record = await svc.keys.update(before.id, changes)
    action = update_action(key_changes(before, record))
    audited = await record_key_change(request, action, before, record)
    return json_response(render_key(record, svc.clock()), headers=audited)


async def revoke_key(request: Request) -> Response:
    """Revoke a key; it is refused on the next request on every replica."""
    svc = admin_change(request)
    before = await svc.keys.get(request.path_params["key_id"])
    record = await svc.keys.revoke(before.id)
    audited = await record_key_change(request, "key.revoke", before, record)
    return json_response(render_key(record, svc.clock()), headers=audited)


async def rotate_key(request: Request) -> Response:
    """Give a key a new secret (in this answer only); the old one keeps working for
    ``grace_seconds`` (optional body, default 0)."""
    svc = admin_change(request)
    settings = svc.settings
    raw = await read_body(
        request.receive,
        request.headers.get("content-length"),
        settings.max_body_bytes,
        settings.body_read_timeout,
        svc.deadlines,
    )
    body = parse_body(KeyRotate, parse_json(raw) if raw.strip() else {})
    before = await svc.keys.get(request.path_params["key_id"])
    record, plaintext = await svc.keys.rotate(before.id, body.grace_seconds)
    audited = await record_key_change(
        request, "key.rotate", before, record, extra={"grace_seconds": [None, body.grace_seconds]}
    )
    return json_response({**render_key(record, svc.clock()), "key": plaintext}, headers=audited)


async def key_usage(request: Request) -> Response:
    """Usage figures of any key."""
    svc = admin(request)
    record = await svc.keys.get(request.path_params["key_id"])
    team = await svc.teams.of_key(record, fresh=True)
    report = await usage_report(svc.store, svc.calendar, record, days_param(request), team)
    return json_response(report)


async def purge_cache(request: Request) -> Response:
    """Delete cached answers: all, or one key's (``?key_id=``)."""
    svc = admin_change(request)
    key_id = request.query_params.get("key_id")
    name = (await svc.keys.get(key_id)).name if key_id is not None else None
    deleted = await svc.store.cache_purge(f"{key_id}:" if key_id else None)
    audited = await record_change(
        request, "cache.purge", "cache", key_id or "all", name, {"entries": [deleted, 0]}
    )
    return json_response(
        {"object": "cache.purge", "deleted": deleted, "key_id": key_id}, headers=audited
    )


async def cache_stats(request: Request) -> Response:
    """Entries and bytes in the response cache."""
    svc = admin(request)
    stats = await svc.store.cache_stats()
    return json_response({"object": "cache.stats", "entries": stats.entries, "bytes": stats.bytes})
