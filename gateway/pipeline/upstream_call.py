"""The upstream call of one generation or edit: send, time, normalise, prepare the cache entry.

Kept apart from :mod:`gateway.pipeline.generation` (admission, single-flight and
settlement), which calls it once per miss. An edit's body is built here, from its spooled
files (:mod:`gateway.pipeline.edits`), and sent as a stream.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import orjson

from gateway.billing.reported import ReportedCost, read_cost
from gateway.cache.policy import CachePolicy, is_complete, stored_body
from gateway.models.adapters import PreparedRequest
from gateway.models.registry import Registry
from gateway.observability.clock import Clock
from gateway.observability.incidents import Incidents
from gateway.observability.metrics import Metrics
from gateway.pipeline.edits import payload
from gateway.store.types import CacheEntry
from gateway.upstream.client import Failure, UpstreamCallError
from gateway.upstream.resilience import ResilientUpstream

log = logging.getLogger("gateway.generation")


@dataclass(slots=True)
class Generated:
    """An upstream success as the client will receive it."""

    body: bytes
    status: int
    images: int
    upstream_seconds: float = 0.0
    entry: CacheEntry | None = None
    cost: ReportedCost | None = None


class UpstreamCall:
    """Calls the upstream for the pipeline, with the metrics and incidents of each call."""

    def __init__(
        self,
        upstream: ResilientUpstream,
        registry: Registry,
        policy: CachePolicy,
        clock: Clock,
        metrics: Metrics | None,
    ) -> None:
        self._upstream = upstream
        self._registry = registry
        self._policy = policy
        self._clock = clock
        self._metrics = metrics
        self._incidents = Incidents(log)

    async def __call__(
        self, prepared: PreparedRequest, request_id: str, ckey: str | None, raw: bool = False
    ) -> Generated:
        """One upstream call for ``prepared``, its answer normalised (and, with ``ckey``, the
        cache entry to store when the answer is complete); UpstreamCallError becomes the
        client's GatewayError."""
        started = time.perf_counter()
        outcome = "ok"
        try:
            sent = prepared.upstream_body if prepared.edit is None else payload(prepared)
            answer = await self._upstream.generate(sent, request_id)
        except UpstreamCallError as exc:
            outcome = exc.outcome
            self._trouble(exc)
            error = exc.error
            error.log_fields["upstream_status"] = exc.status
            error.log_fields["upstream_seconds"] = time.perf_counter() - started
            raise error from None
        finally:
            waited = time.perf_counter() - started
            if self._metrics is not None:
                self._metrics.child(self._metrics.upstream_calls, outcome).inc()
                self._metrics.upstream_duration.observe(waited)
        self._incidents.resolve()
        now = self._clock()
        normalised = self._registry.normalise(prepared, answer.body, created=int(now))
        same = raw or normalised.body is answer.body
        body = answer.raw if same else orjson.dumps(normalised.body)
        entry = None
        if ckey is not None and is_complete(normalised.body, prepared.images):
            expires_at = self._policy.expires_at(normalised.body, len(body), now)
            if expires_at is not None:
                entry = CacheEntry(
                    body=stored_body(answer.status, body),
                    stored_at=now,
                    expires_at=expires_at,
                    images=normalised.images,
                )
        if self._metrics is not None:
            self._metrics.child(self._metrics.images, prepared.model.id).inc(normalised.images)
        return Generated(
            body=body,
            status=answer.status,
            images=normalised.images,
            upstream_seconds=waited,
            entry=entry,
            cost=read_cost(answer.headers, answer.body),
        )

    def _trouble(self, exc: UpstreamCallError) -> None:
        """Warn once (until the upstream answers again) about failures that are the
        operator's to fix rather than one request's bad luck."""
        if exc.error.code == "upstream_auth_failed":
            self._incidents.report(
                "upstream_auth_failed",
                f"the upstream refused the gateway's credentials (HTTP {exc.status}): check "
                "GATEWAY_UPSTREAM_API_KEY and the account's credits",
                upstream_status=exc.status,
            )
        elif exc.failure is Failure.CONNECT:
            self._incidents.report(
                "upstream_unreachable",
                "the upstream cannot be reached: check GATEWAY_UPSTREAM_URL and the network "
                "(or proxy) between the gateway and it",
            )
