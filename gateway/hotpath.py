"""The busiest route served in front of Starlette's own layers.

Starlette wraps every request in its server-error and exception middleware and walks the
router; for ``POST /v1/images/generations`` that costs a sixth of a cache hit and buys
nothing the route needs. :class:`GatewayApp` is Starlette with one change: its middleware
stack first looks at the request, sends that one route straight to its endpoint (rendering
errors with the app's own exception handlers), and hands everything else to the usual
stack. The gateway's own middleware wraps both.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Handler = Callable[[Request, Exception], Awaitable[Response]]


class HotPath:
    """Pure ASGI: one exact route to its endpoint, the rest to ``app``."""

    def __init__(self, app: ASGIApp, route: Route, handlers: Mapping[Any, Handler]) -> None:
        self.app = app
        self.route = route
        self.methods = route.methods or set()
        self.handlers = handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["path"] != self.route.path
                or scope["method"] not in self.methods):
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self.route.app(scope, receive, tracked)
        except Exception as exc:
            if started:
                raise
            response = await self.handler(exc)(Request(scope, receive), exc)
            await response(scope, receive, send)

    def handler(self, exc: Exception) -> Handler:
        """The most specific registered handler for ``exc``, as Starlette would choose."""
        for kind in type(exc).__mro__:
            if kind in self.handlers:
                return self.handlers[kind]
        raise exc


class GatewayApp(Starlette):
    """Starlette whose hot route skips the framework's layers; ``outer`` middleware (the
    gateway's own) wraps every request, hot or not."""

    def __init__(self, *, hot_route: Route, outer: Sequence[Middleware],
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hot_route = hot_route
        self.outer = list(outer)

    def build_middleware_stack(self) -> ASGIApp:
        app: ASGIApp = HotPath(super().build_middleware_stack(), self.hot_route,
                               self.exception_handlers)
        for cls, args, kwargs in reversed(self.outer):
            app = cls(app, *args, **kwargs)
        return app
