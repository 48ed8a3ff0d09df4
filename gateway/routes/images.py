"""``POST /v1/images/generations``: the OpenAI-compatible generation endpoint.

The busiest route, so it is a plain ASGI app: it reads the few headers it needs straight
from the scope and sends its answer without building Request or Response objects. Errors
are raised as usual and rendered by the app's exception handlers.
"""

from __future__ import annotations

from starlette.types import Receive, Scope, Send

from gateway.cache import CacheControl
from gateway.errors import InvalidRequest
from gateway.http import bearer_token, parse_object, read_body
from gateway.services import Services

WANTED = frozenset((b"authorization", b"cache-control", b"x-gateway-raw-response",
                    b"content-length"))


class Generations:
    """Authenticate, validate, admit, and answer from the cache or the upstream."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope["state"]
        svc: Services = state["services"]
        headers: dict[bytes, str] = {}
        for name, value in scope["headers"]:
            if name in WANTED:
                headers[name] = value.decode("latin-1")
        key = bearer_token(headers.get(b"authorization"))
        record = await svc.keys.authenticate(key)
        assert key is not None
        state["key_id"] = record.id
        settings = svc.settings
        body = parse_object(await read_body(receive, headers.get(b"content-length"),
                                            settings.max_body_bytes,
                                            settings.body_read_timeout))
        model = body.get("model")
        if isinstance(model, str):
            state["model"] = model[:100]
        if body.get("stream"):
            raise InvalidRequest("Streaming image generation is not supported.",
                                 param="stream")

        async def gone() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        result = await svc.images.generate(
            record,
            key,
            body,
            cache_control=CacheControl.parse(headers.get(b"cache-control")),
            request_id=state["request_id"],
            raw=headers.get(b"x-gateway-raw-response", "").lower() in ("1", "true"),
            gone=gone,
        )
        state["images"] = result.images
        state["cache"] = result.cache
        state["metric_model"] = result.model
        state["upstream_seconds"] = result.upstream_seconds
        svc.metrics.cache_result(result.cache)
        out = [(b"content-type", b"application/json"),
               (b"content-length", str(len(result.body)).encode()),
               (b"x-cache", result.cache.encode())]
        out += [(k.encode(), v.encode()) for k, v in result.headers.items()]
        await send({"type": "http.response.start", "status": result.status, "headers": out})
        await send({"type": "http.response.body", "body": result.body})
