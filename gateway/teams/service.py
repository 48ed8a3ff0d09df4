"""Team records: the admin operations, and the cached lookup the request path uses.

The request path reads a key's team on every image request, so records are cached
in-process for ``cache_seconds`` like key records; the admission step compares the cached
team version with the store's in the same round trip, so disabling a team or changing its
limits takes effect on the next request on every replica. Concurrent lookups of one team
share a single store read.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from gateway.errors import Conflict, InvalidRequest, NotFound
from gateway.observability.clock import Clock
from gateway.store.base import Store
from gateway.store.errors import StorageConflict, StorageNotFound
from gateway.store.shared_reads import SharedReads
from gateway.store.types import KeyRecord, Limits, TeamRecord

MAX_CACHED = 10_000
ID_FORMAT = re.compile(r"team_[0-9a-f]{16}")


def generate_id() -> str:
    """A public identifier for a team; every team's id has this form (:data:`ID_FORMAT`)."""
    return "team_" + secrets.token_hex(8)


class TeamService:
    """Manages team records in the store and looks a key's team up for the request path."""

    def __init__(self, store: Store, clock: Clock, *, cache_seconds: float = 2.0) -> None:
        self._store = store
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, TeamRecord | None]] = {}
        self._lookups: SharedReads[str, TeamRecord | None] = SharedReads(store.get_team)

    async def create(
        self,
        name: str,
        *,
        limits: dict[str, int | None] | None = None,
        models: Iterable[str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> TeamRecord:
        """Create a team (its limits unlimited unless given)."""
        record = TeamRecord(
            id=generate_id(),
            name=name,
            created_at=self._clock(),
            limits=Limits(**(limits or {})),
            models=tuple(models) if models is not None else None,
            metadata=dict(metadata or {}),
        )
        await self._store.insert_team(record)
        return record

    async def get(self, team_id: str) -> TeamRecord:
        """The team with this id, or NotFound (404)."""
        record = await self._store.get_team(team_id)
        if record is None:
            raise NotFound(f"No team with id {team_id!r}.", param="id")
        return record

    async def existing(self, team_id: str) -> TeamRecord:
        """The team a key is being put in, or a 400 naming ``team_id``."""
        record = await self._store.get_team(team_id)
        if record is None:
            raise InvalidRequest(
                f"No team with id {team_id!r}: GET /admin/teams lists them.", param="team_id"
            )
        return record

    async def list(self) -> list[TeamRecord]:
        """Every team, oldest first."""
        return await self._store.list_teams()

    async def update(self, team_id: str, changes: dict[str, Any]) -> TeamRecord:
        """Apply admin changes (name, limits, models, disabled, metadata) to a team."""
        record = await self.get(team_id)
        limits = {**record.limits.as_dict(), **changes.pop("limits", {})}
        models = changes.pop("models", record.models)
        updated = replace(
            record,
            **changes,
            models=tuple(models) if models is not None else None,
            limits=Limits(**limits),
            version=record.version + 1,
        )
        try:
            await self._store.update_team(updated)
        except StorageNotFound:
            raise NotFound(f"No team with id {team_id!r}.", param="id") from None
        self._cache.pop(team_id, None)
        return updated

    async def delete(self, team_id: str) -> TeamRecord:
        """Delete a team that no live key needs any more; 409 while one does."""
        record = await self.get(team_id)
        try:
            await self._store.delete_team(team_id)
        except StorageNotFound:
            raise NotFound(f"No team with id {team_id!r}.", param="id") from None
        except StorageConflict:
            raise Conflict(
                f"Team {team_id!r} still has keys that are not revoked: revoke them or move "
                "them out of the team (PATCH /admin/keys/{id} with team_id) first.",
                param="id",
            ) from None
        self._cache.pop(team_id, None)
        return record

    async def of_key(self, record: KeyRecord, *, fresh: bool = False) -> TeamRecord | None:
        """The team of a key (None for a key in no team, or whose team is gone), from the
        in-process cache unless ``fresh``."""
        team_id = record.team_id
        if team_id is None:
            return None
        if not fresh:
            hit = self._cache.get(team_id)
            if hit is not None and hit[0] > self._clock():
                return hit[1]
        else:
            self._cache.pop(team_id, None)
        team = await (self._store.get_team(team_id) if fresh else self._lookups.read(team_id))
        if self._cache_seconds > 0:
            if len(self._cache) > MAX_CACHED:
                self._cache.clear()
            self._cache[team_id] = (self._clock() + self._cache_seconds, team)
        return team
