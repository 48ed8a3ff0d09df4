"""``GET /admin/overview``: the day at a glance, from what the gateway already keeps.

Today's figures are the store's usage counters summed over every key that made a request
today (:meth:`Store.usage_of_day <gateway.store.base.Store.usage_of_day>`: the same counters
``/admin/keys/{id}/usage`` reports, so they hold for every replica, read without a read per
key), spend included (what
the requests were charged, ``spend_usd``); refusals by reason
and upstream calls by outcome are this gateway's metrics since it started (all workers of
``gateway serve --workers N``). A store that is down makes the answer say so, with the
store's figures left out: the overview is what an operator opens when things go wrong.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from starlette.requests import Request
from starlette.responses import Response

from gateway.keys.search import STATUSES
from gateway.limits.usage import COUNTERS, SPEND, sum_counters, with_spend
from gateway.observability.metrics import Metrics
from gateway.store.errors import StorageError
from gateway.store.types import team_subject
from gateway.web.admin_auth import admin
from gateway.web.http import json_response
from gateway.web.services import Services


def hit_ratio(counters: dict[str, int]) -> float | None:
    """Hits among the image requests that looked the cache up (bypasses did not)."""
    looked_up = counters["cache_hits"] + counters["cache_misses"]
    return round(counters["cache_hits"] / looked_up, 4) if looked_up else None


def metric_counts(metrics: Metrics) -> dict[str, dict[str, int]]:
    """The refusal and upstream-call counters by their one label."""
    wanted = {"gateway_refusals": "reason", "gateway_upstream_calls": "outcome"}
    found: dict[str, dict[str, int]] = {name: {} for name in wanted}
    for family in text_string_to_metric_families(metrics.render().decode()):
        label = wanted.get(family.name)
        if label is None:
            continue
        for sample in family.samples:
            if sample.name.endswith("_total"):
                found[family.name][sample.labels[label]] = int(sample.value)
    return found


async def stored_figures(svc: Services, day: str) -> dict[str, Any]:
    """Today's counters, keys by status, the cache's size and the store's health."""
    kind = "redis" if svc.settings.redis_url is not None else "embedded"
    started = time.perf_counter()
    try:
        await svc.store.ping()
        latency = (time.perf_counter() - started) * 1000
        keys = await svc.store.key_counts(svc.clock())
        usage = await svc.store.usage_of_day(day)
        cache = await svc.store.cache_stats()
    except StorageError as exc:
        return {
            "today": None,
            "cache_hit_ratio": None,
            "keys": None,
            "cache": None,
            "store": {"kind": kind, "status": "down", "error": exc.message},
        }
    team = team_subject("")
    today = sum_counters(
        (row for subject, row in usage.items() if not subject.startswith(team)),
        (*COUNTERS, SPEND),
    )
    return {
        "today": with_spend(today),
        "cache_hit_ratio": hit_ratio(today),
        "keys": {"total": keys["total"], **{s: keys[s] for s in STATUSES}},
        "cache": {"entries": cache.entries, "bytes": cache.bytes},
        "store": {"kind": kind, "status": "ok", "latency_ms": round(latency, 2)},
    }


class Overview:
    """The route, knowing when this gateway started (metrics count from then)."""

    def __init__(self, started: float) -> None:
        self.started = started

    async def endpoint(self, request: Request) -> Response:
        """The overview answer."""
        svc = admin(request)
        window = svc.calendar.window()
        counts = metric_counts(svc.metrics)
        outcomes = counts["gateway_upstream_calls"]
        calls = sum(outcomes.values())
        return json_response(
            {
                "object": "admin.overview",
                "day": window.day,
                "timezone": svc.settings.quota_timezone,
                **await stored_figures(svc, window.day),
                "since": int(self.started),
                "refusals": counts["gateway_refusals"],
                "upstream": {
                    "configured": bool(svc.settings.upstream_keys),
                    "calls": calls,
                    "failed": calls - outcomes.get("ok", 0),
                    "by_outcome": outcomes,
                },
            }
        )
