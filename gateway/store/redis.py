"""The Redis store: state shared by every replica, one atomic Lua script per decision.

Layout (prefix ``gw:``): ``key:{id}`` JSON record, ``keyver:{id}`` its version,
``keyhash:{hash}`` -> id, ``keys`` zset by creation; ``team:{id}`` JSON record,
``teamver:{id}`` its version, ``teams`` zset by creation, ``teamkeys:{id}`` the set of its
keys that are not revoked. Limit state is kept per subject, a key's id or ``team:{id}``
(:func:`team_subject`): ``tat:{s}:rpm|ipm`` GCRA state; ``q:{s}:d:{day}`` /
``q:{s}:m:{month}`` image quota counters and ``usd:{s}:d:{day}`` / ``usd:{s}:m:{month}``
spend counters in nano-dollars (settled plus reserved); ``res:{s}`` zset of reservations
by expiry with details in ``resinfo:{s}``; ``usage:{s}:{day}`` hash kept 100 days and
``usage:{s}:m:{month}`` (settled images and spend, for alerts); ``cache:{cache key}``
hash; ``flight:*`` single-flight locks; ``alert:*`` claimed alerts. The key index
(``keyindex``, ``keyentries``) and rotation are in :mod:`gateway.store.redis_keys`.

Every Redis call runs under :class:`~gateway.store.redis_errors.guarded`, so Redis
exceptions become storage errors at the boundary and never leave the store.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any, Self

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from gateway.store import gcra
from gateway.store.base import Store
from gateway.store.errors import StorageConflict, StorageNotFound
from gateway.store.key_search import KeyPage, KeySearch, index_entries
from gateway.store.pubsub import Subscriber
from gateway.store.redis_connect import connect
from gateway.store.redis_errors import guarded
from gateway.store.redis_keys import KEY_SCRIPTS, RedisKeyIndex
from gateway.store.resp import Bulks, PipelinedRedis, Script, bulks
from gateway.store.types import (
    SETTLED_FIELDS,
    USAGE_TTL,
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
    team_subject,
)

OUTCOMES = {outcome.value.encode(): outcome for outcome in Outcome}
SCRIPTS = ("admit", "settle", "release", "put_key", "put_team", "delete_team", *KEY_SCRIPTS)


def _limit(value: int | None) -> int:
    return -1 if value is None else value


def _state(limit: bytes, remaining: bytes, reset: bytes) -> LimitState | None:
    if not limit:
        return None
    return LimitState(int(float(limit)), int(float(remaining)), float(reset))


def _limits(limits: Limits) -> list[int]:
    """A subject's limits as the scripts take them (-1 for unlimited), in their order."""
    return [
        _limit(limits.rpm),
        _limit(limits.images_per_minute),
        _limit(limits.images_per_day),
        _limit(limits.images_per_month),
        _limit(limits.usd_per_day),
        _limit(limits.usd_per_month),
    ]


def _settled(values: list[Any], offset: int) -> dict[str, int]:
    images_day, spend_day, images_month, spend_month = SETTLED_FIELDS
    return {
        images_day: int(values[offset]),
        spend_day: int(values[offset + 1]),
        images_month: int(values[offset + 2]),
        spend_month: int(values[offset + 3]),
    }


DAY_USAGE_BATCH = 1000
"""Usage hashes read per round trip by :meth:`RedisStore.usage_of_day`."""


