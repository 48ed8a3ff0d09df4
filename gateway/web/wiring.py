"""How the parts of a running gateway are built from its settings: the store, the alert
webhook's sink, and the services every request shares (keys, teams, the image pipeline on
the resilient upstream client).

Apart from :mod:`gateway.web.app`, which says what the app serves and when things start
and stop (its lifespan, which owns what is built here and closes it); this module says how
each part is configured.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import httpx

from gateway.alerts.monitor import AlertMonitor
from gateway.alerts.webhook import WebhookSink
from gateway.billing.prices import PriceTable
from gateway.cache.flight import SingleFlight
from gateway.cache.policy import CachePolicy
from gateway.keys.service import KeyService
from gateway.limits.admission import Calendar
from gateway.models.registry import Registry
from gateway.observability.clock import Clock
from gateway.observability.metrics import Metrics
from gateway.pipeline.costs import Costs
from gateway.pipeline.generation import GenerationOptions, ImageService
from gateway.pipeline.upstream_call import Generated
from gateway.settings.model import Settings
from gateway.store.base import Store
from gateway.teams.service import TeamService
from gateway.upstream.client import Upstream
from gateway.upstream.resilience import ResilientUpstream, RetryPolicy
from gateway.web.audit import record_synced
from gateway.web.deadlines import Deadlines
from gateway.web.journals import Logs
from gateway.web.services import Services

if TYPE_CHECKING:
    from gateway.store.memory import MemoryStore


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


def webhook_sink(settings: Settings, metrics: Metrics) -> WebhookSink | None:
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


def build_services(
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
    """The services of a running gateway on ``store`` and ``http``, configured by
    ``settings``; alerts are raised only when there is a ``sink`` to deliver them."""
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
