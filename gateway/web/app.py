"""``create_app(settings)``: the only place where the gateway's parts are wired together."""

from __future__ import annotations

import contextlib
import functools
import gc
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import httpx
import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.alerts.monitor import AlertMonitor
from gateway.alerts.webhook import WebhookSink
from gateway.billing.price_file import load_price_table
from gateway.billing.prices import PriceTable
from gateway.cache.flight import SingleFlight
from gateway.cache.policy import CachePolicy
from gateway.errors import (
    GatewayError,
    MethodNotAllowed,
    NotFound,
    client_error,
)
from gateway.keys.service import KeyService
from gateway.limits.admission import Calendar
from gateway.models.registry import Registry
from gateway.observability.clock import Clock, system_clock
from gateway.observability.metrics import Metrics
from gateway.pipeline.costs import Costs
from gateway.pipeline.disconnect import CLIENT_CLOSED, ClientGone
from gateway.pipeline.generation import GenerationOptions, ImageService
from gateway.pipeline.upstream_call import Generated
from gateway.settings.model import Settings
from gateway.store.base import Store
from gateway.store.errors import StorageError, StorageUnavailable
from gateway.store.journal import Journal
from gateway.teams.service import TeamService
from gateway.upstream.client import Upstream, create_transport
from gateway.upstream.proxy import environment_proxies
from gateway.upstream.resilience import ResilientUpstream, RetryPolicy
from gateway.web.audit import record_synced
from gateway.web.deadlines import Deadlines
from gateway.web.hotpath import GatewayApp
from gateway.web.http import error_response
from gateway.web.journals import Logs, build_journal
from gateway.web.middleware import AccessLog, RequestContext
from gateway.web.openapi import build_openapi
from gateway.web.routes import admin, edits, health, images, logs, models, teams, usage
from gateway.web.routes import prices as prices_route
from gateway.web.routes.console import Console
from gateway.web.routes.overview import Overview
from gateway.web.services import Services
from gateway.web.startup import announce, check_declared_models
from gateway.web.uploads import UploadLimits

if TYPE_CHECKING:
    from gateway.store.memory import MemoryStore

YOUNG_COLLECTION_EVERY = 20_000
SHUTDOWN_DRAIN = 5.0
"""Seconds the shutdown spends on threshold claims under way, then as much on delivering the
alert events queued (a budget crossed by one of the last requests is still told)."""

log = logging.getLogger("gateway.app")


def build_store(settings: Settings, clock: Clock) -> Store:
    """The Redis store when GATEWAY_REDIS_URL is set, the embedded one otherwise."""
    if settings.redis_url is not None:
        from gateway.store.redis import RedisStore

        return RedisStore.from_url(
            settings.redis_url.get_secret_value(),
            socket_timeout=settings.redis_socket_timeout,
            connect_timeout=settings.redis_connect_timeout,
        )
    return embedded_store(settings, clock)


