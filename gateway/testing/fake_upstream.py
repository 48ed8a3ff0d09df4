"""A fake AI/ML API for tests, offline trials and benchmarks.

It checks the bearer key and knows every model of AIML's catalogue: each body is judged
against that model's published schema (:mod:`gateway.testing.fake_catalogue`), so a body
the real upstream would refuse is refused, and a test can prove the gateway translated
``n`` and ``size``. It answers 201 in the current shape (``{"data", "meta": {"usage"}}``,
its cost and the ``x-aimlapi-usd-spent`` / ``x-aimlapi-credits-used`` / ``x-inference-id``
headers added by :mod:`gateway.testing.fake_pricing`) with small real PNGs as
signed-looking links or base64, or in an older shape when told to; serves the live
catalogue (``GET /v1/models``, ``/docs-json``, ``/model/{id}``); serves multipart
``/v1/images/edits`` (:mod:`gateway.testing.fake_edits`, its files recorded in ``/_stats``
``edits``); and can be told to fail or be slow through ``/_control``. Its price list is
:mod:`gateway.testing.fake_pricing`'s.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import os
import struct
import time
import uuid
import zlib
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.testing.fake_catalogue import GENERATE, Catalogue
from gateway.testing.fake_edits import EDITS, BadForm, read_edit
from gateway.testing.fake_pricing import EDIT_BODY, mount_billing

SHAPES = ("current", "openai", "images", "choices")


def tiny_png(seed: int) -> bytes:
    """A valid 4x4 PNG whose colour depends on ``seed``."""
    colour = bytes((seed >> s) & 0xFF for s in (0, 8, 16))
    raw = b"".join(b"\x00" + colour * 4 for _ in range(4))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@dataclass
class FakeState:
    """What the fake has seen and how it is told to behave."""

    keys: frozenset[str]
    latency: float = 0.0
    mode: str = "normal"
    shape: str = "current"
    expiry_seconds: int = 3600
    fails: deque[dict[str, Any]] = field(default_factory=deque)
    calls: int = 0
    by_model: dict[str, int] = field(default_factory=dict)
    bodies: deque[Any] = field(default_factory=lambda: deque(maxlen=50))
    edits: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=50))
    headers: deque[list[tuple[bytes, bytes]]] = field(default_factory=lambda: deque(maxlen=50))
    in_flight: int = 0
    max_in_flight: int = 0


def _aiml_error(status: int, message: str) -> Response:
    body = {
        "message": message,
        "path": "/v1/images/generations",
        "requestId": uuid.uuid4().hex,
        "statusCode": status,
        "timestamp": datetime.now(UTC).isoformat(),
    }
    return Response(orjson.dumps(body), status, media_type="application/json")


DEFAULT_MESSAGES = {
    400: "Body validation error!",
    401: "Invalid API key",
    403: "You are out of credits",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
    504: "Generation timeout",
}


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


def _wants_b64(body: dict[str, Any]) -> bool:
    return body.get("response_format") == "b64_json" or body.get("convert_base64_to_url") is False


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
    pngs = [tiny_png(i * 2654435761) for i in range(16)]
    b64s = [base64.b64encode(p).decode() for p in pngs]

    ids = itertools.count(1)
    stamps: dict[tuple[int, int], tuple[str, str]] = {}

    def url(host: str, created: int, index: int) -> str:
        window = stamps.get((created, state.expiry_seconds))
        if window is None:
            fmt = "%Y-%m-%dT%H:%M:%SZ"
            start = datetime.fromtimestamp(created, UTC).strftime(fmt)
            end = datetime.fromtimestamp(created + state.expiry_seconds, UTC).strftime(fmt)
            stamps.clear()
            window = stamps[created, state.expiry_seconds] = (quote(start), quote(end))
        unique = f"{next(ids):012x}{os.getpid():08x}"
        return (
            f"http://{host}/files/img-{unique}-{index}.png?st={window[0]}"
            f"&se={window[1]}&sp=r&sv=2024-08-04&sr=b&sig={unique[::-1]}"
        )

    async def generate(scope: Scope, receive: Receive, send: Send) -> None:
        state.calls += 1
        state.in_flight += 1
        state.max_in_flight = max(state.max_in_flight, state.in_flight)
        try:
            chunks = []
            while True:
                message = await receive()
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
            status, payload = await answer(scope["headers"], b"".join(chunks))
        finally:
            state.in_flight -= 1
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
        state.calls += 1
        state.in_flight += 1
        state.max_in_flight = max(state.max_in_flight, state.in_flight)
        try:
            body: Any = await read_edit(request, catalogue, state.edits)
        except BadForm:
            body = None
        finally:
            state.in_flight -= 1
        request.scope[EDIT_BODY] = body
        status, payload = await judge(request.headers.raw, body, EDITS)
        if isinstance(payload, Response):
            return payload
        return Response(payload, status, media_type="application/json")

    async def judge(
        headers: list[tuple[bytes, bytes]], body: Any, path: str
    ) -> tuple[int, bytes | Response]:
        state.bodies.append(body)
        state.headers.append(headers)
        if isinstance(body, dict) and isinstance(body.get("model"), str):
            state.by_model[body["model"]] = state.by_model.get(body["model"], 0) + 1
        if state.latency:
            await asyncio.sleep(state.latency)
        found = dict(headers)
        auth = found.get(b"authorization", b"").decode("latin-1")
        if not auth.startswith("Bearer ") or auth[7:] not in state.keys:
            return 401, _aiml_error(401, DEFAULT_MESSAGES[401])
        if state.fails:
            fail = state.fails[0]
            fail["times"] = int(fail.get("times", 1)) - 1
            if fail["times"] <= 0:
                state.fails.popleft()
            status = int(fail["status"])
            given = fail.get("body")
            if given is None:
                response = _aiml_error(status, DEFAULT_MESSAGES.get(status, "error"))
            elif isinstance(given, str):
                response = Response(given, status)
            else:
                response = Response(orjson.dumps(given), status, media_type="application/json")
            response.headers.update(fail.get("headers") or {})
            return status, response
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
            return 400, _aiml_error(400, DEFAULT_MESSAGES[400])
        assert isinstance(body, dict)
        count = _count(body, catalogue.request_schema(body["model"]))
        if state.mode == "empty":
            count = 0
        elif state.mode == "short":
            count = max(0, count - 1)
        created = int(time.time())
        seed = zlib.crc32(str(body.get("prompt")).encode())
        host = found.get(b"host", b"127.0.0.1").decode("latin-1")
        b64 = _wants_b64(body)
        images = [(seed + i) % 16 for i in range(count)]
        items = [{"b64_json": b64s[i]} if b64 else {"url": url(host, created, i)} for i in images]
        payload: dict[str, Any]
        if state.shape == "openai":
            payload = {"created": created, "data": items}
        elif state.shape == "images":
            payload = {
                "images": [
                    {**item, "width": 4, "height": 4, "content_type": "image/png"} for item in items
                ],
                "seed": seed,
                "timings": {"inference": 0.01},
                "has_nsfw_concepts": [False] * count,
                "prompt": body.get("prompt"),
            }
        elif state.shape == "choices":
            payload = {
                "output": {
                    "choices": [
                        {"image_base64": b64s[i]} if b64 else {"url": url(host, created, i)}
                        for i in images
                    ]
                },
            }
        else:
            payload = {"data": items}
        return 201, orjson.dumps(payload)

    async def files(request: Request) -> Response:
        name = request.path_params["name"]
        index = int(name.rsplit("-", 1)[-1]) if name.rsplit("-", 1)[-1].isdigit() else 0
        return Response(pngs[index % 16], media_type="image/png")

    async def control(request: Request) -> Response:
        data = orjson.loads(await request.body() or b"{}")
        if data.get("reset"):
            fresh = FakeState(keys=state.keys, latency=latency)
            catalogue.reset()
            for name in (
                "latency",
                "mode",
                "shape",
                "expiry_seconds",
                "fails",
                "calls",
                "by_model",
                "bodies",
                "edits",
                "headers",
                "max_in_flight",
            ):
                setattr(state, name, getattr(fresh, name))
        for name in ("latency", "mode", "shape", "expiry_seconds"):
            if name in data:
                setattr(state, name, data[name])
        state.fails.extend(dict(f) for f in data.get("fail", []))
        for added in data.get("add_models", []):
            catalogue.add(added["id"], added["request"], list(added.get("aliases", [])))
        return Response(b"{}", media_type="application/json")

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
            return _aiml_error(404, "Model not found")
        item = next(m for m in catalogue.listing(base_url(request))["data"] if m["id"] == found)
        return Response(orjson.dumps(item), media_type="application/json")

    async def docs_json(request: Request) -> Response:
        found = catalogue.find(request.query_params.get("model", ""))
        document = catalogue.document(found) if found is not None else None
        if document is None:
            return _aiml_error(404, "Model not found")
        return Response(orjson.dumps(document), media_type="application/json")

    async def stats(request: Request) -> Response:
        return Response(
            orjson.dumps(
                {
                    "calls": state.calls,
                    "by_model": state.by_model,
                    "bodies": list(state.bodies),
                    "edits": list(state.edits),
                    "headers": [
                        {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in h}
                        for h in state.headers
                    ],
                    "in_flight": state.in_flight,
                    "max_in_flight": state.max_in_flight,
                }
            ),
            media_type="application/json",
        )

    async def reset_stats(request: Request) -> Response:
        state.calls, state.by_model, state.max_in_flight = 0, {}, 0
        state.bodies.clear()
        state.edits.clear()
        state.headers.clear()
        return Response(b"{}", media_type="application/json")

    app = Starlette(
        routes=[
            Route("/v1/images/generations", AsgiEndpoint(generate), methods=["POST"]),
            Route(EDITS, edit, methods=["POST"]),
            Route("/files/{name}.png", files, methods=["GET"]),
            Route("/v1/models", list_models, methods=["GET"]),
            Route("/model/{model:path}", one_model, methods=["GET"]),
            Route("/docs-json", docs_json, methods=["GET"]),
            Route("/_control", control, methods=["POST"]),
            Route("/_stats", stats, methods=["GET"]),
            Route("/_stats/reset", reset_stats, methods=["POST"]),
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
