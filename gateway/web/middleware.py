"""Request ids, metrics and one JSON access-log line per request.

:class:`AccessLog` holds the logic; :class:`RequestContext` is the pure ASGI middleware
that applies it to every route but the generations endpoint, which sits in front of the
middleware and applies it itself (see :mod:`gateway.web.hotpath`).
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.observability.ids import Ids
from gateway.observability.metrics import Metrics

log = logging.getLogger("gateway.access")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class AccessLog:
    """What every request gets: an ``x-request-id`` (the client's, if sane), its metrics,
    and its log line. Handlers put what they learn (key id, model, images, cache status,
    the upstream's status and time) in the scope's ``state``, and so do errors through
    their ``log_fields``; :meth:`done` reads it back. ``upstream_ms`` is null when no
    upstream call was made, ``upstream_status`` too when none answered."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self._ids = Ids()

    def request_id(self, scope: Scope) -> str:
        """The client's ``x-request-id`` if it is sane, else a new one; kept in ``state``."""
        request_id = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                candidate = value.decode("latin-1")
                if REQUEST_ID.match(candidate):
                    request_id = candidate
                break
        request_id = request_id or self._ids()
        scope.setdefault("state", {})["request_id"] = request_id
        return request_id

    def done(self, scope: Scope, status: int, started: float) -> None:
        """Record a finished request in the metrics and the log."""
        elapsed = time.perf_counter() - started
        state: dict[str, Any] = scope["state"]
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        upstream = state.get("upstream_seconds")
        self.metrics.request_done(
            template,
            status,
            str(state.get("metric_model") or ""),
            elapsed,
            upstream if isinstance(upstream, float) else 0.0,
            state.get("error_code"),
            state.get("cache"),
        )
        if log.isEnabledFor(logging.INFO):
            log.info(
                "request",
                extra={
                    "fields": {
                        "request_id": state["request_id"],
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "key_id": state.get("key_id"),
                        "model": state.get("model"),
                        "images": state.get("images"),
                        "cache": state.get("cache"),
                        "upstream_status": state.get("upstream_status"),
                        "error_code": state.get("error_code"),
                        "duration_ms": round(elapsed * 1000, 2),
                        "upstream_ms": (
                            round(upstream * 1000, 2) if isinstance(upstream, float) else None
                        ),
                    }
                },
            )


class RequestContext:
    """Pure ASGI middleware applying :class:`AccessLog` to every HTTP request."""

    def __init__(self, app: ASGIApp, access: AccessLog) -> None:
        self.app = app
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        encoded_id = self.access.request_id(scope).encode()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", encoded_id)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self.access.done(scope, status, started)
