"""Settling a reservation: now, or retried in the background while the store is down.

A settlement lost to a store outage would let the reservation expire and give back images
that were really generated; retrying keeps the count exact. Retries are marked as such (the
lost attempt may have run, and must not count twice) and stop when the reservation expires:
a reservation no longer held is then known to have been closed by the lost attempt.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.alerts.events import Subject
from gateway.alerts.monitor import AlertMonitor
from gateway.observability.clock import Clock
from gateway.store.base import Store
from gateway.store.errors import StorageUnavailable
from gateway.store.types import CacheWrite, KeyRecord, Settled, TeamRecord, Window

log = logging.getLogger("gateway.generation")

MAX_PENDING = 10_000


@dataclass(slots=True)
class Settlement:
    """What one reservation is closed with: the images really generated and what the call
    was charged (nano-dollars), the usage counters to add, and the single-flight lock to
    free in the same step. ``team`` is the key's team the reservation was made with."""

    record: KeyRecord
    team: TeamRecord | None
    reservation: str
    window: Window
    images: int = 0
    cost_nanos: int = 0
    usage: dict[str, int] = field(default_factory=dict)
    lock: str | None = None


Watch = Callable[["Settlement", Settled], None]
"""Told of every settlement that took effect, with the settled use it left (alerts)."""


def alerting(monitor: AlertMonitor) -> Watch:
    """What tells ``monitor`` of each settlement, for the key and for its team."""

    def watch(done: Settlement, settled: Settled) -> None:
        window = done.window
        windows = {
            "day": (window.day, window.day_ends_in),
            "month": (window.month, window.month_ends_in),
        }
        added = {"images": done.images, "spend_nanos": done.cost_nanos}
        if settled.key is not None:
            key = done.record
            subject = Subject("key", key.id, key.name)
            monitor.settled(subject, key.limits.as_dict(), settled.key, added, windows)
        if settled.team is not None and done.team is not None:
            team = done.team
            subject = Subject("team", team.id, team.name)
            monitor.settled(subject, team.limits.as_dict(), settled.team, added, windows)

    return watch


class Settler:
    """Closes reservations; at most ``max_pending`` wait for a store that is down (a long
    outage under load must not grow without bound: past that, the reservation's own
    expiry gives its images back). ``watch`` hears of every settlement that took effect."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        reservation_ttl: float,
        *,
        max_pending: int = MAX_PENDING,
        watch: Watch | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._ttl = reservation_ttl
        self._max_pending = max_pending
        self._watch = watch
        self._pending: set[asyncio.Task[None]] = set()

    async def settle(self, done: Settlement, write: CacheWrite | None = None) -> None:
        """Settle now (storing the answer ``write`` and freeing the lock in the same step),
        or keep retrying in the background while the store is down."""
        try:
            await self._attempt(done, write, retry=False)
        except StorageUnavailable:
            log.warning("store unavailable: settlement will be retried")
            self.later(done)

    async def _attempt(self, done: Settlement, write: CacheWrite | None, *, retry: bool) -> None:
        team = done.team
        settled = await self._store.settle(
            done.record.id,
            done.reservation,
            done.images,
            done.window,
            done.usage,
            done.record.limits,
            cache=write,
            flight=done.lock,
            retry=retry,
            cost_nanos=done.cost_nanos,
            team_id=team.id if team is not None else None,
            team_limits=team.limits if team is not None else None,
        )
        if self._watch is not None:
            self._watch(done, settled)

    def later(self, done: Settlement) -> None:
        """Retry ``done`` in the background until the store answers or it expires."""
        if len(self._pending) >= self._max_pending:
            return
        task = asyncio.create_task(self._retry(done))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _retry(self, done: Settlement) -> None:
        delay = 0.2
        loop = asyncio.get_running_loop()
        left = self._ttl - (self._clock() - done.window.now)
        deadline = loop.time() + left
        while loop.time() + delay < deadline:
            await asyncio.sleep(delay)
            try:
                await self._attempt(done, None, retry=True)
            except StorageUnavailable:
                delay = min(5.0, delay * 2)
                continue
            return
        log.error(
            "could not settle a reservation before it expired",
            extra={"fields": {"key_id": done.record.id, "images": done.images}},
        )