class RedisStore(Store):
    """State in Redis; many gateway processes sharing it behave as one.

    The request path (scripts, cache reads, locks) goes over ``pipe``, which pipelines
    every caller's commands; single-flight waiters share one subscriber connection
    (:mod:`gateway.store.pubsub`); the rest (admin reads, scans) uses redis-py's ``client``.
    """

    def __init__(
        self, client: aioredis.Redis, pipe: PipelinedRedis, *, prefix: str = "gw:"
    ) -> None:
        self._r = client
        self._pipe = pipe
        self._subscriber = Subscriber(pipe)
        self._admitting = guarded("admit")
        self._p = prefix
        self._scripts: dict[str, Script] = {}
        self._admit_packed: dict[tuple[Any, ...], tuple[Bulks, Bulks]] = {}
        self._keys = RedisKeyIndex(client, self._run, guarded, prefix)
        self._settle_packed: dict[tuple[str, str | None, str, str], Bulks] = {}

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

    def _limit_keys(self, subject: str, window: Window) -> list[str]:
        """A subject's GCRA state and day and month counters (images, then spend)."""
        p = self._p
        return [
            f"{p}tat:{subject}:rpm",
            f"{p}tat:{subject}:ipm",
            f"{p}q:{subject}:d:{window.day}",
            f"{p}q:{subject}:m:{window.month}",
            f"{p}usd:{subject}:d:{window.day}",
            f"{p}usd:{subject}:m:{window.month}",
        ]

    def _subjects(self, request: AdmitRequest) -> list[tuple[str, str, int, Limits]]:
        """(subject, version key, version, limits) of the key and of its team."""
        p = self._p
        found = [
            (request.key_id, f"{p}keyver:{request.key_id}", request.key_version, request.limits)
        ]
        if request.team_id is not None:
            found.append(
                (
                    team_subject(request.team_id),
                    f"{p}teamver:{request.team_id}",
                    request.team_version,
                    request.team_limits or Limits(),
                )
            )
        return found

    def _admit_parts(self, request: AdmitRequest) -> tuple[Bulks, Bulks]:
        """The packed parts of an admission that stay the same for a key, its team, their
        limits and a quota day: the command, script and key names before the per-request
        names, and the arguments after the per-request ones. Worked out once per key (and
        team) and day."""
        w = request.window
        ident = (
            request.key_id,
            request.key_version,
            request.limits,
            request.team_id,
            request.team_version,
            request.team_limits,
            request.reservation_ttl,
            w.day,
            w.month,
        )
        found = self._admit_packed.get(ident)
        if found is None:
            if len(self._admit_packed) > 10_000:
                self._admit_packed.clear()
            p = self._p
            subjects = self._subjects(request)
            names: list[str] = []
            args: list[Any] = [len(subjects), request.reservation_ttl, w.day, w.month, USAGE_TTL]
            for subject, version_key, version, limits in subjects:
                names += [
                    version_key,
                    *self._limit_keys(subject, w),
                    f"{p}res:{subject}",
                    f"{p}resinfo:{subject}",
                    f"{p}usage:{subject}:{w.day}",
                ]
                args += [version, *_limits(limits)]
            names.append(f"{p}active:{w.day}")
            found = self._admit_packed[ident] = (
                bulks("EVALSHA", self._scripts["admit"].sha, len(names) + 2, *names),
                bulks(*args),
            )
        return found

    async def admit(self, request: AdmitRequest) -> Decision:
        p, w = self._p, request.window
        before, after = self._admit_parts(request)
        lock_ms = 0
        if request.cache_key and request.flight_ttl is not None:
            lock_ms = max(1, int(request.flight_ttl * 1000))
        per_request = bulks(
            f"{p}cache:{request.cache_key or ''}",
            f"{p}{flight_lock(request.cache_key or '')}",
            repr(w.now),
            request.images,
            request.reservation_id,
            repr(w.day_ends_in),
            repr(w.month_ends_in),
            1 if request.cache_key else 0,
            lock_ms,
            request.cost_nanos,
        )
        with self._admitting:
            reply: Any = await self._pipe.evalsha_packed(
                self._scripts["admit"], before, per_request, after
            )
        outcome = OUTCOMES[reply[0]]
        if outcome is Outcome.STALE_KEY:
            return Decision(outcome)
        retry = float(reply[2])
        cached = None
        if outcome is Outcome.HIT:
            cached = CacheEntry(
                body=reply[11],
                stored_at=float(reply[12]),
                expires_at=float(reply[13]),
                images=int(reply[14]),
            )
        return Decision(
            outcome,
            refused_by=reply[1].decode() or None,
            refused_level=reply[10].decode() or None,
            retry_after=None if retry < 0 else retry,
            requests=_state(*reply[3:6]),
            images=_state(*reply[6:9]),
            cached=cached,
            leader=reply[9] == b"1",
        )

    def _settle_names(self, key_id: str, team_id: str | None, window: Window) -> Bulks:
        """The packed head of a settlement, ``EVALSHA`` to the subjects' key names: the same
        for a key, its team and a day, so worked out once per key (and team) and day."""
        ident = (key_id, team_id, window.day, window.month)
        found = self._settle_packed.get(ident)
        if found is None:
            if len(self._settle_packed) > 10_000:
                self._settle_packed.clear()
            p = self._p
            subjects = [key_id] if team_id is None else [key_id, team_subject(team_id)]
            names: list[str] = []
            for subject in subjects:
                counters = self._limit_keys(subject, window)
                names += [
                    f"{p}res:{subject}",
                    f"{p}resinfo:{subject}",
                    *counters[1:],
                    f"{p}usage:{subject}:{window.day}",
                    f"{p}usage:{subject}:m:{window.month}",
                ]
            names.append(f"{p}active:{window.day}")
            found = self._settle_packed[ident] = bulks(
                "EVALSHA", self._scripts["settle"].sha, len(names) + 2, *names
            )
        return found

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
        write: list[Any] = [0, "", "", "", 0]
        if cache is not None:
            entry = cache.entry
            ttl_ms = int((entry.expires_at - window.now) * 1000)
            if ttl_ms > 0:
                write = [
                    ttl_ms,
                    entry.body,
                    repr(entry.stored_at),
                    repr(entry.expires_at),
                    entry.images,
                ]
        per_minute = [_limit(limits.images_per_minute if limits else None)]
        if team_id is not None:
            per_minute.append(_limit(team_limits.images_per_minute if team_limits else None))
        extra: list[Any] = []
        for name, value in (usage or {}).items():
            extra += [name, value]
        p = self._p
        per_request = bulks(
            f"{p}cache:{cache.key if cache else ''}",
            f"{p}{flight or ''}",
            reservation_id,
            images,
            repr(window.now),
            window.day,
            window.month,
            repr(window.day_ends_in),
            repr(window.month_ends_in),
            USAGE_TTL,
            *write,
            1 if flight else 0,
            1 if retry else 0,
            cost_nanos,
            len(per_minute),
            *per_minute,
            *extra,
        )
        script = self._scripts["settle"]
        with guarded("settle"):
            reply = await self._pipe.evalsha_packed(
                script, self._settle_names(key_id, team_id, window), per_request
            )
        if not reply:
            return Settled()
        return Settled(_settled(reply, 0), _settled(reply, 4) if team_id is not None else None)

    async def limit_states(
        self, key_id: str, limits: Limits, window: Window
    ) -> dict[str, LimitState]:
        with guarded():
            raw = await self._r.mget(self._limit_keys(key_id, window))
        now = window.now
        states: dict[str, LimitState] = {}
        for name, value in (("rpm", raw[0]), ("images_per_minute", raw[1])):
            limit = getattr(limits, name)
            if limit is not None:
                left, reset = gcra.remaining(float(value) if value else now, now, limit)
                states[name] = LimitState(limit, left, reset)
        for name, value, ends in (
            ("images_per_day", raw[2], window.day_ends_in),
            ("images_per_month", raw[3], window.month_ends_in),
            ("usd_per_day", raw[4], window.day_ends_in),
            ("usd_per_month", raw[5], window.month_ends_in),
        ):
            limit = getattr(limits, name)
            if limit is not None:
                states[name] = LimitState(limit, max(0, limit - int(value or 0)), ends)
        return states

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

    async def cache_get(self, cache_key: str, now: float) -> CacheEntry | None:
        found: Any
        with guarded():
            found = await self._pipe.execute(
                "HMGET", f"{self._p}cache:{cache_key}", "body", "stored_at", "expires_at", "images"
            )
        body, stored, expires, images = found
        if body is None or float(expires) <= now:
            return None
        return CacheEntry(body, float(stored), float(expires), int(images))

    async def cache_put(self, cache_key: str, entry: CacheEntry, now: float) -> None:
        ttl_ms = int((entry.expires_at - now) * 1000)
        if ttl_ms <= 0:
            return
        name = f"{self._p}cache:{cache_key}"
        with guarded():
            async with self._r.pipeline(transaction=True) as pipe:
                pipe.hset(
                    name,
                    mapping={
                        "body": entry.body,
                        "stored_at": repr(entry.stored_at),
                        "expires_at": repr(entry.expires_at),
                        "images": entry.images,
                    },
                )
                pipe.pexpire(name, ttl_ms)
                await pipe.execute()

    def _scan(self, prefix: str | None) -> Any:
        pattern = f"{self._p}cache:" + _glob_escape(prefix or "") + "*"
        return self._r.scan_iter(match=pattern, count=500)

    async def cache_purge(self, prefix: str | None = None) -> int:
        deleted = 0
        with guarded():
            batch: list[Any] = []
            async for name in self._scan(prefix):
                batch.append(name)
                if len(batch) >= 500:
                    deleted += await self._r.unlink(*batch)
                    batch = []
            if batch:
                deleted += await self._r.unlink(*batch)
        return deleted

    async def cache_stats(self) -> CacheStats:
        """Entries and body bytes, the sizes asked for in one round trip per scanned
        batch (an entry that expires between the two counts as empty)."""
        entries = size = 0
        with guarded():
            batch: list[Any] = []
            async for name in self._scan(None):
                batch.append(name)
                if len(batch) >= 500:
                    size += await self._body_bytes(batch)
                    entries, batch = entries + len(batch), []
            if batch:
                size += await self._body_bytes(batch)
                entries += len(batch)
        return CacheStats(entries, size)

    async def _body_bytes(self, names: list[Any]) -> int:
        async with self._r.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hstrlen(name, "body")
            return sum(await pipe.execute())

    async def flight_acquire(self, name: str, token: str, ttl: float) -> bool:
        with guarded():
            return bool(
                await self._pipe.execute(
                    "SET", f"{self._p}{name}", token, "NX", "PX", max(1, int(ttl * 1000))
                )
            )

    async def flight_release(self, name: str, token: str) -> None:
        await self._run("release", [f"{self._p}{name}"], [token, f"{self._p}{name}"])

    async def flight_wait(self, name: str, timeout: float) -> bool:
        """Wait on the process's one subscriber connection for the lock's release.

        The wait is registered before the lock is looked at, so a release between the two
        is not missed, and lasts no longer than the lock's own expiry (a leader that died
        publishes nothing); a lost subscription also means looking again.
        """
        key = f"{self._p}{name}"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        subscription = self._subscriber.subscription(key)
        with guarded():
            try:
                while True:
                    event = await subscription.next_event()
                    ttl = await self._pipe.execute("PTTL", key)
                    if ttl == -2:
                        return True
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        return False
                    wait = remaining if ttl < 0 else min(remaining, ttl / 1000)
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(wait):
                            if await event:
                                return True
            finally:
                subscription.close()


def _glob_escape(text: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)
