"""The embedded store: state in process memory, keys and counters persisted to a file.

Every method runs without awaiting in the middle of a decision, so each is atomic on the
event loop. Keys and the secret are written at once; counters at most every second and at
shutdown (a crash loses at most that second of usage).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from gateway.store import gcra
from gateway.store.base import Store
from gateway.store.errors import StorageConflict, StorageNotFound
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
    Window,
    flight_lock,
)


@dataclass(slots=True)
class _Reservation:
    images: int
    day: str
    month: str
    ipm_limit: int | None
    expires: float


class MemoryStore(Store):
    """Single-process state; see the module docstring for what survives a restart."""

    def __init__(
        self, path: Path | None, *, cache_max_bytes: int, clock: Callable[[], float] = time.time
    ) -> None:
        self._path = path
        self._clock = clock
        self._cache_max = cache_max_bytes
        self._keys: dict[str, KeyRecord] = {}
        self._by_hash: dict[str, str] = {}
        self._secret: bytes | None = None
        self._counters: dict[str, int] = {}
        self._usage: dict[str, dict[str, int]] = {}
        self._tat: dict[str, float] = {}
        self._reservations: dict[str, dict[str, _Reservation]] = {}
        self._cache: OrderedDict[str, CacheEntry] = OrderedDict()
        self._cache_bytes = 0
        self._locks: dict[str, tuple[str, float]] = {}
        self._released: dict[str, asyncio.Event] = {}
        self._dirty = False
        self._flusher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._path is not None and self._path.exists():
            try:
                data = orjson.loads(self._path.read_bytes())
                self._keys = {k["id"]: KeyRecord.from_dict(k) for k in data.get("keys", [])}
                secret = data.get("secret")
                self._secret = bytes.fromhex(secret) if secret else None
                self._counters = {k: int(v) for k, v in data.get("counters", {}).items()}
                self._usage = {k: dict(v) for k, v in data.get("usage", {}).items()}
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"store file {self._path} is corrupt: {exc}") from None
            self._by_hash = {r.key_hash: r.id for r in self._keys.values()}
        self._flusher = asyncio.create_task(self._flush_loop())

    async def aclose(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        self._write()

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            if self._dirty:
                self._write()

    def _write(self) -> None:
        self._dirty = False
        if self._path is None:
            return
        data = {
            "keys": [r.to_dict() for r in self._keys.values()],
            "secret": self._secret.hex() if self._secret else None,
            "counters": self._counters,
            "usage": self._usage,
        }
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(orjson.dumps(data))
        os.replace(tmp, self._path)

    async def ping(self) -> None:
        return None

    async def server_secret(self, candidate: bytes) -> bytes:
        if self._secret is None:
            self._secret = candidate
            self._write()
        return self._secret

    async def insert_key(self, record: KeyRecord) -> None:
        if record.id in self._keys or record.key_hash in self._by_hash:
            raise StorageConflict(f"A key with id {record.id!r} or the same secret exists.")
        self._keys[record.id] = record
        self._by_hash[record.key_hash] = record.id
        self._write()

    async def update_key(self, record: KeyRecord) -> None:
        old = self._keys.get(record.id)
        if old is None:
            raise StorageNotFound(f"No key with id {record.id!r}.")
        self._by_hash.pop(old.key_hash, None)
        self._keys[record.id] = record
        self._by_hash[record.key_hash] = record.id
        self._write()

    async def get_key(self, key_id: str) -> KeyRecord | None:
        return self._keys.get(key_id)

    async def find_key(self, key_hash: str) -> KeyRecord | None:
        key_id = self._by_hash.get(key_hash)
        return self._keys.get(key_id) if key_id else None

    async def list_keys(self) -> list[KeyRecord]:
        return sorted(self._keys.values(), key=lambda r: r.created_at)

    def _count(self, key_id: str, day: str, usage: Mapping[str, int]) -> None:
        row = self._usage.setdefault(f"{key_id}:{day}", {})
        for name, value in usage.items():
            row[name] = row.get(name, 0) + value
        self._dirty = True

    def _reclaim(self, key_id: str, now: float) -> None:
        held = self._reservations.get(key_id, {})
        for rid in [rid for rid, r in held.items() if r.expires <= now]:
            self._release(key_id, held.pop(rid), 0, now)

    def _release(self, key_id: str, res: _Reservation, images: int, now: float) -> None:
        delta = images - res.images
        for name in (f"{key_id}:d:{res.day}", f"{key_id}:m:{res.month}"):
            self._counters[name] = max(0, self._counters.get(name, 0) + delta)
        if res.ipm_limit is not None:
            tat_key = f"{key_id}:ipm"
            tat = self._tat.get(tat_key, now)
            if delta < 0:
                self._tat[tat_key] = gcra.give_back(tat, now, -delta, res.ipm_limit)
            else:
                self._tat[tat_key] = max(tat, now) + delta * gcra.interval(res.ipm_limit)
        self._dirty = True

    def _states(self, key_id: str, limits: Limits, window: Window) -> dict[str, LimitState]:
        now = window.now
        states: dict[str, LimitState] = {}
        for name, short in (("rpm", "rpm"), ("images_per_minute", "ipm")):
            limit = getattr(limits, name)
            if limit is not None:
                left, reset = gcra.remaining(self._tat.get(f"{key_id}:{short}", now), now, limit)
                states[name] = LimitState(limit, left, reset)
        for name, counter, ends in (
            ("images_per_day", f"{key_id}:d:{window.day}", window.day_ends_in),
            ("images_per_month", f"{key_id}:m:{window.month}", window.month_ends_in),
        ):
            limit = getattr(limits, name)
            if limit is not None:
                states[name] = LimitState(
                    limit, max(0, limit - self._counters.get(counter, 0)), ends
                )
        return states

    def _decision(self, outcome: Outcome, states: dict[str, LimitState], **kw: Any) -> Decision:
        images = [
            states[n]
            for n in ("images_per_minute", "images_per_day", "images_per_month")
            if n in states
        ]
        tightest = min(images, key=lambda s: s.remaining) if images else None
        return Decision(outcome, requests=states.get("rpm"), images=tightest, **kw)

    async def admit(self, request: AdmitRequest) -> Decision:
        record = self._keys.get(request.key_id)
        if record is None or record.version != request.key_version:
            return Decision(Outcome.STALE_KEY)
        key_id, limits, window, n = request.key_id, request.limits, request.window, request.images
        now = window.now
        self._reclaim(key_id, now)
        self._count(key_id, window.day, {"requests": 1})
        entry = None
        if request.cache_key is not None:
            entry = await self.cache_get(request.cache_key, now)
        refused: tuple[Outcome, str, float | None] | None = None
        if entry is None:
            for name, counter, ends in (
                ("images_per_day", f"{key_id}:d:{window.day}", window.day_ends_in),
                ("images_per_month", f"{key_id}:m:{window.month}", window.month_ends_in),
            ):
                limit = getattr(limits, name)
                if limit is not None and self._counters.get(counter, 0) + n > limit:
                    refused = (Outcome.QUOTA_EXCEEDED, name, None if n > limit else ends)
                    break
        new_tats: dict[str, float] = {}
        if refused is None:
            wants = [("rpm", "rpm", 1)]
            if entry is None:
                wants.append(("images_per_minute", "ipm", n))
            for name, short, units in wants:
                limit = getattr(limits, name)
                if limit is None:
                    continue
                ok, tat, wait = gcra.try_take(
                    self._tat.get(f"{key_id}:{short}", now), now, units, limit
                )
                if ok:
                    new_tats[f"{key_id}:{short}"] = tat
                elif refused is None or (
                    wait is None or (refused[2] is not None and wait > refused[2])
                ):
                    refused = (Outcome.RATE_LIMITED, name, wait)
        if refused is not None:
            self._count(key_id, window.day, {"refused": 1})
            return self._decision(
                refused[0],
                self._states(key_id, limits, window),
                refused_by=refused[1],
                retry_after=refused[2],
            )
        self._tat.update(new_tats)
        if entry is not None:
            self._count(key_id, window.day, {"cache_hits": 1, "cached_images": entry.images})
            return self._decision(Outcome.HIT, self._states(key_id, limits, window), cached=entry)
        for counter in (f"{key_id}:d:{window.day}", f"{key_id}:m:{window.month}"):
            self._counters[counter] = self._counters.get(counter, 0) + n
        self._reservations.setdefault(key_id, {})[request.reservation_id] = _Reservation(
            n, window.day, window.month, limits.images_per_minute, now + request.reservation_ttl
        )
        leader = False
        if request.cache_key is not None and request.flight_ttl is not None:
            leader = self._take_lock(
                flight_lock(request.cache_key), request.reservation_id, request.flight_ttl
            )
        return self._decision(Outcome.ADMITTED, self._states(key_id, limits, window), leader=leader)

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
    ) -> None:
        res = self._reservations.get(key_id, {}).pop(reservation_id, None)
        if res is None:
            if retry:
                return
            res = _Reservation(
                0, window.day, window.month, limits.images_per_minute if limits else None, 0
            )
        self._release(key_id, res, images, window.now)
        self._count(key_id, window.day, {"images": images, **(usage or {})})
        if cache is not None:
            self._put(cache.key, cache.entry, window.now)
        if flight is not None:
            self._unlock(flight, reservation_id)

    async def limit_states(
        self, key_id: str, limits: Limits, window: Window
    ) -> dict[str, LimitState]:
        return self._states(key_id, limits, window)

    async def usage(self, key_id: str, days: Sequence[str]) -> list[DailyUsage]:
        return [DailyUsage(day, dict(self._usage.get(f"{key_id}:{day}", {}))) for day in days]

    async def cache_get(self, cache_key: str, now: float) -> CacheEntry | None:
        entry = self._cache.get(cache_key)
        if entry is None:
            return None
        if entry.expires_at <= now:
            self._drop(cache_key)
            return None
        self._cache.move_to_end(cache_key)
        return entry

    def _drop(self, cache_key: str) -> None:
        entry = self._cache.pop(cache_key, None)
        if entry is not None:
            self._cache_bytes -= len(entry.body)

    async def cache_put(self, cache_key: str, entry: CacheEntry, now: float) -> None:
        self._put(cache_key, entry, now)

    def _put(self, cache_key: str, entry: CacheEntry, now: float) -> None:
        if len(entry.body) > self._cache_max or entry.expires_at <= now:
            return
        self._drop(cache_key)
        self._cache[cache_key] = entry
        self._cache_bytes += len(entry.body)
        while self._cache_bytes > self._cache_max:
            self._drop(next(iter(self._cache)))

    async def cache_purge(self, prefix: str | None = None) -> int:
        doomed = [k for k in self._cache if prefix is None or k.startswith(prefix)]
        for key in doomed:
            self._drop(key)
        return len(doomed)

    async def cache_stats(self) -> CacheStats:
        return CacheStats(len(self._cache), self._cache_bytes)

    async def flight_acquire(self, name: str, token: str, ttl: float) -> bool:
        return self._take_lock(name, token, ttl)

    def _take_lock(self, name: str, token: str, ttl: float) -> bool:
        held = self._locks.get(name)
        if held is not None and held[1] > self._clock():
            return False
        self._locks[name] = (token, self._clock() + ttl)
        self._released.setdefault(name, asyncio.Event()).clear()
        return True

    async def flight_release(self, name: str, token: str) -> None:
        self._unlock(name, token)

    def _unlock(self, name: str, token: str) -> None:
        held = self._locks.get(name)
        if held is not None and held[0] == token:
            del self._locks[name]
            event = self._released.pop(name, None)
            if event is not None:
                event.set()

    async def flight_wait(self, name: str, timeout: float) -> bool:
        held = self._locks.get(name)
        if held is None or held[1] <= self._clock():
            return True
        event = self._released.setdefault(name, asyncio.Event())
        wait = min(timeout, max(0.0, held[1] - self._clock()))
        try:
            await asyncio.wait_for(event.wait(), wait)
        except TimeoutError:
            held = self._locks.get(name)
            return held is None or held[1] <= self._clock()
        return True
