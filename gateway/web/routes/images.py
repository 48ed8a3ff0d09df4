"""``POST /v1/images/generations``: the OpenAI-compatible generation endpoint.

The busiest route, so it is a plain ASGI app served in front of the middleware
(:mod:`gateway.web.hotpath`): it reads the few headers it needs straight from the scope, sends
its answer without building Request or Response objects, and does for itself what the
middleware does for the other routes (request id, access log, metrics, error rendering).
It then hands the finished request to the request log (:mod:`gateway.observability.request_log`).

A known key refused before its body was read (disabled, revoked or expired) still has the
model its body names in both logs: the body is read for that, under the same size and time
limits as any body, and a body that cannot be read or parsed changes nothing in the answer.
An unknown key's body is never read (a stranger costs no parsing).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from starlette.types import Receive, Scope, Send

from gateway.billing.money import format_usd
from gateway.cache.policy import CacheControl
from gateway.errors import (
    AuthenticationFailed,
    GatewayError,
    InvalidRequest,
    client_error,
    render,
)
from gateway.pipeline.disconnect import CLIENT_CLOSED, ClientGone, Gone
from gateway.pipeline.result import GenerationResult
from gateway.store.types import KeyRecord
from gateway.web.http import bearer_token, parse_object, read_body
from gateway.web.middleware import AccessLog
from gateway.web.services import Services

WANTED = frozenset(
    (b"authorization", b"cache-control", b"x-gateway-raw-response", b"content-length")
)
COST = "x-gateway-cost-usd"
NOTHING_CHARGED = {COST: "0"}


class Generations:
    """Authenticate, validate, admit, and answer from the cache or the upstream."""

    endpoint = "generations"
    """What the request log calls this route."""

    def __init__(self, access: AccessLog) -> None:
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        request_id = self.access.request_id(scope)
        status = 500
        sent: dict[str, str] | None = None
        try:
            try:
                result = await self.generate(scope, receive)
            except ClientGone:
                status = CLIENT_CLOSED
                return
            except Exception as exc:
                sent = NOTHING_CHARGED
                status = await self.refuse(scope, send, client_error(exc), request_id)
                return
            status = result.status
            headers = {
                "x-cache": result.cache,
                COST: format_usd(result.cost_nanos),
                **result.headers,
            }
            sent = headers
            await answer(send, status, result.body, request_id, headers)
        finally:
            self.access.done(scope, status, started)
            state = scope["state"]
            svc: Services | None = state.get("services")
            if svc is not None:
                svc.request_log.record(state, status, started, self.endpoint, sent)

    async def refuse(self, scope: Scope, send: Send, exc: GatewayError, request_id: str) -> int:
        """Send ``exc`` in OpenAI's shape; its status. Nothing was charged for it (whatever
        was reserved has been given back)."""
        state = scope["state"]
        state["error_code"] = exc.code
        state.update(exc.log_fields)
        status, headers, body = render(exc, NOTHING_CHARGED)
        await answer(send, status, body, request_id, headers)
        return status

    wanted = WANTED

    async def caller(
        self, scope: Scope, receive: Receive
    ) -> tuple[dict[str, Any], Services, dict[bytes, str], str, KeyRecord]:
        """The request's state, the services, the headers the route reads, and the caller's
        key and its record (authenticated, and noted for the request log). A known key
        refused here has its body read by :meth:`read_refused` first, for the logs."""
        state = scope["state"]
        svc: Services = state["services"]
        headers: dict[bytes, str] = {}
        wanted = self.wanted
        for name, value in scope["headers"]:
            if name in wanted:
                headers[name] = value.decode("latin-1")
        key = bearer_token(headers.get(b"authorization"))
        try:
            record = await svc.keys.authenticate(key)
        except AuthenticationFailed as exc:
            if "key_id" in exc.log_fields:
                state.update(exc.log_fields)
                await self.read_refused(state, svc, headers, receive)
            raise
        assert key is not None
        state["key_id"] = record.id
        state["team_id"] = record.team_id
        return state, svc, headers, key, record

    async def read_refused(
        self, state: dict[str, Any], svc: Services, headers: dict[bytes, str], receive: Receive
    ) -> None:
        """Read the JSON body of a known key's refused request, only to note what it asks
        for; whatever goes wrong reading it is not the answer (the refusal is)."""
        try:
            body = await json_body(svc, headers, receive)
        except GatewayError:
            return
        self.noted(state, svc, body)

    def noted(self, state: dict[str, Any], svc: Services, body: Mapping[str, Any]) -> None:
        """Note the model (and the prompt, when prompts are logged) a body asks for."""
        self.asked_for(state, svc, body.get("model"))
        if svc.request_log.prompts:
            state["prompt"] = body.get("prompt")

    @staticmethod
    def asked_for(state: dict[str, Any], svc: Services, model: object) -> None:
        """Note the model the request names (a registry id is a bounded metric label, so
        refusals keep it too)."""
        if isinstance(model, str):
            state["model"] = model[:100]
            spec = svc.registry.get(model)
            if spec is not None:
                state["metric_model"] = spec.id

    @staticmethod
    def answered(state: dict[str, Any], result: GenerationResult) -> GenerationResult:
        """Note what the answer was, for the access log, the metrics and the request log."""
        state["images"] = result.images
        state["cache"] = result.cache
        state["metric_model"] = result.model
        state["upstream_inference_id"] = result.upstream_inference_id
        if result.upstream_status is not None:
            state["upstream_seconds"] = result.upstream_seconds
            state["upstream_status"] = result.upstream_status
        return result

    async def generate(self, scope: Scope, receive: Receive) -> GenerationResult:
        """The answer to one request, or a raised GatewayError."""
        state, svc, headers, key, record = await self.caller(scope, receive)
        body = await json_body(svc, headers, receive)
        self.noted(state, svc, body)
        if body.get("stream"):
            raise InvalidRequest("Streaming image generation is not supported.", param="stream")

        result = await svc.images.generate(
            record,
            key,
            body,
            cache_control=CacheControl.parse(headers.get(b"cache-control")),
            request_id=state["request_id"],
            raw=headers.get(b"x-gateway-raw-response", "").lower() in ("1", "true"),
            gone=disconnected(receive),
        )
        return self.answered(state, result)


async def json_body(svc: Services, headers: dict[bytes, str], receive: Receive) -> dict[str, Any]:
    """The request's body as a JSON object, within the body's size and time limits."""
    settings = svc.settings
    return parse_object(
        await read_body(
            receive,
            headers.get(b"content-length"),
            settings.max_body_bytes,
            settings.body_read_timeout,
            svc.deadlines,
        )
    )


async def answer(
    send: Send, status: int, body: bytes, request_id: str, headers: dict[str, str]
) -> None:
    """Send one whole JSON response with its request id and ``headers``."""
    head = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id.encode()),
    ]
    head += [(k.encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})


def disconnected(receive: Receive) -> Gone:
    """What completes when the client disconnects (its body already read)."""

    async def gone() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    return gone
