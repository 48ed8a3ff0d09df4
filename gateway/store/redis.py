"""The Redis store: state shared by every replica, one atomic Lua script per decision.

Layout (prefix ``gw:``): ``key:{id}`` JSON record, ``keyver:{id}`` its version,
``keyhash:{hash}`` -> id, ``keys`` zset by creation; ``team:{id}`` JSON record,
``teamver:{id}`` its version, ``teams`` zset by creation, ``teamkeys:{id}`` the set of its
keys that are not revoked. Limit state is kept per subject, a key's id or ``team:{id}``
(:func:`~gateway.store.types.team_subject`): ``tat:{s}:rpm|ipm`` GCRA state;
``q:{s}:d:{day}`` / ``q:{s}:m:{month}`` image quota counters and ``usd:{s}:d:{day}`` /
``usd:{s}:m:{month}`` spend counters in nano-dollars (settled plus reserved); ``res:{s}``
zset of reservations by expiry with details in ``resinfo:{s}``; ``usage:{s}:{day}`` hash
kept 100 days and ``usage:{s}:m:{month}`` (settled images and spend, for alerts),
``active:{day}`` the set of the day's usage hashes; ``cache:{cache key}`` hash;
``flight:*`` single-flight locks; ``alert:*`` claimed alerts.

The scripts that keep the limit state (admission and settlement) are packed and read back
in :mod:`gateway.store.redis_admission`, the cache and its locks are in
:mod:`gateway.store.redis_cache`, the key index (``keyindex``, ``keyentries``) and rotation
in :mod:`gateway.store.redis_keys`; this module holds the records and usage reads and
wires the parts together.

Every Redis call runs under :class:`~gateway.store.redis_errors.guarded`, so Redis
exceptions become storage errors at the boundary and never leave the store.
"""

from __future__ import annotations

import contextlib
from collections.abc import Coroutine, Mapping, Sequence
from importlib import resources
from typing import Any, Self

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from gateway.store.base import Store
from gateway.store.errors import StorageConflict, StorageNotFound
from gateway.store.key_search import KeyPage, KeySearch, index_entries
from gateway.store.pubsub import Subscriber
from gateway.store.redis_admission import RedisAdmission
from gateway.store.redis_cache import RedisCache
from gateway.store.redis_connect import connect
from gateway.store.redis_errors import guarded
from gateway.store.redis_keys import KEY_SCRIPTS, RedisKeyIndex
from gateway.store.resp import PipelinedRedis, Script
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
    Settled,
    TeamRecord,
    Window,
)

SCRIPTS = ("admit", "settle", "release", "put_key", "put_team", "delete_team", *KEY_SCRIPTS)
DAY_USAGE_BATCH = 1000
"""Usage hashes read per round trip by :meth:`RedisStore.usage_of_day`."""


