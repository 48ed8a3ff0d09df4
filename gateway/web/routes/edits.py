"""``POST /v1/images/edits`` (the SDK's ``images.edit``) and ``POST /v1/images/variations``.

An edit is served like a generation (:class:`~gateway.web.routes.images.Generations`: the
same request id, access log, error rendering, cost header and request log, under the
endpoint name ``edits``), with a multipart body read by :mod:`gateway.web.uploads` under
the ``GATEWAY_UPLOAD_*`` limits; the pipeline is the generation pipeline
(:meth:`ImageService.edit <gateway.pipeline.generation.ImageService.edit>`). The spooled
files are closed when the answer is ready.

AIML has no variations endpoint; ``create_variation`` gets a 400 that says what to do
instead, never a 404.

A known key refused before its upload was read is logged without the model: an upload is
not read for a refused request's log line.
"""

from __future__ import annotations

import contextlib
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Receive, Scope

from gateway.cache.policy import CacheControl
from gateway.errors import InvalidRequest
from gateway.pipeline.result import GenerationResult
from gateway.web.http import bearer_token
from gateway.web.middleware import AccessLog
from gateway.web.routes.images import Generations, disconnected
from gateway.web.services import Services, services
from gateway.web.uploads import UploadLimits, read_form

WANTED = frozenset(
    (
        b"authorization",
        b"cache-control",
        b"x-gateway-raw-response",
        b"content-length",
        b"content-type",
    )
)
JSON_TYPES = ("application/json", "text/json")


class Edits(Generations):
    """Authenticate, read the upload, then the generation pipeline's :meth:`edit`."""

    endpoint = "edits"

    def __init__(self, access: AccessLog, limits: UploadLimits) -> None:
        super().__init__(access)
        self.limits = limits

    wanted = WANTED

    async def read_refused(
        self, state: dict[str, Any], svc: Services, headers: dict[bytes, str], receive: Receive
    ) -> None:
        """Nothing: an upload is not read for a refused request's log line."""

    async def generate(self, scope: Scope, receive: Receive) -> GenerationResult:
        """The answer to one edit, or a raised GatewayError."""
        state, svc, headers, key, record = await self.caller(scope, receive)
        content_type = headers.get(b"content-type", "")
        if content_type.split(";", 1)[0].strip().lower() in JSON_TYPES:
            raise InvalidRequest(
                "Image edits take multipart/form-data, not JSON: send the image as a file part "
                "'image' (or 'image[]' for several), the mask as 'mask', and the other fields "
                "as form fields, as the OpenAI SDKs' images.edit does.",
                code="invalid_multipart",
            )
        form = await read_form(
            receive, content_type, headers.get(b"content-length"), self.limits, svc.deadlines
        )
        try:
            fields = form.values()
            self.noted(state, svc, fields)
            result = await svc.images.edit(
                record,
                key,
                fields,
                form.images(),
                form.mask(),
                cache_control=CacheControl.parse(headers.get(b"cache-control")),
                request_id=state["request_id"],
                raw=headers.get(b"x-gateway-raw-response", "").lower() in ("1", "true"),
                gone=disconnected(receive),
            )
        finally:
            form.close()
        return self.answered(state, result)


async def variations(request: Request) -> Response:
    """``create_variation``: authenticated, then a 400 naming an edit-capable model."""
    svc = services(request)
    await svc.keys.authenticate(bearer_token(request.headers.get("authorization")))
    await _drain(request, svc)
    editor = svc.registry.an_editor() or "an edit-capable model (GET /v1/models/{model})"
    raise InvalidRequest(
        "AIML has no image variations endpoint, so this gateway has none either. Make a "
        "variation as an edit instead: POST /v1/images/edits (the SDK's images.edit) with "
        f"the image, a prompt saying how it should vary, and model {editor!r}.",
        param="model",
        code="variations_not_supported",
    )


async def _drain(request: Request, svc: Services) -> None:
    """Read the upload and drop it (within the upload limits), so the client, still
    sending, gets the answer rather than a reset connection."""
    limit = svc.settings.upload_max_total_bytes
    size = 0
    guard = svc.deadlines.guard(svc.settings.upload_timeout)
    with contextlib.suppress(TimeoutError, ClientDisconnect), guard:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                break
