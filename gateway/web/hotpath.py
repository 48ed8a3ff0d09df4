"""The busiest route served in front of Starlette's own layers and the gateway's middleware.

Starlette wraps every request in its error and exception middleware and walks the router,
and the access-log middleware wraps ``send``; for ``POST /v1/images/generations`` that cost
a sixth of a cache hit and bought nothing the endpoint cannot do itself. :class:`GatewayApp`
is Starlette with one change: the top of its stack sends that route (exact path and
method; ``POST /v1/images/edits`` too, the same endpoint's sibling) straight to its
endpoint, which then owns its request id, access log, metrics and error rendering;
everything else goes through ``context`` middleware and the usual stack.
``outer`` middleware (CORS) wraps both: the hot endpoint, and the usual stack inside
``context`` (so a CORS preflight is still logged).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send


class HotPath:
    """Pure ASGI: a few exact routes (path and method) to their endpoints, the rest to
    ``app``."""

    def __init__(self, app: ASGIApp, hot: Sequence[tuple[Route, ASGIApp]]) -> None:
        self.app = app
        self.endpoints = {
            route.path: (route, endpoint, route.methods or set()) for route, endpoint in hot
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            found = self.endpoints.get(scope["path"])
            if found is not None and scope["method"] in found[2]:
                scope["route"] = found[0]
                await found[1](scope, receive, send)
                return
        await self.app(scope, receive, send)


class GatewayApp(Starlette):
    """Starlette whose hot routes skip the framework's layers and ``context`` middleware;
    ``outer`` middleware sees every request, hot or not."""

    def __init__(
        self,
        *,
        hot_routes: Sequence[Route],
        outer: Sequence[Middleware] = (),
        context: Sequence[Middleware] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.hot_routes = list(hot_routes)
        self.outer = list(outer)
        self.context = list(context)

    def build_middleware_stack(self) -> ASGIApp:
        cold = _wrap(super().build_middleware_stack(), [*self.context, *self.outer])
        hot = [(route, _wrap(route.app, self.outer)) for route in self.hot_routes]
        return HotPath(cold, hot)


def _wrap(app: ASGIApp, middleware: Sequence[Middleware]) -> ASGIApp:
    """``app`` inside ``middleware``, the first one outermost."""
    for cls, args, kwargs in reversed(middleware):
        app = cls(app, *args, **kwargs)
    return app
