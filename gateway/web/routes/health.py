"""``/healthz`` (the process answers) and ``/readyz`` (it can serve: the store answers)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gateway.store.errors import StorageUnavailable
from gateway.web.http import json_response
from gateway.web.services import services


async def healthz(request: Request) -> Response:
    """Liveness: no I/O."""
    return json_response({"status": "ok"})


async def metrics(request: Request) -> Response:
    """Prometheus text exposition."""
    found = services(request).metrics
    return Response(found.render(), media_type=found.content_type)


async def readyz(request: Request) -> Response:
    """Readiness: the store is reachable and the start-up it needed has finished (the
    configuration was validated at start-up)."""
    svc = services(request)
    try:
        await svc.store.ping()
        await svc.keys.ready()
    except StorageUnavailable:
        return json_response({"status": "unavailable", "store": "down"}, status=503)
    return json_response({"status": "ready", "store": "ok"})
