"""What the fake AI/ML API has seen, and how a test tells it to behave.

A test drives the fake over HTTP, as it drives the gateway: ``POST /_control`` sets its
``latency``, ``mode`` (``hang``, ``html``, ``reset``, ``malformed``, ``empty``, ``short``),
answer ``shape`` and link expiry, queues failures (``fail``: status, optional body and
headers, how many ``times``), adds models to the catalogue (``add_models``) or puts it
all back (``reset``); ``GET /_stats`` says what it was sent (calls, per model, the last
bodies, edits and headers, the most calls in flight at once) and ``POST /_stats/reset``
forgets that.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.testing.fake_answers import DEFAULT_MESSAGES, aiml_error
from gateway.testing.fake_catalogue import Catalogue


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

    @contextlib.contextmanager
    def serving(self) -> Iterator[None]:
        """Count one call, in flight until the block ends."""
        self.calls += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            yield
        finally:
            self.in_flight -= 1

    def saw(self, headers: list[tuple[bytes, bytes]], body: Any) -> None:
        """Record a request's headers and body (as read: None when unreadable)."""
        self.bodies.append(body)
        self.headers.append(headers)
        if isinstance(body, dict) and isinstance(body.get("model"), str):
            self.by_model[body["model"]] = self.by_model.get(body["model"], 0) + 1

    def failure(self) -> tuple[int, Response] | None:
        """The next queued failure, if any, used up once."""
        if not self.fails:
            return None
        fail = self.fails[0]
        fail["times"] = int(fail.get("times", 1)) - 1
        if fail["times"] <= 0:
            self.fails.popleft()
        status = int(fail["status"])
        given = fail.get("body")
        if given is None:
            response = aiml_error(status, DEFAULT_MESSAGES.get(status, "error"))
        elif isinstance(given, str):
            response = Response(given, status)
        else:
            response = Response(orjson.dumps(given), status, media_type="application/json")
        response.headers.update(fail.get("headers") or {})
        return status, response


def control_routes(state: FakeState, catalogue: Catalogue, latency: float) -> list[Route]:
    """``/_control``, ``/_stats`` and ``/_stats/reset`` on ``state`` (``latency`` is the
    one a reset goes back to)."""

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

    return [
        Route("/_control", control, methods=["POST"]),
        Route("/_stats", stats, methods=["GET"]),
        Route("/_stats/reset", reset_stats, methods=["POST"]),
    ]
