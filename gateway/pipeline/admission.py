"""Letting one request in: the key's and its team's allow-lists, then the store's admission.

The store decides in one atomic step (:meth:`gateway.store.base.Store.admit`: the key's and
the team's limits, quotas and budgets, and the cache lookup together), on the key and team
versions the caller read; a stale one is read afresh and the step retried. A key whose team
is disabled or gone is refused like a disabled key. Kept apart from the rest of the
pipeline (:mod:`gateway.pipeline.generation`) because it is the one place that knows which
records a reservation is made against, and whether a store outage may admit uncounted.
The window, the limit headers and the refusals are :mod:`gateway.limits.admission`'s.
"""

from __future__ import annotations

from gateway.errors import AuthenticationFailed, PermissionDenied, StoreUnavailable
from gateway.keys.material import mask
from gateway.keys.service import KeyService
from gateway.models.spec import ModelSpec
from gateway.store.base import Store
from gateway.store.types import (
    WINDOW_LIMITS,
    AdmitRequest,
    Decision,
    KeyRecord,
    Outcome,
    TeamRecord,
    Window,
)
from gateway.teams.service import TeamService


class Admission:
    """Admits requests against their key's (and team's) current records; everything it
    touches is passed in. ``flight_ttl`` is the single-flight lock an admission takes with
    a cache lookup; ``fail_open`` whether a store outage may admit a request uncounted."""

    def __init__(
        self,
        *,
        store: Store,
        keys: KeyService,
        teams: TeamService,
        reservation_ttl: float,
        flight_ttl: float,
        fail_open: bool,
    ) -> None:
        self._store = store
        self._keys = keys
        self._teams = teams
        self._reservation_ttl = reservation_ttl
        self._flight_ttl = flight_ttl
        self._fail_open = fail_open

    @staticmethod
    def check_model(model: ModelSpec, record: KeyRecord, team: TeamRecord | None) -> None:
        """Refuse (403) a model the key's allow-list, or its team's, does not name."""
        if record.models is not None and not model.named_in(record.models):
            raise PermissionDenied(f"This key may not use the model {model.id!r}.", param="model")
        narrowed = team.models if team is not None else None
        if narrowed is not None and not model.named_in(narrowed):
            raise PermissionDenied(
                f"This key's team may not use the model {model.id!r}.", param="model"
            )

    def may_fail_open(self, record: KeyRecord, team: TeamRecord | None) -> bool:
        """Whether a store outage may admit this request uncounted: only with fail-open on,
        and no day or month quota or budget on the key or its team."""
        if not self._fail_open:
            return False
        every = (record.limits, team.limits) if team is not None else (record.limits,)
        return all(getattr(limits, name) is None for limits in every for name in WINDOW_LIMITS)

    async def team_of(
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

    async def admit(
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
        """The store's decision, and the key and team records it was made on."""
        for _ in range(3):
            decision = await self._store.admit(
                AdmitRequest(
                    key_id=record.id,
                    key_version=record.version,
                    limits=record.limits,
                    images=images,
                    reservation_id=reservation,
                    reservation_ttl=self._reservation_ttl,
                    window=window,
                    cache_key=ckey,
                    flight_ttl=self._flight_ttl if ckey is not None else None,
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
            team = await self.team_of(record, key, fresh=True)
        raise StoreUnavailable("The key record keeps changing; retry.")
