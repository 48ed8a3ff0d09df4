"""Audit entries for admin changes: who (a fingerprint of the admin token), what, from where.

Every admin route that changes something calls :func:`record_key_change` or
:func:`record_change` after the change is made, and sends the headers they return with its
answer (``x-gateway-audit: pending`` when the log store could not take the entry at once:
it is kept and written as soon as the store answers, see
:mod:`gateway.observability.audit_trail`). ``changes`` holds the before and after of the
fields that changed, from the key's public form: never a key, a hash or a token.

Actions: ``key.create``, ``key.update``, ``key.disable``, ``key.enable``, ``key.revoke``,
``key.rotate`` (its route passes ``extra={"grace_seconds": [None, n]}``), ``key.sync``
(declared keys at start-up, actor ``config``), ``team.create``, ``team.update``,
``team.disable``, ``team.enable``, ``team.delete``, ``cache.purge``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from starlette.requests import Request

from gateway.observability.audit_trail import AuditTrail
from gateway.observability.clock import Clock
from gateway.store.journal import AuditEntry
from gateway.store.types import LIMIT_NAMES, KeyRecord, TeamRecord
from gateway.web.admin_bodies import render_key, render_team
from gateway.web.services import Services, services

AUDIT_HEADER = "x-gateway-audit"
CONFIG_ACTOR = "config"
AUDITED_FIELDS = (
    "name",
    "team_id",
    "disabled",
    "revoked",
    "expires_at",
    "models",
    "rpm",
    "images_per_minute",
    "images_per_day",
    "images_per_month",
    "usd_per_day",
    "usd_per_month",
    "cache",
    "metadata",
)
TEAM_FIELDS = ("name", "disabled", "models", *LIMIT_NAMES, "metadata")


def fingerprint(role: str, token: str) -> str:
    """``role:`` and the first 8 hex digits of the token's SHA-256: tells tokens apart in the
    audit log, and says nothing usable about the token."""
    return f"{role}:{hashlib.sha256(token.encode()).hexdigest()[:8]}"


def actor_of(request: Request, svc: Services) -> str:
    """The fingerprint of the admin token this request was let in with."""
    role = getattr(request.state, "admin_role", "admin")
    token = svc.settings.admin_token if role == "admin" else svc.settings.admin_readonly_token
    return fingerprint(role, token.get_secret_value() if token is not None else "")


def key_changes(before: KeyRecord | None, after: KeyRecord) -> dict[str, list[Any]]:
    """``{field: [before, after]}`` for each audited field that differs; for a new key
    (``before`` None), each field it was given a value for. Fields that follow from the
    time (``status``, ``expired``) are left out: they change without anyone changing them."""
    old = render_key(before, 0.0) if before is not None else None
    return _changes(old, render_key(after, 0.0), AUDITED_FIELDS)


def team_changes(before: TeamRecord | None, after: TeamRecord) -> dict[str, list[Any]]:
    """:func:`key_changes` for a team, from its public form."""
    old = render_team(before) if before is not None else None
    return _changes(old, render_team(after), TEAM_FIELDS)


def _changes(
    old: dict[str, Any] | None, new: dict[str, Any], fields: tuple[str, ...]
) -> dict[str, list[Any]]:
    if old is None:
        return {
            name: [None, new[name]]
            for name in fields
            if name in new and new[name] not in (None, False, {}, [])
        }
    return {
        name: [old.get(name), new[name]]
        for name in fields
        if name in new and old.get(name) != new[name]
    }


def update_action(changes: dict[str, list[Any]], kind: str = "key") -> str:
    """``key.disable`` or ``key.enable`` (``team.``, for a team) when that is all a change
    did, else ``key.update``."""
    if set(changes) == {"disabled"}:
        return f"{kind}.disable" if changes["disabled"][1] else f"{kind}.enable"
    return f"{kind}.update"


async def record_change(
    request: Request,
    action: str,
    kind: str,
    target_id: str,
    target_name: str | None,
    changes: dict[str, Any],
    team_id: str | None = None,
) -> dict[str, str] | None:
    """Write one audit entry for this admin request; the headers its answer should carry.
    ``team_id`` is a key target's team."""
    svc = services(request)
    entry = AuditEntry(
        at=svc.clock(),
        action=action,
        target_kind=kind,
        target_id=target_id,
        target_name=target_name,
        actor=actor_of(request, svc),
        changes=changes,
        source_ip=request.client.host if request.client else None,
        request_id=getattr(request.state, "request_id", None),
        target_team_id=team_id,
    )
    written = await svc.audit.record(entry)
    return None if written else {AUDIT_HEADER: "pending"}


async def record_key_change(
    request: Request,
    action: str,
    before: KeyRecord | None,
    after: KeyRecord,
    extra: dict[str, list[Any]] | None = None,
) -> dict[str, str] | None:
    """Audit a change to one key (nothing when nothing changed)."""
    changes = {**key_changes(before, after), **(extra or {})}
    if not changes:
        return None
    return await record_change(request, action, "key", after.id, after.name, changes, after.team_id)


async def record_team_change(
    request: Request,
    action: str,
    before: TeamRecord | None,
    after: TeamRecord,
    changes: dict[str, list[Any]] | None = None,
) -> dict[str, str] | None:
    """Audit a change to one team (nothing when nothing changed); ``changes`` replaces the
    computed ones (a deletion's)."""
    changes = changes if changes is not None else team_changes(before, after)
    if not changes:
        return None
    return await record_change(request, action, "team", after.id, after.name, changes)


async def record_synced(
    audit: AuditTrail, clock: Clock, synced: list[tuple[KeyRecord | None, KeyRecord]]
) -> None:
    """Audit the declared keys start-up added or changed (actor ``config``)."""
    for before, after in synced:
        changes = key_changes(before, after)
        if changes:
            await audit.record(
                AuditEntry(
                    at=clock(),
                    action="key.sync",
                    target_kind="key",
                    target_id=after.id,
                    target_name=after.name,
                    actor=CONFIG_ACTOR,
                    changes=changes,
                    target_team_id=after.team_id,
                )
            )
