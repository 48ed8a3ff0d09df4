"""The hot route skips Starlette's layers and the context middleware, but not the outer."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.web.hotpath import GatewayApp


class Hot:
    """A plain ASGI endpoint, like the generations route."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse("hot")(scope, receive, send)


class Tag:
    """Middleware that marks every answer it sees with ``header``."""

    def __init__(self, app: ASGIApp, header: bytes) -> None:
        self.app = app
        self.header = header

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (self.header, b"1")]
            await send(message)

        await self.app(scope, receive, tagged)


async def cold(request: Request) -> Response:
    return PlainTextResponse("cold")


def client() -> TestClient:
    route = Route("/hot", Hot(), methods=["POST"])
    app = GatewayApp(
        hot_routes=[route],
        outer=[Middleware(Tag, header=b"x-outer")],
        context=[Middleware(Tag, header=b"x-context")],
        routes=[route, Route("/cold", cold, methods=["GET"])],
    )
    return TestClient(app, raise_server_exceptions=False)


def test_the_hot_route_answers_inside_outer_middleware_only() -> None:
    response = client().post("/hot")
    assert response.text == "hot" and response.headers["x-outer"] == "1"
    assert "x-context" not in response.headers


def test_other_methods_and_routes_go_through_every_layer() -> None:
    wrong_method = client().get("/hot")
    assert wrong_method.status_code == 405 and wrong_method.headers["x-context"] == "1"
    cold_answer = client().get("/cold")
    assert cold_answer.text == "cold"
    assert cold_answer.headers["x-outer"] == cold_answer.headers["x-context"] == "1"
    assert client().get("/nowhere").status_code == 404
