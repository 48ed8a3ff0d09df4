"""Prometheus metrics, in the app's own registry (multi-process aware).

Labels are bounded: route templates, status codes, registry model ids, fixed reasons.
A client key or prompt never becomes a label. With ``gateway serve --workers N`` the CLI
sets ``PROMETHEUS_MULTIPROC_DIR`` and a scrape of any worker reports all of them.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
    120,
)
RATIO_BUCKETS = (0.25, 0.5, 0.75, 0.9, 0.99, 1.0, 1.01, 1.1, 1.25, 1.5, 2.0, 4.0)
NANOS_PER_USD = 1e9
REASONS = {
    "invalid_api_key": "auth",
    "invalid_admin_token": "auth",
    "rate_limit_exceeded": "rate",
    "insufficient_quota": "quota",
    "model_not_allowed": "permission",
    "store_unavailable": "store",
}


class Metrics:
    """Every metric the gateway exports."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        registry = self.registry
        self.requests = Counter(
            "gateway_requests",
            "HTTP requests by route, status and model",
            ["route", "status", "model"],
            registry=registry,
        )
        self.images = Counter(
            "gateway_images_generated", "Images generated upstream", ["model"], registry=registry
        )
        self.cache = Counter(
            "gateway_cache", "Cache results of image requests", ["result"], registry=registry
        )
        self.refusals = Counter(
            "gateway_refusals", "Requests refused, by reason", ["reason"], registry=registry
        )
        self.upstream_calls = Counter(
            "gateway_upstream_calls", "Upstream calls by outcome", ["outcome"], registry=registry
        )
        self.spend = Counter(
            "gateway_spend_usd",
            "USD charged for upstream calls (the upstream's reported cost), by model",
            ["model"],
            registry=registry,
        )
        self.budget_refusals = Counter(
            "gateway_budget_refusals",
            "Requests refused by a USD budget (spent, or with less left than the request's "
            "estimate), by level (key, team) and limit",
            ["level", "limit"],
            registry=registry,
        )
        self.over_estimates = Counter(
            "gateway_cost_over_estimate",
            "Upstream calls charged more than their estimate, by model",
            ["model"],
            registry=registry,
        )
        self.over_estimate_usd = Counter(
            "gateway_cost_over_estimate_usd",
            "USD charged above the estimates, by model",
            ["model"],
            registry=registry,
        )
        self.cost_ratio = Histogram(
            "gateway_cost_to_estimate_ratio",
            "Charged cost divided by the estimated cost, per upstream call",
            buckets=RATIO_BUCKETS,
            registry=registry,
        )
        self.duration = Histogram(
            "gateway_request_duration_seconds",
            "Total request time",
            ["route"],
            buckets=BUCKETS,
            registry=registry,
        )
        self.upstream_duration = Histogram(
            "gateway_upstream_duration_seconds",
            "Time spent in upstream calls",
            buckets=BUCKETS,
            registry=registry,
        )
        self.request_log_dropped = Counter(
            "gateway_request_log_dropped",
            "Request-log entries not written: overflow (buffer full), failed (the log store "
            "refused the batch), shutdown (still unwritten when the gateway stopped)",
            ["reason"],
            registry=registry,
        )
        self.alerts_dropped = Counter(
            "gateway_alerts_dropped",
            "Alert events not delivered: queue (the webhook's queue was full or still held "
            "them at shutdown), failed (every delivery attempt failed)",
            ["reason"],
            registry=registry,
        )
        self.audit_deferred = Counter(
            "gateway_audit_deferred",
            "Audit entries the log store could not take at once, kept and retried",
            registry=registry,
        )
        self.overhead = Histogram(
            "gateway_overhead_seconds",
            "Request time not spent waiting for the upstream",
            ["route"],
            buckets=BUCKETS,
            registry=registry,
        )

        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self._kinds: dict[tuple[str, int, str, str | None, str | None], tuple[Any, ...]] = {}

    def child(self, metric: Counter | Histogram, *labels: str) -> Any:
        """``metric.labels(*labels)``, remembered: label lookups cost more than the counting."""
        key = (id(metric), labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def request_done(
        self,
        route: str,
        status: int,
        model: str,
        elapsed: float,
        upstream: float,
        code: str | None,
        cache: str | None = None,
    ) -> None:
        """Everything the metrics record about one finished request (``cache``: an image
        request's cache result, HIT, MISS or BYPASS)."""
        kind = (route, status, model, code, cache)
        found = self._kinds.get(kind)
        if found is None:
            reason = self.refusal_reason(status, code)
            found = self._kinds[kind] = (
                self.child(self.requests, route, str(status), model),
                self.child(self.duration, route),
                self.child(self.overhead, route),
                None if reason is None else self.child(self.refusals, reason),
                None if cache is None else self.child(self.cache, cache),
            )
        requests, duration, overhead, refusals, cached = found
        requests.inc()
        duration.observe(elapsed)
        overhead.observe(max(0.0, elapsed - upstream))
        if refusals is not None:
            refusals.inc()
        if cached is not None:
            cached.inc()

    def spent(self, model: str, charged_nanos: int, estimated_nanos: int) -> None:
        """One upstream call's charge (the metric is a float: the books are the store's
        exact counters, this is for dashboards)."""
        self.child(self.spend, model).inc(charged_nanos / NANOS_PER_USD)
        if estimated_nanos > 0:
            self.cost_ratio.observe(charged_nanos / estimated_nanos)

    def over_estimate(self, model: str, excess_nanos: int) -> None:
        """A call the upstream charged ``excess_nanos`` more for than estimated."""
        self.child(self.over_estimates, model).inc()
        self.child(self.over_estimate_usd, model).inc(excess_nanos / NANOS_PER_USD)

    def budget_refused(self, level: str, limit: str) -> None:
        """A request refused by the ``level`` (key or team) budget ``limit``: spent, or with
        less left than the request's estimate."""
        self.child(self.budget_refusals, level, limit).inc()

    def refusal_reason(self, status: int, code: str | None) -> str | None:
        """The refusal label for an error answer, if it is one."""
        if code in REASONS:
            return REASONS[code]
        if status in (400, 413):
            return "validation"
        return None

    def render(self) -> bytes:
        """The text exposition of every metric (all workers in multi-process mode)."""
        if self._multiprocess:
            merged = CollectorRegistry()
            MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
            return generate_latest(merged)
        return generate_latest(self.registry)
