"""The hot route skips Starlette's layers but keeps its errors, methods and middleware."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import GatewayError, InvalidRequest, error_response
from gateway.hotpath import GatewayApp


class Hot:
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        what = scope["query_string"].decode()
        if what == "invalid":
            raise InvalidRequest("bad field", param="prompt")
        if what == "crash":
            raise RuntimeError("boom")
        await PlainTextResponse("hot")(scope, receive, send)


class Tag:
    """Outer middleware: marks every answer, hot or not."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-tag", b"1")]
            await send(message)

        await self.app(scope, receive, tagged)


async def gateway_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    return error_response(exc)


async def unexpected(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": {"message": "unexpected", "type": "server_error",
                                   "param": None, "code": None}}, status_code=500)


async def cold(request: Request) -> Response:
    return PlainTextResponse("cold")


def client() -> TestClient:
    hot = Route("/hot", Hot(), methods=["POST"])
    app = GatewayApp(hot_route=hot, outer=[Middleware(Tag)],
                     routes=[hot, Route("/cold", cold, methods=["GET"])],
                     exception_handlers={GatewayError: gateway_error, Exception: unexpected})
    return TestClient(app, raise_server_exceptions=False)


def test_the_hot_route_answers_and_outer_middleware_sees_it() -> None:
    response = client().post("/hot")
    assert response.text == "hot" and response.headers["x-tag"] == "1"


def test_hot_route_errors_use_the_apps_handlers() -> None:
    invalid = client().post("/hot?invalid")
    assert invalid.status_code == 400
    assert invalid.json()["error"]["param"] == "prompt" and invalid.headers["x-tag"] == "1"
    crash = client().post("/hot?crash")
    assert crash.status_code == 500 and crash.json()["error"]["message"] == "unexpected"


def test_other_methods_and_routes_go_through_starlette() -> None:
    assert client().get("/hot").status_code == 405
    cold_answer = client().get("/cold")
    assert cold_answer.text == "cold" and cold_answer.headers["x-tag"] == "1"
    assert client().get("/nowhere").status_code == 404
