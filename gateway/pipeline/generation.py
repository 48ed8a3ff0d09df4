"""One image generation (or edit) request, from a validated body to the answer the client
gets.

An edit (:meth:`ImageService.edit`) is prepared from its form and files instead of a JSON
body; from there on it is a generation. Order: resolve and validate against the registry;
check the key's (and its team's) allow-list; estimate the cost; one atomic admission step
(the key's and the team's limits, quotas and budgets, and the cache lookup together); on a
miss, single-flight on the cache key and one upstream call; normalise the answer; settle
the reservation with the images actually returned and the cost the upstream reported (all
of it back on any failure, cancellation included); store a complete answer in the cache.
This module keeps that order; the steps are :mod:`gateway.pipeline.admission`'s (the
allow-lists and the admission), :mod:`gateway.pipeline.upstream_call`'s and
:mod:`gateway.pipeline.settlement`'s, and the answer is a :mod:`gateway.pipeline.result`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.alerts.monitor import AlertMonitor
from gateway.billing.prices import Estimate
from gateway.cache.flight import Followed, SingleFlight
from gateway.cache.policy import CacheControl, CachePolicy, cache_key
from gateway.keys.service import KeyService
from gateway.limits.admission import Calendar, limit_headers, refusal
from gateway.models.adapters import PreparedRequest
from gateway.models.edit_input import EditFile
from gateway.models.registry import Registry
from gateway.observability.clock import Clock
from gateway.observability.ids import Ids
from gateway.observability.metrics import Metrics
from gateway.pipeline.admission import Admission
from gateway.pipeline.costs import Costs
from gateway.pipeline.disconnect import Gone, unless_gone
from gateway.pipeline.result import (
    BYPASS,
    HIT,
    MISS,
    GenerationResult,
    cached_result,
    generated_result,
)
from gateway.pipeline.settlement import Settlement, Settler, alerting
from gateway.pipeline.upstream_call import Generated, UpstreamCall
from gateway.store.base import Store
from gateway.store.errors import StorageUnavailable
from gateway.store.types import (
    MONEY_LIMITS,
    CacheEntry,
    CacheWrite,
    KeyRecord,
    Outcome,
    TeamRecord,
    Window,
    flight_lock,
)
from gateway.teams.service import TeamService
from gateway.upstream.resilience import ResilientUpstream

log = logging.getLogger("gateway.generation")


@dataclass(frozen=True, slots=True)
class GenerationOptions:
    """The settings that shape the pipeline."""

    cache_enabled: bool
    shared_cache: bool
    reservation_ttl: float
    fail_open: bool


class ImageService:
    """Runs the generation pipeline; everything it touches is passed in."""

    def __init__(
        self,
        *,
        store: Store,
        keys: KeyService,
        teams: TeamService,
        registry: Registry,
        upstream: ResilientUpstream,
        calendar: Calendar,
        policy: CachePolicy,
        flight: SingleFlight[Generated],
        clock: Clock,
        options: GenerationOptions,
        costs: Costs,
        metrics: Metrics | None = None,
        alerts: AlertMonitor | None = None,
    ) -> None:
        self._admission = Admission(
            store=store,
            keys=keys,
            teams=teams,
            reservation_ttl=options.reservation_ttl,
            flight_ttl=flight.lock_ttl,
            fail_open=options.fail_open,
        )
        self._costs = costs
        self._registry = registry
        self._call = UpstreamCall(upstream, registry, policy, clock, metrics)
        self._calendar = calendar
        self._policy = policy
        self._flight = flight
        self._clock = clock
        self._options = options
        self._metrics = metrics
        watch = alerting(alerts) if alerts is not None else None
        self._settler = Settler(store, clock, options.reservation_ttl, watch=watch)
        self._ids = Ids()

    async def generate(
        self,
        record: KeyRecord,
        key: str,
        body: dict[str, Any],
        *,
        cache_control: CacheControl,
        request_id: str,
        raw: bool = False,
        gone: Gone | None = None,
    ) -> GenerationResult:
        """Answer one request or raise a GatewayError.

        ``raw`` returns the upstream's own answer instead of OpenAI's shape (never cached).
        ``gone`` completes when the client disconnects: the upstream part then stops with
        :class:`ClientGone` and the reservation is given back.
        """
        return await self._answer(
            self._registry.prepare(body), record, key, cache_control, request_id, raw, gone
        )

    async def edit(
        self,
        record: KeyRecord,
        key: str,
        fields: Mapping[str, str],
        images: Sequence[EditFile],
        mask: EditFile | None,
        *,
        cache_control: CacheControl,
        request_id: str,
        raw: bool = False,
        gone: Gone | None = None,
    ) -> GenerationResult:
        """Answer one edit (its form's text ``fields``, its ``images`` and ``mask``) exactly
        as a generation: admitted, counted, cached and single-flighted on a key that names
        every file by its digest, refunded on failure. The files stay open until this
        returns; the caller closes them."""
        prepared = self._registry.prepare_edit(fields, images, mask)
        return await self._answer(prepared, record, key, cache_control, request_id, raw, gone)

    async def _answer(
        self,
        prepared: PreparedRequest,
        record: KeyRecord,
        key: str,
        cache_control: CacheControl,
        request_id: str,
        raw: bool,
        gone: Gone | None,
    ) -> GenerationResult:
        model = prepared.model.id
        team = await self._admission.team_of(record, key)
        self._admission.check_model(prepared.model, record, team)
        estimate = self._costs.estimate(model, prepared.cache_fields, prepared.images)
        use_cache = self._options.cache_enabled and record.cache and cache_control.store and not raw
        scope = "shared" if self._options.shared_cache else record.id
        ckey = cache_key(scope, prepared.cache_fields) if use_cache else None
        lookup = ckey if cache_control.lookup else None
        window = self._calendar.window()
        reservation = self._ids()
        try:
            decision, record, team = await self._admission.admit(
                record, team, key, prepared.images, estimate.nanos, lookup, window, reservation
            )
        except StorageUnavailable:
            # The admission may have run with its reply lost: give back whatever it
            # reserved (and the lock it took) once the store answers again.
            lock = flight_lock(lookup) if lookup is not None else None
            self._settler.later(Settlement(record, team, reservation, window, lock=lock))
            if not self._admission.may_fail_open(record, team):
                raise
            log.warning("store unavailable: admitting without limits (fail-open)")
            generated = await unless_gone(gone, self._call(prepared, request_id, None, raw))
            result = generated_result(generated, BYPASS, model, {})
            result.cost_nanos = self._costs.charge(model, estimate, result.cost, result.images)
            return result
        headers = limit_headers(decision)
        if decision.outcome is Outcome.HIT and decision.cached is not None:
            return cached_result(decision.cached, model, headers, window.now)
        if decision.outcome is not Outcome.ADMITTED:
            if self._metrics is not None and decision.refused_by in MONEY_LIMITS:
                self._metrics.budget_refused(decision.refused_level or "key", decision.refused_by)
            raise refusal(decision, headers, estimate.nanos)
        return await self._reserved(
            prepared,
            estimate,
            record,
            team,
            window,
            headers,
            request_id,
            ckey,
            lookup is not None,
            reservation,
            raw,
            decision.leader,
            gone,
        )

    async def _reserved(
        self,
        prepared: PreparedRequest,
        estimate: Estimate,
        record: KeyRecord,
        team: TeamRecord | None,
        window: Window,
        headers: dict[str, str],
        request_id: str,
        ckey: str | None,
        single_flight: bool,
        reservation: str,
        raw: bool,
        leader: bool,
        gone: Gone | None,
    ) -> GenerationResult:
        images = cost = 0
        usage: dict[str, int] = {}
        write: CacheWrite | None = None
        try:
            if ckey is not None and single_flight:
                result, entry = await unless_gone(
                    gone, self._flighted(prepared, request_id, ckey, reservation, leader)
                )
            else:
                generated = await unless_gone(gone, self._call(prepared, request_id, ckey, raw))
                result = generated_result(
                    generated, MISS if ckey else BYPASS, prepared.model.id, {}
                )
                entry = generated.entry
            if ckey is not None and entry is not None:
                write = CacheWrite(ckey, entry)
            if result.cache == HIT:
                usage = {"cache_hits": 1, "cached_images": result.images}
            else:
                images = result.images
                cost = self._costs.charge(result.model, estimate, result.cost, images)
                result.cost_nanos = cost
                usage = {"cache_misses" if result.cache == MISS else "cache_bypasses": 1}
            result.headers.update(headers)
            return result
        finally:
            lock = flight_lock(ckey) if ckey is not None and single_flight else None
            done = Settlement(record, team, reservation, window, images, cost, usage, lock)
            try:
                await self._settler.settle(done, write)
            except asyncio.CancelledError:
                # Cancelled while settling (shutdown): whether the settlement ran is
                # unknown, so it is retried as such in the background.
                self._settler.later(done)
                raise

    async def _flighted(
        self,
        prepared: PreparedRequest,
        request_id: str,
        ckey: str,
        reservation: str,
        leader: bool,
    ) -> tuple[GenerationResult, CacheEntry | None]:
        """The answer, and what to store in the cache (only when this caller led).

        A follower the store fails while it waits answers 503 ``store_unavailable``: the
        leader's upstream call is not made twice."""
        model = prepared.model.id
        outcome = await self._flight.run(
            ckey,
            reservation,
            lambda: self._call(prepared, request_id, ckey),
            holding=leader,
        )
        if not isinstance(outcome, Followed):
            return generated_result(outcome.value, MISS, model, {}), outcome.value.entry
        if outcome.entry is not None:
            return cached_result(outcome.entry, model, {}, self._clock()), None
        assert outcome.value is not None
        return generated_result(outcome.value, HIT, model, {"age": "0"}), None
