"""The embedded store's limit state: quota counters, reservations, GCRA and daily usage.

Every method is synchronous, so each decision is atomic on the event loop. State is kept
per subject: a key's id, or a team's :func:`team_subject`; one decision covers the key and
its team together. Day and month counters of images (``{s}:d:{day}``, ``{s}:m:{month}``)
and of spend in nano-dollars (``{s}:$d:{day}``, ``{s}:$m:{month}``) hold what was settled
(durable) and what is reserved (``held``, memory only) apart: a flush writes only what was
settled, so a restart after a crash gives back whatever was reserved for requests that
died with the process. Daily usage is kept as the increments made since the last flush;
the database adds them up.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.store import gcra
from gateway.store.embedded.database import Flush, UsageRow
from gateway.store.types import (
    USAGE_TTL,
    AdmitRequest,
    CacheEntry,
    Decision,
    Limits,
    LimitState,
    Outcome,
    Settled,
    Window,
    team_subject,
)

DAY_GRACE = 3600
"""A day's quota counter lives until the day ends plus this (as in ``admit.lua``)."""
MONTH_GRACE = 86400
"""A month's quota counter lives until the month ends plus this."""
PRUNE_SLICE = 512
"""Entries pruned between two turns given back to the event loop."""


@dataclass(slots=True)
class _Reservation:
    images: int
    day: str
    month: str
    ipm_limit: int | None
    expires: float
    nanos: int = 0


@dataclass(frozen=True, slots=True)
class _Subject:
    """One party to a decision: the key or its team, with its limits and refusals' level."""

    name: str
    limits: Limits
    level: str


def _subjects(request: AdmitRequest) -> list[_Subject]:
    found = [_Subject(request.key_id, request.limits, "key")]
    if request.team_id is not None:
        found.append(
            _Subject(team_subject(request.team_id), request.team_limits or Limits(), "team")
        )
    return found


def _counters(subject: str, window: Window) -> tuple[tuple[str, str, str, float], ...]:
    """(limit, counter, what it counts, seconds to the window's end) of the day and month
    limits of ``subject``."""
    return (
        ("images_per_day", f"{subject}:d:{window.day}", "images", window.day_ends_in),
        ("images_per_month", f"{subject}:m:{window.month}", "images", window.month_ends_in),
        ("usd_per_day", f"{subject}:$d:{window.day}", "nanos", window.day_ends_in),
        ("usd_per_month", f"{subject}:$m:{window.month}", "nanos", window.month_ends_in),
    )


