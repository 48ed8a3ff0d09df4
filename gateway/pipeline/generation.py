"""One image generation (or edit) request, from a validated body to the answer the client
gets.

An edit (:meth:`ImageService.edit`) is prepared from its form and files instead of a JSON
body; from there on it is a generation. Order: resolve and validate against the registry;
check the key's (and its team's) allow-list; estimate the cost; one atomic admission step
(the key's and the team's limits, quotas and budgets, and the cache lookup together); on a
miss, single-flight on the cache key and one upstream call; normalise the answer; settle
the reservation with the images actually returned and the cost the upstream reported (all
of it back on any failure, cancellation included); store a complete answer in the cache.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.alerts.monitor import AlertMonitor
from gateway.billing.prices import Estimate
from gateway.billing.reported import ReportedCost
from gateway.cache.flight import Followed, SingleFlight
from gateway.cache.policy import (
    CacheControl,
    CachePolicy,
    cache_key,
    stored_answer,
)
from gateway.errors import AuthenticationFailed, PermissionDenied, StoreUnavailable
from gateway.keys.material import mask
from gateway.keys.service import KeyService
from gateway.limits.admission import Calendar, limit_headers, refusal
from gateway.models.adapters import PreparedRequest
from gateway.models.edit_input import EditFile
from gateway.models.registry import Registry
from gateway.observability.clock import Clock
from gateway.observability.ids import Ids
from gateway.observability.metrics import Metrics
from gateway.pipeline.costs import Costs
from gateway.pipeline.disconnect import Gone, unless_gone
from gateway.pipeline.settlement import Settlement, Settler, alerting
from gateway.pipeline.upstream_call import Generated, UpstreamCall
from gateway.store.base import Store
from gateway.store.errors import StorageUnavailable
from gateway.store.types import (
    MONEY_LIMITS,
    WINDOW_LIMITS,
    AdmitRequest,
    CacheEntry,
    CacheWrite,
    Decision,
    KeyRecord,
    Outcome,
    TeamRecord,
    Window,
    flight_lock,
)
from gateway.teams.service import TeamService
from gateway.upstream.resilience import ResilientUpstream

log = logging.getLogger("gateway.generation")

HIT, MISS, BYPASS = "HIT", "MISS", "BYPASS"


@dataclass(frozen=True, slots=True)
class GenerationOptions:
    """The settings that shape the pipeline."""

    cache_enabled: bool
    shared_cache: bool
    reservation_ttl: float
    fail_open: bool


@dataclass(slots=True)
class GenerationResult:
    """What the route answers with, plus what logs and metrics report."""

    body: bytes
    status: int
    images: int
    cache: str
    model: str
    headers: dict[str, str] = field(default_factory=dict)
    upstream_seconds: float = 0.0
    upstream_status: int | None = None
    cost: ReportedCost | None = None
    """What the upstream reported this call cost (None for answers from the cache)."""
    cost_nanos: int = 0
    """What this request was charged (``x-gateway-cost-usd``): 0 for answers from the cache."""

    @property
    def upstream_inference_id(self) -> str | None:
        """The id the upstream records this call's charge under (``x-inference-id``), to
        match it in the upstream's usage logs; None for answers from the cache."""
        return self.cost.inference_id if self.cost is not None else None


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
        self._store = store
        self._keys = keys
        self._teams = teams
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
        team = await self._team_of(record, key)
        if record.models is not None and not prepared.model.named_in(record.models):
            raise PermissionDenied(f"This key may not use the model {model!r}.", param="model")
        narrowed = team.models if team is not None else None
        if narrowed is not None and not prepared.model.named_in(narrowed):
            raise PermissionDenied(
                f"This key's team may not use the model {model!r}.", param="model"
            )
        estimate = self._costs.estimate(model, prepared.cache_fields, prepared.images)
        use_cache = self._options.cache_enabled and record.cache and cache_control.store and not raw
        scope = "shared" if self._options.shared_cache else record.id
        ckey = cache_key(scope, prepared.cache_fields) if use_cache else None
        lookup = ckey if cache_control.lookup else None
        window = self._calendar.window()
        reservation = self._ids()
        try:
            decision, record, team = await self._admit(
                record, team, key, prepared.images, estimate.nanos, lookup, window, reservation
            )
        except StorageUnavailable:
            # The admission may have run with its reply lost: give back whatever it
            # reserved (and the lock it took) once the store answers again.
            lock = flight_lock(lookup) if lookup is not None else None
            self._settler.later(Settlement(record, team, reservation, window, lock=lock))
            if not self._may_fail_open(record, team):
                raise
            log.warning("store unavailable: admitting without limits (fail-open)")
            generated = await unless_gone(gone, self._call(prepared, request_id, None, raw))
            result = self._result(generated, BYPASS, model, {})
            result.cost_nanos = self._costs.charge(model, estimate, result.cost, result.images)
            return result
        headers = limit_headers(decision)
        if decision.outcome is Outcome.HIT and decision.cached is not None:
            entry = decision.cached
            age = max(0, int(window.now - entry.stored_at))
            status, cached = stored_answer(entry.body)
            return GenerationResult(
                cached, status, entry.images, HIT, model, {**headers, "age": str(age)}
            )
        if decision.outcome is not Outcome.ADMITTED:
            if self._metrics is not None and decision.refused_by in MONEY_LIMITS:
                self._metrics.budget_refused(decision.refused_level or "key", decision.refused_by)
            raise refusal(decision, headers)
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

    def _may_fail_open(self, record: KeyRecord, team: TeamRecord | None) -> bool:
        """Whether a store outage may admit this request uncounted: only with fail-open on,
        and no day or month quota or budget on the key or its team."""
        if not self._options.fail_open:
            return False
        every = (record.limits, team.limits) if team is not None else (record.limits,)
        return all(getattr(limits, name) is None for limits in every for name in WINDOW_LIMITS)

    async def _team_of(
        self, record: KeyRecord, key: str, *, fresh: bool = False
    ) -> TeamRecord | None:
        """The key's team, refusing the key (401, like a disabled key) while its team is
        disabled or gone."""
        if record.team_id is None:
            return None
        team = await self._teams.of_key(record, fresh=fresh)
        if team is None or team.disabled:
            why = "a disabled team" if team is not None else "a team that no longer exists"
            error = AuthenticationFailed(f"The API key {mask(key)} belongs to {why}.")
            error.log_fields["key_id"] = record.id
            error.log_fields["team_id"] = record.team_id
            raise error
        return team

    async def _admit(
        self,
        record: KeyRecord,
        team: TeamRecord | None,
        key: str,
        images: int,
        cost_nanos: int,
        ckey: str | None,
        window: Window,
        reservation: str,
    ) -> tuple[Decision, KeyRecord, TeamRecord | None]:
        for _ in range(3):
            decision = await self._store.admit(
                AdmitRequest(
                    key_id=record.id,
                    key_version=record.version,
                    limits=record.limits,
                    images=images,
                    reservation_id=reservation,
                    reservation_ttl=self._options.reservation_ttl,
                    window=window,
                    cache_key=ckey,
                    flight_ttl=self._flight.lock_ttl if ckey is not None else None,
                    cost_nanos=cost_nanos,
                    team_id=team.id if team is not None else None,
                    team_version=team.version if team is not None else 0,
                    team_limits=team.limits if team is not None else None,
                )
            )
            if decision.outcome is not Outcome.STALE_KEY:
                return decision, record, team
            # The key or its team changed since they were cached: read both afresh.
            record = await self._keys.reload(record, key)
            team = await self._team_of(record, key, fresh=True)
        raise StoreUnavailable("The key record keeps changing; retry.")

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
                result = self._result(generated, MISS if ckey else BYPASS, prepared.model.id, {})
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
            return self._result(outcome.value, MISS, model, {}), outcome.value.entry
        if outcome.entry is not None:
            age = max(0, int(self._clock() - outcome.entry.stored_at))
            status, cached = stored_answer(outcome.entry.body)
            return GenerationResult(
                cached, status, outcome.entry.images, HIT, model, {"age": str(age)}
            ), None
        assert outcome.value is not None
        return self._result(outcome.value, HIT, model, {"age": "0"}), None

    @staticmethod
    def _result(
        generated: Generated, cache: str, model: str, headers: dict[str, str]
    ) -> GenerationResult:
        return GenerationResult(
            generated.body,
            generated.status,
            generated.images,
            cache,
            model,
            dict(headers),
            generated.upstream_seconds,
            generated.status,
            generated.cost if cache != HIT else None,
        )