def embedded_store(settings: Settings, clock: Clock) -> MemoryStore:
    """The embedded store on GATEWAY_STORE_PATH, not opened yet."""
    from gateway.store.memory import MemoryStore

    return MemoryStore(
        settings.store_path, cache_max_bytes=settings.cache_memory_bytes, clock=clock
    )


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

    async def openapi_route(request: Request) -> Response:
        return Response(document, media_type="application/json")

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
        sink = _webhook(settings, metrics)
        services: Services | None = None
        try:
            services = _services(
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
    console = Console.load()
    generations = Route("/v1/images/generations", images.Generations(access), methods=["POST"])
    edit_route = Route(
        "/v1/images/edits", edits.Edits(access, UploadLimits.of(settings)), methods=["POST"]
    )
    routes = [
        generations,
        edit_route,
        Route("/v1/images/variations", edits.variations, methods=["POST"]),
        Route("/v1/models", models.list_models, methods=["GET"]),
        Route("/v1/models/{model:path}", models.retrieve_model, methods=["GET"]),
        Route("/v1/usage", usage.own_usage, methods=["GET"]),
        Route("/admin/keys", admin.create_key, methods=["POST"]),
        Route("/admin/keys", admin.list_keys, methods=["GET"]),
        Route("/admin/keys/{key_id}", admin.get_key, methods=["GET"]),
        Route("/admin/keys/{key_id}", admin.update_key, methods=["PATCH"]),
        Route("/admin/keys/{key_id}", admin.revoke_key, methods=["DELETE"]),
        Route("/admin/keys/{key_id}/usage", admin.key_usage, methods=["GET"]),
        Route("/admin/keys/{key_id}/rotate", admin.rotate_key, methods=["POST"]),
        Route("/admin/teams", teams.create_team, methods=["POST"]),
        Route("/admin/teams", teams.list_teams, methods=["GET"]),
        Route("/admin/teams/{team_id}", teams.get_team, methods=["GET"]),
        Route("/admin/teams/{team_id}", teams.update_team, methods=["PATCH"]),
        Route("/admin/teams/{team_id}", teams.delete_team, methods=["DELETE"]),
        Route("/admin/teams/{team_id}/usage", teams.team_usage, methods=["GET"]),
        Route("/admin/cache", admin.cache_stats, methods=["GET"]),
        Route("/admin/cache", admin.purge_cache, methods=["DELETE"]),
        Route("/admin/prices", prices_route.list_prices, methods=["GET"]),
        Route("/admin/whoami", admin.whoami, methods=["GET"]),
        Route("/admin/overview", Overview(clock()).endpoint, methods=["GET"]),
        Route("/admin/requests", logs.list_requests, methods=["GET"]),
        Route("/admin/requests/export", logs.export_requests, methods=["GET"]),
        Route("/admin/audit", logs.list_audit, methods=["GET"]),
        Route("/console", console.page, methods=["GET"]),
        Route("/console/{path:path}", console.asset, methods=["GET"]),
        Route("/healthz", health.healthz, methods=["GET"]),
        Route("/readyz", health.readyz, methods=["GET"]),
        Route("/metrics", health.metrics, methods=["GET"]),
        Route("/openapi.json", openapi_route, methods=["GET"]),
    ]
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
        hot_routes=[generations, edit_route],
        outer=outer,
        context=[Middleware(RequestContext, access=access)],
        routes=routes,
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
    not fatal: a crash loop under an orchestrator helps nobody. One warning line says so;
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


def _webhook(settings: Settings, metrics: Metrics) -> WebhookSink | None:
    """The alert webhook's sink when GATEWAY_ALERT_WEBHOOK_URL is set (started here, in the
    lifespan: it owns a worker task and an HTTP client)."""
    if settings.alert_webhook_url is None:
        return None
    secret = settings.alert_webhook_secret
    sink = WebhookSink(
        settings.alert_webhook_url,
        secret.get_secret_value().encode() if secret is not None else None,
        on_dropped=metrics.alerts_dropped.labels("queue").inc,
        on_failed=metrics.alerts_dropped.labels("failed").inc,
    )
    sink.start()
    return sink


def _services(
    settings: Settings,
    store: Store,
    registry: Registry,
    http: httpx.AsyncBaseTransport,
    clock: Clock,
    metrics: Metrics,
    prices: PriceTable,
    the_logs: Logs,
    sink: WebhookSink | None,
) -> Services:
    alerts = (
        AlertMonitor(sink, store.claim, settings.alert_threshold_values, clock)
        if sink is not None
        else None
    )
    secret = (
        settings.key_secret.get_secret_value().encode() if settings.key_secret is not None else None
    )
    keys = KeyService(
        store,
        secret,
        clock,
        cache_seconds=settings.key_cache_seconds,
        default_limits=settings.default_limits,
        declared=settings.keys,
        on_synced=functools.partial(record_synced, the_logs.audit, clock),
    )
    team_service = TeamService(store, clock, cache_seconds=settings.key_cache_seconds)
    calendar = Calendar(clock, settings.quota_timezone)
    upstream_keys = settings.upstream_keys
    upstream = ResilientUpstream(
        Upstream(
            http,
            settings.upstream_endpoint,
            upstream_keys[0] if upstream_keys else None,
            other_keys=upstream_keys[1:],
            connect_timeout=settings.upstream_connect_timeout,
            read_timeout=settings.upstream_read_timeout,
        ),
        upstream_keys,
        RetryPolicy(
            max_retries=settings.upstream_max_retries,
            deadline=settings.upstream_retry_deadline,
            key_cooldown=settings.upstream_key_cooldown,
            breaker_threshold=settings.upstream_breaker_threshold,
            breaker_cooldown=settings.upstream_breaker_cooldown,
        ),
    )
    lock_ttl = settings.upstream_read_timeout + settings.upstream_connect_timeout + 10
    images_service = ImageService(
        store=store,
        keys=keys,
        teams=team_service,
        registry=registry,
        upstream=upstream,
        calendar=calendar,
        policy=CachePolicy(
            ttl=settings.cache_ttl,
            url_margin=settings.cache_url_margin,
            max_entry_bytes=settings.cache_max_entry_bytes,
        ),
        flight=SingleFlight[Generated](
            store, clock, lock_ttl=lock_ttl, wait=settings.cache_wait_seconds
        ),
        clock=clock,
        options=GenerationOptions(
            cache_enabled=settings.cache_enabled,
            shared_cache=settings.cache_scope == "shared",
            reservation_ttl=settings.cache_wait_seconds + lock_ttl + 60,
            fail_open=settings.limits_fail_open,
        ),
        costs=Costs(prices, metrics),
        metrics=metrics,
        alerts=alerts,
    )
    return Services(
        settings=settings,
        store=store,
        keys=keys,
        teams=team_service,
        registry=registry,
        images=images_service,
        calendar=calendar,
        http=http,
        clock=clock,
        metrics=metrics,
        deadlines=Deadlines(),
        prices=prices,
        journal=the_logs.journal,
        request_log=the_logs.request_log,
        audit=the_logs.audit,
        alerts=alerts,
    )


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
