"""A fake AI/ML API for tests, offline trials and benchmarks.

It checks the bearer key and knows every model of AIML's catalogue: each body is judged
against that model's published schema (:mod:`gateway.testing.fake_catalogue`), so a body
the real upstream would refuse is refused, and a test can prove the gateway translated
``n`` and ``size``. It answers 201 in the current shape (``{"data", "meta": {"usage"}}``,
its cost and the ``x-aimlapi-usd-spent`` / ``x-aimlapi-credits-used`` / ``x-inference-id``
headers added by :mod:`gateway.testing.fake_pricing`) with small real PNGs as
signed-looking links or base64, or in an older shape when told to
(:mod:`gateway.testing.fake_answers`); serves the live catalogue (``GET /v1/models``,
``/docs-json``, ``/model/{id}``); serves multipart ``/v1/images/edits``
(:mod:`gateway.testing.fake_edits`, its files recorded in ``/_stats`` ``edits``); and can
be told to fail or be slow through ``/_control`` (:mod:`gateway.testing.fake_control`).
Its price list is :mod:`gateway.testing.fake_price_list`'s.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.testing.fake_answers import DEFAULT_MESSAGES, Images, aiml_error
from gateway.testing.fake_catalogue import GENERATE, Catalogue
from gateway.testing.fake_control import FakeState, control_routes
from gateway.testing.fake_edits import EDITS, BadForm, read_edit
from gateway.testing.fake_pricing import EDIT_BODY, mount_billing


def _count(body: dict[str, Any], schema: dict[str, Any]) -> int:
    """How many images a valid body asks for: its ``n`` or ``num_images``, else the
    schema's default."""
    props = schema.get("properties", {})
    for name in ("n", "num_images"):
        if isinstance(body.get(name), int | float) and not isinstance(body[name], bool):
            return int(body[name])
        if name in props and isinstance(props[name].get("default"), int):
            return int(props[name]["default"])
    return 1


class AsgiEndpoint:
    """Lets a Starlette route call a plain ASGI function (a bare function would be
    wrapped as a request/response handler)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def create_fake_upstream(
    api_keys: Sequence[str] = ("test-upstream-key",), *, latency: float = 0.0
) -> Starlette:
    """The fake as an ASGI app; state lives on ``app.state.fake``."""
    state = FakeState(keys=frozenset(api_keys), latency=latency)
    catalogue = Catalogue.load()
    images = Images()

    async def generate(scope: Scope, receive: Receive, send: Send) -> None:
        with state.serving():
            chunks = []
            while True:
                message = await receive()
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
            status, payload = await answer(scope["headers"], b"".join(chunks))
        if isinstance(payload, Response):
            await payload(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    async def answer(
        headers: list[tuple[bytes, bytes]], raw: bytes
    ) -> tuple[int, bytes | Response]:
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        return await judge(headers, body, GENERATE)

    async def edit(request: Request) -> Response:
        with state.serving():
            try:
                body: Any = await read_edit(request, catalogue, state.edits)
            except BadForm:
                body = None
        request.scope[EDIT_BODY] = body
        status, payload = await judge(request.headers.raw, body, EDITS)
        if isinstance(payload, Response):
            return payload
        return Response(payload, status, media_type="application/json")

    async def judge(
        headers: list[tuple[bytes, bytes]], body: Any, path: str
    ) -> tuple[int, bytes | Response]:
        state.saw(headers, body)
        if state.latency:
            await asyncio.sleep(state.latency)
        found = dict(headers)
        auth = found.get(b"authorization", b"").decode("latin-1")
        if not auth.startswith("Bearer ") or auth[7:] not in state.keys:
            return 401, aiml_error(401, DEFAULT_MESSAGES[401])
        failure = state.failure()
        if failure is not None:
            return failure
        if state.mode == "hang":
            await asyncio.Event().wait()
        if state.mode == "html":
            return 200, Response("<html><body>Bad gateway</body></html>", media_type="text/html")
        if state.mode == "reset":
            return (
                201,
                Response(
                    b'{"created": 1, "da',
                    201,
                    media_type="application/json",
                    headers={"content-length": "4096"},
                ),
            )
        if state.mode == "malformed":
            return 201, b'{"created": 1, "data": ['
        if not catalogue.accepts(body, path):
            return 400, aiml_error(400, DEFAULT_MESSAGES[400])
        assert isinstance(body, dict)
        count = _count(body, catalogue.request_schema(body["model"]))
        if state.mode == "empty":
            count = 0
        elif state.mode == "short":
            count = max(0, count - 1)
        host = found.get(b"host", b"127.0.0.1").decode("latin-1")
        payload = images.answer(body, count, host, state.shape, state.expiry_seconds)
        return 201, orjson.dumps(payload)

    async def files(request: Request) -> Response:
        return Response(images.png(request.path_params["name"]), media_type="image/png")

    def base_url(request: Request) -> str:
        return f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"

    async def list_models(request: Request) -> Response:
        etag = catalogue.etag()
        if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
            return Response(status_code=304, headers={"etag": etag})
        body = orjson.dumps(catalogue.listing(base_url(request)))
        return Response(body, media_type="application/json", headers={"etag": etag})

    async def one_model(request: Request) -> Response:
        found = catalogue.find(request.path_params["model"])
        if found is None:
            return aiml_error(404, "Model not found")
        item = next(m for m in catalogue.listing(base_url(request))["data"] if m["id"] == found)
        return Response(orjson.dumps(item), media_type="application/json")

    async def docs_json(request: Request) -> Response:
        found = catalogue.find(request.query_params.get("model", ""))
        document = catalogue.document(found) if found is not None else None
        if document is None:
            return aiml_error(404, "Model not found")
        return Response(orjson.dumps(document), media_type="application/json")

    app = Starlette(
        routes=[
            Route("/v1/images/generations", AsgiEndpoint(generate), methods=["POST"]),
            Route(EDITS, edit, methods=["POST"]),
            Route("/files/{name}.png", files, methods=["GET"]),
            Route("/v1/models", list_models, methods=["GET"]),
            Route("/model/{model:path}", one_model, methods=["GET"]),
            Route("/docs-json", docs_json, methods=["GET"]),
            *control_routes(state, catalogue, latency),
        ]
    )
    app.state.fake = state
    app.state.catalogue = catalogue
    mount_billing(app)
    return app


def create_fake_upstream_from_env() -> Starlette:
    """Factory for ``uvicorn --factory``: FAKE_UPSTREAM_API_KEYS, FAKE_UPSTREAM_LATENCY."""
    keys = os.environ.get("FAKE_UPSTREAM_API_KEYS", "test-upstream-key").split(",")
    return create_fake_upstream(keys, latency=float(os.environ.get("FAKE_UPSTREAM_LATENCY", "0")))
