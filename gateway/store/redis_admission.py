"""Admission and settlement in Redis: the request path's two scripts, packed and read back.

``admit.lua`` and ``settle.lua`` take every name a decision touches in ``KEYS[]``, per
subject (the key, then its team, :func:`team_subject`) and in the order their headers
give, then the day's set of usage hashes, the cache entry and its single-flight lock.
Most of a command stays the same for a key, its team, their limits and a quota day, so it
is packed once and kept (:func:`gateway.store.resp.bulks`): a request packs only its own
few arguments, and its reply is read back into the store's types here. The store
(:mod:`gateway.store.redis`) hands its ``admit``, ``settle`` and ``limit_states`` to this
class.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import redis.asyncio as aioredis

from gateway.store import gcra
from gateway.store.redis_errors import guarded
from gateway.store.resp import Bulks, PipelinedRedis, Script, bulks
from gateway.store.types import (
    SETTLED_FIELDS,
    USAGE_TTL,
    AdmitRequest,
    CacheEntry,
    CacheWrite,
    Decision,
    Limits,
    LimitState,
    Outcome,
    Settled,
    Window,
    flight_lock,
    team_subject,
)

OUTCOMES = {outcome.value.encode(): outcome for outcome in Outcome}


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


class RedisAdmission:
    """Admission, settlement and limit reads of one :class:`~gateway.store.redis.RedisStore`.

    ``pipe`` carries the scripts, ``client`` the admin read of :meth:`limit_states`;
    ``scripts`` is the store's table of loaded scripts by name, filled by its ``start``
    (so read at each call, never copied here). The packed heads of commands are kept per
    key, team and day, up to 10,000 of each, then dropped all at once.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        pipe: PipelinedRedis,
        scripts: Mapping[str, Script],
        prefix: str,
    ) -> None:
        self._r = client
        self._pipe = pipe
        self._scripts = scripts
        self._p = prefix
        self._admitting = guarded("admit")
        self._admit_packed: dict[tuple[Any, ...], tuple[Bulks, Bulks]] = {}
        self._settle_packed: dict[tuple[str, str | None, str, str], Bulks] = {}

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
                body=reply[12],
                stored_at=float(reply[13]),
                expires_at=float(reply[14]),
                images=int(reply[15]),
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
            budget_left=None if reply[11] < 0 else reply[11],
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
