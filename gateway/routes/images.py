"""``POST /v1/images/generations``: the OpenAI-compatible generation endpoint."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TypeVar

from starlette.requests import Request
from starlette.responses import Response

from gateway.cache import CacheControl
from gateway.errors import InvalidRequest
from gateway.http import bearer, read_object
from gateway.services import services

T = TypeVar("T")


class ClientGone(Exception):
    """The client disconnected before its answer was ready."""


async def until_disconnect(request: Request, work: Awaitable[T]) -> T:
    """Run ``work`` but cancel it if the client goes away (its reservation is then refunded)."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(request))
    try:
        done, _ = await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
    if task in done:
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    raise ClientGone


async def _disconnected(request: Request) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def generate(request: Request) -> Response:
    """Authenticate, validate, admit, and answer from the cache or the upstream."""
    svc = services(request)
    key = bearer(request)
    record = await svc.keys.authenticate(key)
    assert key is not None
    request.state.key_id = record.id
    body = await read_object(request, svc.settings.max_body_bytes,
                             svc.settings.body_read_timeout)
    model = body.get("model")
    if isinstance(model, str):
        request.state.model = model[:100]
    if body.get("stream"):
        raise InvalidRequest("Streaming image generation is not supported.", param="stream")
    result = await until_disconnect(
        request,
        svc.images.generate(
            record,
            key,
            body,
            cache_control=CacheControl.parse(request.headers.get("cache-control")),
            request_id=request.state.request_id,
            raw=request.headers.get("x-gateway-raw-response", "").lower() in ("1", "true"),
        ),
    )
    request.state.images = result.images
    request.state.cache = result.cache
    request.state.metric_model = result.model
    request.state.upstream_seconds = result.upstream_seconds
    svc.metrics.cache.labels(result.cache).inc()
    headers = {**result.headers, "x-cache": result.cache}
    return Response(result.body, status_code=result.status, headers=headers,
                    media_type="application/json")
