"""``GET /v1/usage``: the calling key's own figures."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gateway.errors import InvalidRequest
from gateway.limits.usage import MAX_DAYS, usage_report
from gateway.web.http import bearer, json_response
from gateway.web.services import services


def days_param(request: Request, default: int = 30) -> int:
    """The ``days`` query parameter (1..90)."""
    raw = request.query_params.get("days")
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_DAYS:
        raise InvalidRequest(f"days must be an integer from 1 to {MAX_DAYS}.", param="days")
    return int(raw)


async def own_usage(request: Request) -> Response:
    """Usage of the key that calls."""
    svc = services(request)
    record = await svc.keys.authenticate(bearer(request), fresh=True)
    request.state.key_id = record.id
    team = await svc.teams.of_key(record, fresh=True)
    report = await usage_report(svc.store, svc.calendar, record, days_param(request), team)
    return json_response(report)