class RedisStore(Store):
    """State in Redis; many gateway processes sharing it behave as one.

    The request path (scripts, cache reads, locks) goes over ``pipe``, which pipelines
    every caller's commands; single-flight waiters share one subscriber connection
    (:mod:`gateway.store.pubsub`); the rest (admin reads, scans) uses redis-py's ``client``.

    Records of keys and teams and usage reads are here; admission and settlement are
    :class:`~gateway.store.redis_admission.RedisAdmission`'s, the cache and single-flight
    :class:`~gateway.store.redis_cache.RedisCache`'s, the key index
    :class:`~gateway.store.redis_keys.RedisKeyIndex`'s. The request path's methods hand
    back their component's coroutine instead of awaiting it in one of their own, so
    delegating costs a request one plain call, not a second coroutine.
    """

    def __init__(
        self, client: aioredis.Redis, pipe: PipelinedRedis, *, prefix: str = "gw:"
    ) -> None:
        self._r = client
        self._pipe = pipe
        self._subscriber = Subscriber(pipe)
        self._p = prefix
        self._scripts: dict[str, Script] = {}
        self._keys = RedisKeyIndex(client, self._run, guarded, prefix)
        self._admission = RedisAdmission(client, pipe, self._scripts, prefix)
        self._cache = RedisCache(client, pipe, self._subscriber, self._scripts, prefix)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        socket_timeout: float = 5.0,
        connect_timeout: float = 5.0,
        prefix: str = "gw:",
    ) -> Self:
        """Both clients for one Redis URL; nothing connects until first use. A URL either
        client could not use raises ValueError naming what is wrong (never the URL)."""
        pipe = PipelinedRedis(url, socket_timeout=socket_timeout, connect_timeout=connect_timeout)
        client = connect(url, socket_timeout=socket_timeout, connect_timeout=connect_timeout)
        return cls(client, pipe, prefix=prefix)

    async def start(self) -> None:
        for name in SCRIPTS:
            text = resources.files("gateway.store").joinpath(f"lua/{name}.lua").read_text()
            self._scripts[name] = Script.of(text, name)

    @property
    def place(self) -> str:
        """Where this store's Redis is, safe to log."""
        return self._pipe.endpoint.place

    async def aclose(self) -> None:
        await self._subscriber.aclose()
        await self._pipe.aclose()
        with contextlib.suppress(RedisError, OSError):
            await self._r.aclose()

    async def _run(self, name: str, keys: list[str], args: list[Any]) -> Any:
        with guarded(name):
            return await self._pipe.evalsha(self._scripts[name], keys, args)

    async def ping(self) -> None:
        with guarded():
            await self._pipe.execute("PING")

    async def server_secret(self, candidate: bytes) -> bytes:
        stored: Any
        with guarded():
            await self._r.set(f"{self._p}secret", candidate.hex(), nx=True)
            stored = await self._r.get(f"{self._p}secret")
        return bytes.fromhex(stored.decode()) if stored else candidate

    async def _put_key(
        self, record: KeyRecord, mode: str, old_hash: str, old_team: str | None
    ) -> str:
        p = self._p
        team = record.team_id or ""
        result = await self._run(
            "put_key",
            [
                f"{p}key:{record.id}",
                f"{p}keyver:{record.id}",
                f"{p}keyhash:{record.key_hash}",
                f"{p}keys",
                f"{p}keyhash:{old_hash}",
                f"{p}teamkeys:{old_team or ''}",
                f"{p}teamkeys:{team}",
                f"{p}team:{team}",
                self._keys.index,
                self._keys.entries,
                self._keys.built,
            ],
            [
                orjson.dumps(record.to_dict()),
                record.version,
                record.id,
                record.created_at,
                mode,
                1 if record.team_id is not None and record.revoked_at is None else 0,
                *index_entries(record),
            ],
        )
        outcome = result.decode() if isinstance(result, bytes) else str(result)
        if outcome == "no_team":
            raise StorageNotFound(f"No team with id {record.team_id!r}.")
        return outcome

    async def insert_key(self, record: KeyRecord) -> None:
        if await self._put_key(record, "insert", record.key_hash, None) == "conflict":
            raise StorageConflict(f"A key with id {record.id!r} or the same secret exists.")

    async def update_key(self, record: KeyRecord) -> None:
        old = await self.get_key(record.id)
        old_hash = old.key_hash if old else record.key_hash
        old_team = old.team_id if old else None
        if await self._put_key(record, "update", old_hash, old_team) == "missing":
            raise StorageNotFound(f"No key with id {record.id!r}.")

    async def rotate_key(self, record: KeyRecord, grace: float) -> None:
        await self._keys.rotate(record, grace)

    async def _put_team(self, record: TeamRecord, mode: str) -> str:
        p = self._p
        result = await self._run(
            "put_team",
            [f"{p}team:{record.id}", f"{p}teamver:{record.id}", f"{p}teams"],
            [orjson.dumps(record.to_dict()), record.version, record.id, record.created_at, mode],
        )
        return result.decode() if isinstance(result, bytes) else str(result)

    async def insert_team(self, record: TeamRecord) -> None:
        if await self._put_team(record, "insert") == "conflict":
            raise StorageConflict(f"A team with id {record.id!r} exists.")

    async def update_team(self, record: TeamRecord) -> None:
        if await self._put_team(record, "update") == "missing":
            raise StorageNotFound(f"No team with id {record.id!r}.")

    async def get_team(self, team_id: str) -> TeamRecord | None:
        with guarded():
            raw = await self._r.get(f"{self._p}team:{team_id}")
        return TeamRecord.from_dict(orjson.loads(raw)) if raw else None

    async def list_teams(self) -> list[TeamRecord]:
        ids: Any
        raws: Any
        with guarded():
            ids = await self._r.zrange(f"{self._p}teams", 0, -1)
            raws = await self._r.mget([f"{self._p}team:{i.decode()}" for i in ids]) if ids else []
        return [TeamRecord.from_dict(orjson.loads(raw)) for raw in raws if raw]

    async def delete_team(self, team_id: str) -> None:
        p = self._p
        result = await self._run(
            "delete_team",
            [f"{p}team:{team_id}", f"{p}teamver:{team_id}", f"{p}teams", f"{p}teamkeys:{team_id}"],
            [team_id],
        )
        outcome = result.decode() if isinstance(result, bytes) else str(result)
        if outcome == "missing":
            raise StorageNotFound(f"No team with id {team_id!r}.")
        if outcome == "in_use":
            raise StorageConflict(f"Team {team_id!r} still has keys that are not revoked.")

    async def claim(self, name: str, ttl: float) -> bool:
        with guarded():
            return bool(
                await self._pipe.execute(
                    "SET", f"{self._p}{name}", 1, "NX", "PX", max(1, int(ttl * 1000))
                )
            )

    async def get_key(self, key_id: str) -> KeyRecord | None:
        with guarded():
            raw = await self._r.get(f"{self._p}key:{key_id}")
        return KeyRecord.from_dict(orjson.loads(raw)) if raw else None

    async def find_key(self, key_hash: str) -> KeyRecord | None:
        """The record the hash index points to, if that record still names the hash (the
        index of a previous hash lives as long as its grace period)."""
        key_id: Any
        with guarded():
            key_id = await self._r.get(f"{self._p}keyhash:{key_hash}")
        record = await self.get_key(key_id.decode()) if key_id else None
        if record is None or key_hash in (record.key_hash, record.previous_hash):
            return record
        return None

    async def search_keys(self, search: KeySearch) -> KeyPage:
        return await self._keys.search(search)

    async def key_counts(self, now: float) -> dict[str, int]:
        return await self._keys.counts(now)

    async def list_keys(self) -> list[KeyRecord]:
        ids: Any
        raws: Any
        with guarded():
            ids = await self._r.zrange(f"{self._p}keys", 0, -1)
            raws = await self._r.mget([f"{self._p}key:{i.decode()}" for i in ids]) if ids else []
        return [KeyRecord.from_dict(orjson.loads(raw)) for raw in raws if raw]

    def admit(self, request: AdmitRequest) -> Coroutine[Any, Any, Decision]:
        return self._admission.admit(request)

    def settle(
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
    ) -> Coroutine[Any, Any, Settled]:
        return self._admission.settle(
            key_id,
            reservation_id,
            images,
            window,
            usage,
            limits,
            cache=cache,
            flight=flight,
            retry=retry,
            cost_nanos=cost_nanos,
            team_id=team_id,
            team_limits=team_limits,
        )

    def limit_states(
        self, key_id: str, limits: Limits, window: Window
    ) -> Coroutine[Any, Any, dict[str, LimitState]]:
        return self._admission.limit_states(key_id, limits, window)

    async def usage(self, key_id: str, days: Sequence[str]) -> list[DailyUsage]:
        with guarded():
            async with self._r.pipeline(transaction=False) as pipe:
                for day in days:
                    pipe.hgetall(f"{self._p}usage:{key_id}:{day}")
                rows = await pipe.execute()
        return [
            DailyUsage(day, {k.decode(): int(v) for k, v in row.items()})
            for day, row in zip(days, rows, strict=True)
        ]

    async def usage_of_day(self, day: str) -> dict[str, dict[str, int]]:
        head, tail = f"{self._p}usage:", f":{day}"
        found: dict[str, dict[str, int]] = {}
        with guarded():
            members: Any = await self._r.smembers(f"{self._p}active:{day}")
            names = sorted(member.decode() for member in members)
            for start in range(0, len(names), DAY_USAGE_BATCH):
                batch = names[start : start + DAY_USAGE_BATCH]
                async with self._r.pipeline(transaction=False) as pipe:
                    for name in batch:
                        pipe.hgetall(name)
                    rows = await pipe.execute()
                for name, row in zip(batch, rows, strict=True):
                    if row and name.startswith(head) and name.endswith(tail):
                        subject = name[len(head) : -len(tail)]
                        found[subject] = {k.decode(): int(v) for k, v in row.items()}
        return found

    def cache_get(self, cache_key: str, now: float) -> Coroutine[Any, Any, CacheEntry | None]:
        return self._cache.cache_get(cache_key, now)

    def cache_put(self, cache_key: str, entry: CacheEntry, now: float) -> Coroutine[Any, Any, None]:
        return self._cache.cache_put(cache_key, entry, now)

    def cache_purge(self, prefix: str | None = None) -> Coroutine[Any, Any, int]:
        return self._cache.cache_purge(prefix)

    def cache_stats(self) -> Coroutine[Any, Any, CacheStats]:
        return self._cache.cache_stats()

    def flight_acquire(self, name: str, token: str, ttl: float) -> Coroutine[Any, Any, bool]:
        return self._cache.flight_acquire(name, token, ttl)

    def flight_release(self, name: str, token: str) -> Coroutine[Any, Any, None]:
        return self._cache.flight_release(name, token)

    def flight_wait(self, name: str, timeout: float) -> Coroutine[Any, Any, bool]:
        return self._cache.flight_wait(name, timeout)
