"""``create_app(settings)``: the ASGI app, what wraps its routes, and its lifespan.

The app is put together here: the routes of :mod:`gateway.web.routing`, the middleware
(CORS when configured, the request context), the exception handlers that turn every
failure into an OpenAI-shaped answer, and the lifespan that starts what
:mod:`gateway.web.wiring` builds from the settings and closes it at shutdown.
"""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from gateway.billing.price_file import load_price_table
from gateway.errors import (
    GatewayError,
    MethodNotAllowed,
    NotFound,
    client_error,
)
from gateway.models.registry import Registry
from gateway.observability.clock import Clock, system_clock
from gateway.observability.metrics import Metrics
from gateway.pipeline.disconnect import CLIENT_CLOSED, ClientGone
from gateway.settings.model import Settings
from gateway.store.base import Store
from gateway.store.errors import StorageError, StorageUnavailable
from gateway.store.journal import Journal
from gateway.upstream.client import create_transport
from gateway.upstream.proxy import environment_proxies
from gateway.web.hotpath import GatewayApp
from gateway.web.http import error_response
from gateway.web.journals import Logs, build_journal
from gateway.web.middleware import AccessLog, RequestContext
from gateway.web.openapi import build_openapi
from gateway.web.routing import route_table
from gateway.web.services import Services
from gateway.web.startup import announce, check_declared_models
from gateway.web.wiring import build_services, build_store, webhook_sink

YOUNG_COLLECTION_EVERY = 20_000
SHUTDOWN_DRAIN = 5.0
"""Seconds the shutdown spends on threshold claims under way, then as much on delivering the
alert events queued (a budget crossed by one of the last requests is still told)."""

log = logging.getLogger("gateway.app")


async def _gateway_error(request: Request, exc: Exception) -> Response:
    error = client_error(exc)
    request.state.error_code = error.code
    for name, value in error.log_fields.items():
        setattr(request.state, name, value)
    return error_response(error)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        return error_response(
            MethodNotAllowed(f"Method {request.method} is not allowed here; use {allowed}."),
            headers={"allow": allowed} if allowed else None,
        )
    if exc.status_code == 404:
        return error_response(NotFound(f"Unknown route: {request.method} {request.url.path}"))
    return error_response(GatewayError(str(exc.detail)), headers=None)


async def _client_gone(request: Request, exc: Exception) -> Response:
    return Response(status_code=CLIENT_CLOSED)


async def _unexpected(request: Request, exc: Exception) -> Response:
    return error_response(client_error(exc))


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock = system_clock,
    journal: Journal | None = None,
) -> Starlette:
    """Build the ASGI app. ``transport``, ``clock`` and ``journal`` are for tests; ``store``
    too, and for the CLI, which opens the embedded store before serving. The journal follows
    the store (see :func:`gateway.web.journals.build_journal`)."""
    registry = Registry.load(settings.models_file, allow_unknown=settings.allow_unknown_models)
    check_declared_models(settings, registry)
    prices = load_price_table(settings.prices_file, settings.default_image_price_usd)
    proxies = environment_proxies()
    metrics = Metrics()
    document = orjson.dumps(build_openapi(registry))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        the_store = store or build_store(settings, clock)
        await the_store.start()
        the_logs = await Logs.start(
            settings,
            journal or build_journal(settings, store),
            clock,
            metrics,
        )
        http = create_transport(
            max_connections=settings.upstream_max_connections,
            max_response_bytes=settings.upstream_max_response_bytes,
            proxies=proxies,
            transport=transport,
        )
        sink = webhook_sink(settings, metrics)
        services: Services | None = None
        try:
            services = build_services(
                settings, the_store, registry, http, clock, metrics, prices, the_logs, sink
            )
            await _first_contact(services)
            # What exists now lives as long as the process: full collections scanning it
            # were the p99 tail of cache hits, so the collector leaves it alone. A request
            # makes hundreds of short-lived objects that reference counting frees; young
            # collections every 700 allocations cost a few percent of a cache hit for
            # nothing, so they run less often.
            gc.collect()
            gc.freeze()
            gc.set_threshold(YOUNG_COLLECTION_EVERY, 10, 10)
            announce(settings, registry)
            yield {"services": services}
        finally:
            if services is not None and services.alerts is not None:
                await services.alerts.drain(SHUTDOWN_DRAIN)
            await the_logs.aclose()
            if sink is not None:
                await sink.aclose(drain=SHUTDOWN_DRAIN)
            await http.aclose()
            await the_store.aclose()

    access = AccessLog(metrics)
    table = route_table(settings, access, clock, document)
    outer = []
    if settings.cors_origin_list:
        from starlette.middleware.cors import CORSMiddleware

        outer.append(
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origin_list,
                allow_methods=["GET", "POST", "PATCH", "DELETE"],
                allow_headers=[
                    "authorization",
                    "content-type",
                    "cache-control",
                    "x-request-id",
                    "x-gateway-raw-response",
                ],
                expose_headers=[
                    "x-request-id",
                    "x-gateway-audit",
                    "x-cache",
                    "x-gateway-cost-usd",
                    "age",
                    "retry-after",
                    *(
                        f"x-ratelimit-{kind}-{what}"
                        for kind in ("limit", "remaining", "reset")
                        for what in ("requests", "images")
                    ),
                ],
            )
        )
    return GatewayApp(
        hot_routes=table.hot,
        outer=outer,
        context=[Middleware(RequestContext, access=access)],
        routes=table.routes,
        exception_handlers={
            GatewayError: _gateway_error,
            StorageError: _gateway_error,
            HTTPException: _http_error,
            ClientGone: _client_gone,
            Exception: _unexpected,
        },
        lifespan=lifespan,
    )


async def _first_contact(services: Services) -> None:
    """Reach the store and read what keys need from it. A store that does not answer is
    not fatal: a crash loop under an orchestrator helps nobody. One warning line says so
    (the request log, on the same Redis, does not say it again);
    ``/readyz`` and requests answer 503 until the store answers, and the first operation
    after that finishes the start-up (see :meth:`KeyService.ready`)."""
    try:
        await services.store.ping()
        await services.keys.start()
    except StorageUnavailable as exc:
        log.warning(
            "the store is unavailable at start-up (%s); answering 503 store_unavailable "
            "until it answers",
            exc.message,
        )
        services.request_log.store_outage_reported(services.store.ping)


def create_app_from_env() -> Starlette:
    """Factory for ``uvicorn --factory`` and multi-worker serving: settings from the env."""
    from gateway.observability.logs import configure_logging
    from gateway.settings.loading import load_settings

    settings = load_settings()
    configure_logging(settings.log_level, _secrets(settings))
    return create_app(settings)


def _secrets(settings: Settings) -> list[str]:
    """Every configured secret, for log redaction."""
    values = [
        settings.admin_token,
        settings.admin_readonly_token,
        settings.key_secret,
        settings.redis_url,
        settings.alert_webhook_secret,
    ]
    found = [v.get_secret_value() for v in values if v is not None]
    found += list(settings.upstream_keys)
    if settings.redis_url is not None:
        from urllib.parse import parse_qs, unquote, urlsplit

        url = settings.redis_url.get_secret_value()
        parts = urlsplit(url)
        found = [f for f in found if f != url]
        if parts.password:
            found += [parts.password, unquote(parts.password)]
        found += parse_qs(parts.query).get("ssl_password", [])
    return found