class Counters:
    """Limit state of every key in this process."""

    def __init__(self) -> None:
        self._quota: dict[str, int] = {}
        self._expiry: dict[str, float] = {}
        self._dirty: set[str] = set()
        self._held: dict[str, int] = {}
        self._usage: dict[tuple[str, str], UsageRow] = {}
        self._tat: dict[str, float] = {}
        self._reservations: dict[str, dict[str, _Reservation]] = {}
        self._taken: Flush | None = None

    def load(self, quota: Iterable[tuple[str, int, float]]) -> None:
        """Settled counters read from the database at start-up."""
        for name, value, expires in quota:
            self._quota[name] = value
            self._expiry[name] = expires

    def take_flush(self) -> Flush | None:
        """What changed since the last flush, now owned by the returned flush.

        Until :meth:`handed_over`, its usage still counts in :meth:`pending`: a usage read
        asked meanwhile is queued before the flush's write.
        """
        if not self._dirty and not self._usage:
            return None
        batch = self._taken = Flush(self._dirty, self._quota, self._expiry, self._usage)
        self._dirty, self._usage = set(), {}
        return batch

    def handed_over(self) -> None:
        """The flush's write is queued: reads queued from now on find its rows written."""
        self._taken = None

    def restore(self, batch: Flush) -> None:
        """Take back a flush that failed, for the next one."""
        self._dirty |= batch.names
        for key, row in batch.usage.items():
            mine = self._usage.get(key)
            if mine is None:
                self._usage[key] = row
                continue
            for name, value in row.counts.items():
                mine.counts[name] = mine.counts.get(name, 0) + value
            mine.at = max(mine.at, row.at)

    def pending(self, key_id: str, days: Sequence[str], now: float) -> dict[str, dict[str, int]]:
        """Usage increments of ``days`` not yet written (nor queued to be)."""
        found: dict[str, dict[str, int]] = {}
        sources = [self._usage] if self._taken is None else [self._usage, self._taken.usage]
        for usage in sources:
            for day in days:
                row = usage.get((key_id, day))
                if row is not None and row.at + USAGE_TTL > now:
                    counts = found.setdefault(day, {})
                    for name, value in row.counts.items():
                        counts[name] = counts.get(name, 0) + value
        return found

    def pending_day(self, day: str, now: float) -> dict[str, dict[str, int]]:
        """Every subject's usage increments of ``day`` not yet written (nor queued to be)."""
        found: dict[str, dict[str, int]] = {}
        sources = [self._usage] if self._taken is None else [self._usage, self._taken.usage]
        for usage in sources:
            for (key_id, row_day), row in usage.items():
                if row_day == day and row.at + USAGE_TTL > now:
                    counts = found.setdefault(key_id, {})
                    for name, value in row.counts.items():
                        counts[name] = counts.get(name, 0) + value
        return found

    async def prune(self, now: float) -> None:
        """Drop expired counters, replenished GCRA state and expired reservations, in
        slices that give the loop back between them."""
        for i, name in enumerate(list(self._expiry)):
            expires = self._expiry.get(name)
            if expires is not None and expires <= now:
                del self._expiry[name]
                self._quota.pop(name, None)
                self._dirty.discard(name)
            if i % PRUNE_SLICE == PRUNE_SLICE - 1:
                await asyncio.sleep(0)
        for i, (name, tat) in enumerate(list(self._tat.items())):
            if tat <= now and self._tat.get(name) == tat:
                del self._tat[name]
            if i % PRUNE_SLICE == PRUNE_SLICE - 1:
                await asyncio.sleep(0)
        for key_id in list(self._reservations):
            self._reclaim(key_id, now)
            if not self._reservations.get(key_id, True):
                del self._reservations[key_id]

    def _count(self, key_id: str, day: str, now: float, usage: Mapping[str, int]) -> None:
        row = self._usage.get((key_id, day))
        if row is None:
            row = self._usage[(key_id, day)] = UsageRow({}, now)
        elif now > row.at:
            row.at = now
        counts = row.counts
        for name, value in usage.items():
            counts[name] = counts.get(name, 0) + value

    def _used(self, counter: str) -> int:
        """Images (or nano-dollars) counted against a day or month limit: settled plus
        reserved."""
        return self._quota.get(counter, 0) + self._held.get(counter, 0)

    def _hold(self, counter: str, images: int) -> None:
        held = self._held.get(counter, 0) + images
        if held > 0:
            self._held[counter] = held
        else:
            self._held.pop(counter, None)

    def _add(self, counter: str, images: int, expires: float) -> None:
        self._quota[counter] = self._quota.get(counter, 0) + images
        self._expiry[counter] = expires
        self._dirty.add(counter)

    def _reclaim(self, key_id: str, now: float) -> None:
        held = self._reservations.get(key_id)
        if not held:
            return
        for rid in [rid for rid, r in held.items() if r.expires <= now]:
            self._release(key_id, held.pop(rid), 0, now)

    def _release(
        self,
        key_id: str,
        res: _Reservation,
        images: int,
        now: float,
        window: Window | None = None,
        nanos: int = 0,
    ) -> None:
        """Replace a reservation by the ``images`` really generated and the ``nanos`` really
        charged (0 and 0 give it all back).

        They count in the reservation's day and month only while those are still the
        current ones (``window``), as the Redis store counts them.
        """
        for kind, settled, held in (("", images, res.images), ("$", nanos, res.nanos)):
            day, month = f"{key_id}:{kind}d:{res.day}", f"{key_id}:{kind}m:{res.month}"
            if held:
                self._hold(day, -held)
                self._hold(month, -held)
            if settled and window is not None:
                if res.day == window.day:
                    self._add(day, settled, now + math.ceil(window.day_ends_in) + DAY_GRACE)
                if res.month == window.month:
                    ends = now + math.ceil(window.month_ends_in) + MONTH_GRACE
                    self._add(month, settled, ends)
        delta = images - res.images
        if res.ipm_limit is not None and delta:
            tat_key = f"{key_id}:ipm"
            tat = self._tat.get(tat_key, now)
            if delta < 0:
                self._tat[tat_key] = gcra.give_back(tat, now, -delta, res.ipm_limit)
            else:
                self._tat[tat_key] = max(tat, now) + delta * gcra.interval(res.ipm_limit)

    def states(self, key_id: str, limits: Limits, window: Window) -> dict[str, LimitState]:
        """What is left of each set limit, reservations included."""
        now = window.now
        states: dict[str, LimitState] = {}
        for name, short in (("rpm", "rpm"), ("images_per_minute", "ipm")):
            limit = getattr(limits, name)
            if limit is not None:
                left, reset = gcra.remaining(self._tat.get(f"{key_id}:{short}", now), now, limit)
                states[name] = LimitState(limit, left, reset)
        for name, counter, _, ends in _counters(key_id, window):
            limit = getattr(limits, name)
            if limit is not None:
                states[name] = LimitState(limit, max(0, limit - self._used(counter)), ends)
        return states

    def _decision(
        self, outcome: Outcome, subjects: list[_Subject], window: Window, **kw: Any
    ) -> Decision:
        """The decision with the headers' state after it: the tightest request limit and
        the tightest image limit of the key and its team."""
        requests: list[LimitState] = []
        images: list[LimitState] = []
        for subject in subjects:
            states = self.states(subject.name, subject.limits, window)
            if "rpm" in states:
                requests.append(states["rpm"])
            images += [
                states[n]
                for n in ("images_per_minute", "images_per_day", "images_per_month")
                if n in states
            ]
        tightest = min(images, key=lambda s: s.remaining) if images else None
        request_state = min(requests, key=lambda s: s.remaining) if requests else None
        return Decision(outcome, requests=request_state, images=tightest, **kw)

    def _over(
        self, subject: _Subject, window: Window, images: int, nanos: int
    ) -> tuple[str, float | None, int | None] | None:
        """The first day or month limit of ``subject`` without room for the request, how
        long until it has some (None: never, the request is larger than the limit) and, for
        a money limit, the nano-dollars it has left. A money limit already spent refuses
        even a request estimated at 0."""
        for name, counter, kind, ends in _counters(subject.name, window):
            limit = getattr(subject.limits, name)
            if limit is None:
                continue
            wanted = images if kind == "images" else nanos
            used = self._used(counter)
            if used + wanted > limit or (kind == "nanos" and used >= limit):
                left = max(0, limit - used) if kind == "nanos" else None
                return name, None if wanted > limit else ends, left
        return None

    def admit(self, request: AdmitRequest, entry: CacheEntry | None) -> Decision:
        """:meth:`Store.admit` for a fresh key (and team), ``entry`` being the live cache
        entry if any (the caller takes the single-flight lock)."""
        window, n, nanos = request.window, request.images, request.cost_nanos
        now = window.now
        subjects = _subjects(request)
        for subject in subjects:
            self._reclaim(subject.name, now)
            self._count(subject.name, window.day, now, {"requests": 1})
        refused: tuple[Outcome, str, float | None, str, int | None] | None = None
        if entry is None:
            for subject in subjects:
                over = self._over(subject, window, n, nanos)
                if over is not None:
                    refused = (Outcome.QUOTA_EXCEEDED, over[0], over[1], subject.level, over[2])
                    break
        new_tats: dict[str, float] = {}
        if refused is None:
            wants = [("rpm", "rpm", 1)]
            if entry is None:
                wants.append(("images_per_minute", "ipm", n))
            for subject in subjects:
                for name, short, units in wants:
                    limit = getattr(subject.limits, name)
                    if limit is None:
                        continue
                    tat_key = f"{subject.name}:{short}"
                    ok, tat, wait = gcra.try_take(self._tat.get(tat_key, now), now, units, limit)
                    if ok:
                        new_tats[tat_key] = tat
                    elif refused is None or (
                        wait is None or (refused[2] is not None and wait > refused[2])
                    ):
                        refused = (Outcome.RATE_LIMITED, name, wait, subject.level, None)
        if refused is not None:
            for subject in subjects:
                self._count(subject.name, window.day, now, {"refused": 1})
            return self._decision(
                refused[0],
                subjects,
                window,
                refused_by=refused[1],
                retry_after=refused[2],
                refused_level=refused[3],
                budget_left=refused[4],
            )
        self._tat.update(new_tats)
        if entry is not None:
            hit = {"cache_hits": 1, "cached_images": entry.images}
            for subject in subjects:
                self._count(subject.name, window.day, now, hit)
            return self._decision(Outcome.HIT, subjects, window, cached=entry)
        for subject in subjects:
            for kind, amount in (("", n), ("$", nanos)):
                if amount:
                    self._hold(f"{subject.name}:{kind}d:{window.day}", amount)
                    self._hold(f"{subject.name}:{kind}m:{window.month}", amount)
            self._reservations.setdefault(subject.name, {})[request.reservation_id] = _Reservation(
                n,
                window.day,
                window.month,
                subject.limits.images_per_minute,
                now + request.reservation_ttl,
                nanos,
            )
        return self._decision(Outcome.ADMITTED, subjects, window)

    def settle(
        self,
        key_id: str,
        reservation_id: str,
        images: int,
        window: Window,
        usage: Mapping[str, int] | None,
        limits: Limits | None,
        retry: bool,
        nanos: int = 0,
        team_id: str | None = None,
        team_limits: Limits | None = None,
    ) -> Settled | None:
        """:meth:`Store.settle`'s counting, for the key and its team; None when a retry
        finds nothing to settle (the key's reservation decides, as in ``settle.lua``)."""
        if retry and reservation_id not in self._reservations.get(key_id, {}):
            return None
        subjects = [(key_id, limits)]
        if team_id is not None:
            subjects.append((team_subject(team_id), team_limits))
        counts = {"images": images, **({"spend_nanos": nanos} if nanos else {}), **(usage or {})}
        settled: list[dict[str, int]] = []
        for subject, subject_limits in subjects:
            res = self._reservations.get(subject, {}).pop(reservation_id, None)
            if res is None:
                ipm = subject_limits.images_per_minute if subject_limits else None
                res = _Reservation(0, window.day, window.month, ipm, 0)
            self._release(subject, res, images, window.now, window, nanos)
            self._count(subject, window.day, window.now, counts)
            settled.append(
                {
                    "images:day": self._quota.get(f"{subject}:d:{window.day}", 0),
                    "spend_nanos:day": self._quota.get(f"{subject}:$d:{window.day}", 0),
                    "images:month": self._quota.get(f"{subject}:m:{window.month}", 0),
                    "spend_nanos:month": self._quota.get(f"{subject}:$m:{window.month}", 0),
                }
            )
        return Settled(settled[0], settled[1] if team_id is not None else None)
