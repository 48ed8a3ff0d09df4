"""Who may use the admin API: the admin token for everything, the read-only token for reads.

Both tokens are compared in constant time, and both comparisons always run, so neither
the answer's timing nor its content tells which token a guess came close to. A wrong or
missing token gets the same 401 whichever tokens are configured.
"""

from __future__ import annotations

import hmac
from typing import Literal

from pydantic import SecretStr
from starlette.requests import Request

from gateway.errors import AuthenticationFailed, NotFound, PermissionDenied
from gateway.web.http import bearer
from gateway.web.services import Services, services

Role = Literal["admin", "readonly"]


def _same(given: bytes, token: SecretStr | None) -> bool:
    if token is None:
        return False
    return hmac.compare_digest(given, token.get_secret_value().encode())


def role_of(request: Request) -> tuple[Services, Role]:
    """The services and the caller's role, once a configured admin token checks out."""
    svc = services(request)
    settings = svc.settings
    if settings.admin_token is None:
        raise NotFound("The admin API is disabled: set GATEWAY_ADMIN_TOKEN to enable it.")
    given = (bearer(request) or "").encode()
    full = _same(given, settings.admin_token)
    readonly = _same(given, settings.admin_readonly_token)
    if not (full or readonly):
        raise AuthenticationFailed("Invalid admin token.", code="invalid_admin_token")
    role: Role = "admin" if full else "readonly"
    request.state.admin_role = role
    return svc, role


def admin(request: Request) -> Services:
    """The services for a read: either admin token will do."""
    return role_of(request)[0]


def admin_change(request: Request) -> Services:
    """The services for a change: the read-only token is refused with 403."""
    svc, role = role_of(request)
    if role != "admin":
        raise PermissionDenied(
            "The read-only admin token can only read; changes need GATEWAY_ADMIN_TOKEN.",
            code="admin_token_readonly",
        )
    return svc
