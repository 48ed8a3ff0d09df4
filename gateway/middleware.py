"""Pure ASGI middleware: request ids and one JSON access-log line per request."""

from __future__ import annotations

import logging
import os
import re
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.metrics import Metrics

log = logging.getLogger("gateway.access")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestContext:
    """Gives every request an ``x-request-id`` (the client's, if sane) and logs its outcome.

    Handlers put what they learn (key id, model, images, cache status) in
    ``request.state``; this middleware reads it back for the log line.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                candidate = value.decode("latin-1")
                if REQUEST_ID.match(candidate):
                    request_id = candidate
                break
        request_id = request_id or os.urandom(16).hex()
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = 500
        encoded_id = request_id.encode()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", encoded_id)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            self._observe(scope, state, status, elapsed)
            if log.isEnabledFor(logging.INFO):
                log.info("request", extra={"fields": {
                    "request_id": request_id,
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
                    "upstream_ms": round(state.get("upstream_seconds", 0.0) * 1000, 2),
                }})

    def _observe(self, scope: Scope, state: dict[str, Any], status: int,
                 elapsed: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        upstream = state.get("upstream_seconds")
        self.metrics.request_done(template, status, str(state.get("metric_model") or ""),
                                  elapsed, upstream if isinstance(upstream, float) else 0.0,
                                  state.get("error_code"))
