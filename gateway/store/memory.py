"""The embedded store: decisions in process memory, durable state in a SQLite database.

Every decision (admission, settlement, cache, locks) runs without awaiting, so each is
atomic on the event loop and touches no disk. What must survive a restart is written by
the database's writer thread (:mod:`gateway.store.embedded`), never on the loop: a key, a
team or the server secret before the call that changes it returns; quota and spend
counters and daily usage once a second (a ``kill -9`` loses at most that second of
counting). Reservations, per-minute limits, the cache, single-flight locks and alert
claims stay in memory: a restart gives reservations back and frees locks, as their expiry
would (settled use survives, so a threshold crossed before is not crossed again). Counters
and usage expire on the Redis store's schedule (``USAGE_TTL``; a day or month and its
grace period), in memory and on disk. A second process on the same path is refused with
:class:`~gateway.store.errors.StorageLocked`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from gateway.store.base import Store
from gateway.store.embedded.cache import FlightLocks, LruCache
from gateway.store.embedded.changes import RecordChanges
from gateway.store.embedded.counters import Counters
from gateway.store.embedded.database import Database, Loaded
from gateway.store.embedded.records import Records
from gateway.store.embedded.writes import Writes
from gateway.store.errors import StorageNotFound, StorageUnavailable
from gateway.store.key_search import (
    KeyPage,
    KeySearch,
    collect,
    counted,
    status_ranges,
    stretch_of,
)
from gateway.store.types import (
    AdmitRequest,
    CacheEntry,
    CacheStats,
    CacheWrite,
    DailyUsage,
    Decision,
    KeyRecord,
    Limits,
    LimitState,
    Outcome,
    Settled,
    TeamRecord,
    Window,
    flight_lock,
)

FLUSH_EVERY = 1.0
PRUNE_EVERY = 60.0


class MemoryStore(Store):
    """Single-process state; see the module docstring for what survives a restart.

    ``path`` is the database file (None keeps everything in memory, for tests);
    ``busy_timeout`` is how long a write waits for another connection's lock on the
    database before it fails with StorageUnavailable.
    """

    def __init__(
        self,
        path: Path | None,
        *,
        cache_max_bytes: int,
        clock: Callable[[], float] = time.time,
        busy_timeout: float = 5.0,
    ) -> None:
        self._db = Database(path, busy_timeout=busy_timeout)
        self._clock = clock
        self._records = Records(clock)
        self._writes = Writes(self._db)
        self._changes = RecordChanges(self._records, self._db, self._writes)
        self._claims: dict[str, float] = {}
        self._secret: bytes | None = None
        self._counters = Counters()
        self._cache = LruCache(cache_max_bytes)
        self._locks = FlightLocks(clock)
        self._closing: asyncio.Event | None = None
        self._persister: asyncio.Task[None] | None = None
        self._flushing = asyncio.Lock()

    @property
    def database(self) -> Database:
        """The store's database: its ``path`` (a configured ``.json`` path means the ``.db``
        beside it), and the writer thread other embedded components (the journals) run
        their own tables' jobs on, so that one process has one writer and one lock."""
        return self._db

    def open(self) -> None:
        """Lock the path and read the durable state now, synchronously.

        :meth:`start` does it on the writer thread when nobody did before; the CLI calls
        it before serving, so that a store another process holds (or a database that
        cannot be read) stops start-up with one line instead of a failed lifespan.
        """
        if not self._db.is_open:
            self._apply(self._db.open(self._clock()))

    def _apply(self, loaded: Loaded) -> None:
        self._records.load(loaded.keys, loaded.teams)
        self._secret = loaded.secret
        self._counters.load(loaded.quota)

    async def start(self) -> None:
        if not self._db.is_open:
            self._apply(await self._db.call(self._db.open, self._clock()))
        self._closing = asyncio.Event()
        self._persister = asyncio.create_task(self._persist())

    async def aclose(self) -> None:
        if self._persister is not None and self._closing is not None:
            self._closing.set()
            await self._persister
            self._persister = None
        await self._writes.drain()
        if self._db.is_open:
            await self._db.shutdown()

    async def _persist(self) -> None:
        """Flush on a fixed beat (every ``FLUSH_EVERY`` s from start, not after the last
        flush ends, so that a slow flush does not widen what a crash can lose)."""
        assert self._closing is not None
        loop = asyncio.get_running_loop()
        beat = loop.time()
        prune_at = beat + PRUNE_EVERY
        while True:
            beat = max(beat + FLUSH_EVERY, loop.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), beat - loop.time())
            await self.flush()
            if self._closing.is_set():
                return
            if loop.time() >= prune_at:
                prune_at = loop.time() + PRUNE_EVERY
                await self.prune()

    async def flush(self) -> None:
        """Write the counters changed since the last flush (done every second).

        A failed write keeps them for the next one, and makes :meth:`ping` fail until a
        write succeeds again.
        """
        async with self._flushing:
            batch = self._counters.take_flush()
            if batch is None:
                if self._writes.failure is not None:
                    await self._writes.attempt(self._db.probe)
                return
            rows = await batch.encode()
            self._counters.handed_over()
            if not await self._writes.attempt(self._db.flush, rows):
                self._counters.restore(batch)

    async def prune(self) -> None:
        """Drop expired counters, usage, reservations and locks (done every minute)."""
        now = self._clock()
        await self._counters.prune(now)
        self._locks.prune()
        self._records.forget_ended_graces()
        await self._writes.attempt(self._db.prune, now)

    async def ping(self) -> None:
        failure = self._writes.failure
        if failure is not None:
            raise StorageUnavailable(failure.message)

    async def server_secret(self, candidate: bytes) -> bytes:
        if self._secret is None:

            async def store() -> None:
                self._secret = await self._writes.run(self._db.server_secret, candidate)

            await self._writes.durably(store())
        assert self._secret is not None
        return self._secret

    async def insert_key(self, record: KeyRecord) -> None:
        await self._changes.insert_key(record)

    async def update_key(self, record: KeyRecord) -> None:
        await self._changes.update_key(record)

    async def rotate_key(self, record: KeyRecord, grace: float) -> None:
        await self._changes.rotate_key(record)

    async def insert_team(self, record: TeamRecord) -> None:
        await self._changes.insert_team(record)

    async def update_team(self, record: TeamRecord) -> None:
        await self._changes.update_team(record)

    async def get_team(self, team_id: str) -> TeamRecord | None:
        return self._records.teams.get(team_id)

    async def list_teams(self) -> list[TeamRecord]:
        return sorted(self._records.teams.values(), key=lambda r: r.created_at)

    async def delete_team(self, team_id: str) -> None:
        await self._changes.delete_team(team_id)

    async def claim(self, name: str, ttl: float) -> bool:
        now = self._clock()
        if self._claims.get(name, 0.0) > now:
            return False
        if len(self._claims) > 100_000:
            self._claims = {k: v for k, v in self._claims.items() if v > now}
        self._claims[name] = now + ttl
        return True

    async def get_key(self, key_id: str) -> KeyRecord | None:
        return self._records.keys.get(key_id)

    async def find_key(self, key_hash: str) -> KeyRecord | None:
        return self._records.find(key_hash)

    async def list_keys(self) -> list[KeyRecord]:
        return sorted(self._records.keys.values(), key=lambda r: r.created_at)

    async def search_keys(self, search: KeySearch) -> KeyPage:
        keys = self._records.keys
        cursor = None
        if search.after is not None:
            cursor = keys.get(search.after)
            if cursor is None:
                raise StorageNotFound(f"No key with id {search.after!r}.")
        return await collect(self._records.index.read(stretch_of(search, cursor), keys), search)

    async def key_counts(self, now: float) -> dict[str, int]:
        records = self._records
        return counted(
            len(records.keys),
            {s: records.index.count(*span) for s, span in status_ranges(now).items()},
        )

    async def admit(self, request: AdmitRequest) -> Decision:
        records = self._records
        record = records.keys.get(request.key_id)
        if record is None or record.version != request.key_version:
            return Decision(Outcome.STALE_KEY)
        if request.team_id is not None:
            team = records.teams.get(request.team_id)
            if team is None or team.version != request.team_version:
                return Decision(Outcome.STALE_KEY)
        cache_key = request.cache_key
        entry = self._cache.get(cache_key, request.window.now) if cache_key is not None else None
        decision = self._counters.admit(request, entry)
        if (
            decision.outcome is Outcome.ADMITTED
            and cache_key is not None
            and request.flight_ttl is not None
        ):
            decision.leader = self._locks.take(
                flight_lock(cache_key), request.reservation_id, request.flight_ttl
            )
        return decision

    async def settle(
        self,
        key_id: str,
        reservation_id: str,
        images: int,
        window: Window,
        usage: Mapping[str, int] | None = None,
        limits: Limits | None = None,
        *,
        cache: CacheWrite | None = None,
        flight: str | None = None,
        retry: bool = False,
        cost_nanos: int = 0,
        team_id: str | None = None,
        team_limits: Limits | None = None,
    ) -> Settled:
        settled = self._counters.settle(
            key_id,
            reservation_id,
            images,
            window,
            usage,
            limits,
            retry,
            cost_nanos,
            team_id,
            team_limits,
        )
        if settled is None:
            return Settled()
        if cache is not None:
            self._cache.put(cache.key, cache.entry, window.now)
        if flight is not None:
            self._locks.release(flight, reservation_id)
        return settled

    async def limit_states(
        self, key_id: str, limits: Limits, window: Window
    ) -> dict[str, LimitState]:
        return self._counters.states(key_id, limits, window)

    async def usage(self, key_id: str, days: Sequence[str]) -> list[DailyUsage]:
        wanted, now = list(days), self._clock()
        pending = self._counters.pending(key_id, wanted, now)
        stored = await self._db.call(self._db.usage, key_id, wanted, now)
        found = []
        for day in wanted:
            counters = dict(stored.get(day, {}))
            for name, value in pending.get(day, {}).items():
                counters[name] = counters.get(name, 0) + value
            found.append(DailyUsage(day, counters))
        return found

    async def usage_of_day(self, day: str) -> dict[str, dict[str, int]]:
        now = self._clock()
        pending = self._counters.pending_day(day, now)
        found = await self._db.call(self._db.usage_of_day, day, now)
        for subject, counts in pending.items():
            row = found.setdefault(subject, {})
            for name, value in counts.items():
                row[name] = row.get(name, 0) + value
        return found

    async def cache_get(self, cache_key: str, now: float) -> CacheEntry | None:
        return self._cache.get(cache_key, now)

    async def cache_put(self, cache_key: str, entry: CacheEntry, now: float) -> None:
        self._cache.put(cache_key, entry, now)

    async def cache_purge(self, prefix: str | None = None) -> int:
        return self._cache.purge(prefix)

    async def cache_stats(self) -> CacheStats:
        return self._cache.stats()

    async def flight_acquire(self, name: str, token: str, ttl: float) -> bool:
        return self._locks.take(name, token, ttl)

    async def flight_release(self, name: str, token: str) -> None:
        self._locks.release(name, token)

    async def flight_wait(self, name: str, timeout: float) -> bool:
        return await self._locks.wait(name, timeout)
