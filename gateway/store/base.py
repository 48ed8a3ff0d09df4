"""The storage interface every implementation (embedded, Redis) honours.

Domain modules talk only to this interface. Each method is one decision or one read, so
the Redis implementation can make it one round trip (a Lua script where several keys must
change together) and the embedded one can make it one critical section. Both pass the same
contract tests in ``tests/store/``.

Failures of the backing service are raised as :class:`gateway.store.errors.StorageUnavailable`,
never as a driver exception.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence

from gateway.store.key_search import KeyPage, KeySearch
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


class Store(abc.ABC):
    """State shared by every request and, with Redis, by every replica."""

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Open connections, load scripts, read persisted state. Called once in the lifespan."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Flush what must survive and release connections."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise StorageUnavailable when the store cannot serve requests."""

    @abc.abstractmethod
    async def server_secret(self, candidate: bytes) -> bytes:
        """Return the stored HMAC secret for key hashes, storing ``candidate`` if none exists.

        Used only when the operator sets no ``GATEWAY_KEY_SECRET``: every replica then
        agrees on the one secret the first of them stored.
        """

    @abc.abstractmethod
    async def insert_key(self, record: KeyRecord) -> None:
        """Store a new key; raise ``StorageConflict`` if its id or hash exists.

        A key in a team (``record.team_id``) is stored only while the team exists, checked
        in the same step (:meth:`delete_team` cannot slip in between): else raise
        ``StorageNotFound`` naming the team.
        """

    @abc.abstractmethod
    async def update_key(self, record: KeyRecord) -> None:
        """Replace an existing key record (the caller has bumped ``version``).

        Raise :class:`gateway.store.errors.StorageNotFound` if no key has ``record.id``, or
        if ``record.team_id`` names a team that does not exist (as :meth:`insert_key`).
        """

    @abc.abstractmethod
    async def rotate_key(self, record: KeyRecord, grace: float) -> None:
        """Give a key a new secret: replace its record by ``record`` (new ``key_hash``,
        ``version`` one above the stored one), in one step with the check that the stored
        version is still ``record.version - 1`` (else ``StorageConflict``: a rotation or
        change got in between; ``StorageNotFound`` if there is no such key).

        ``record.previous_hash`` (the stored record's ``key_hash``, or None) keeps finding the
        key for ``grace`` seconds, until ``record.previous_until``; any older previous hash
        finds nothing from this step on.
        """

    @abc.abstractmethod
    async def get_key(self, key_id: str) -> KeyRecord | None:
        """The key with this id, revoked ones included."""

    @abc.abstractmethod
    async def find_key(self, key_hash: str) -> KeyRecord | None:
        """The key whose secret hashes to ``key_hash``, or whose previous secret does while
        its rotation's grace lasts (see :meth:`rotate_key`)."""

    @abc.abstractmethod
    async def list_keys(self) -> list[KeyRecord]:
        """Every key, oldest first."""

    @abc.abstractmethod
    async def search_keys(self, search: KeySearch) -> KeyPage:
        """One page of keys from the store's key index, without reading every key (see
        :mod:`gateway.store.key_search` for the order and the budget of a page).

        Raise ``StorageNotFound`` when ``search.after`` names no key.
        """

    @abc.abstractmethod
    async def insert_team(self, record: TeamRecord) -> None:
        """Store a new team; raise ``StorageConflict`` if its id exists."""

    @abc.abstractmethod
    async def update_team(self, record: TeamRecord) -> None:
        """Replace an existing team record (the caller has bumped ``version``).

        Raise :class:`gateway.store.errors.StorageNotFound` if no team has ``record.id``.
        """

    @abc.abstractmethod
    async def get_team(self, team_id: str) -> TeamRecord | None:
        """The team with this id."""

    @abc.abstractmethod
    async def list_teams(self) -> list[TeamRecord]:
        """Every team, oldest first."""

    @abc.abstractmethod
    async def delete_team(self, team_id: str) -> None:
        """Delete a team, atomically with the check that no key still needs it.

        Raise ``StorageNotFound`` if there is no such team, and ``StorageConflict`` (deleting
        nothing) while a key that is not revoked has ``team_id`` set to it. Its usage
        counters stay until they expire, like a revoked key's.
        """

    @abc.abstractmethod
    async def admit(self, request: AdmitRequest) -> Decision:
        """Decide one request atomically; see :class:`Decision`.

        The key and, with ``request.team_id``, its team are the subjects: everything below
        applies to each of them, in one step, all or nothing.

        In order: if the stored version of the key or of its team differs from the
        request's (or either is gone) answer ``STALE_KEY`` and change nothing. If
        ``cache_key`` names a live cache entry, the request is a ``HIT``: it consumes one
        ``rpm`` unit (or is ``RATE_LIMITED`` when rpm is full) and no image quota or money.
        Otherwise every limit must have room for the request (1 unit of rpm, ``images``
        units of each image limit, ``cost_nanos`` of each money limit; a money limit
        already spent refuses even a request estimated at 0), all or nothing: day and
        month quotas and budgets are checked first, the key's before its team's
        (``QUOTA_EXCEEDED``), then the per-minute limits (``RATE_LIMITED``);
        ``Decision.refused_level`` says whose limit refused. When admitted, the image units
        and the estimate are held as a reservation named ``reservation_id`` that lives
        ``reservation_ttl`` seconds unless settled; expired reservations of each subject
        are given back before deciding.
        When admitted with ``cache_key`` and ``flight_ttl`` set, the same step tries to take
        the cache key's single-flight lock (:func:`flight_lock`) for ``flight_ttl`` seconds
        with ``reservation_id`` as its token, and reports it in ``Decision.leader``.
        Per-minute limits are GCRA with a 60 s period and a burst of the whole limit.
        Usage for ``window.day`` counts ``requests`` on every non-stale call, ``refused`` on
        refusals, and ``cache_hits`` plus ``cached_images`` on hits.
        """

    @abc.abstractmethod
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
        """Close a reservation: ``images`` were really generated and the call was charged
        ``cost_nanos`` (0 and 0 give it all back).

        ``retry`` marks a repeat of a call whose reply was lost (the store failed while it
        ran, so it may or may not have taken effect). A reservation that is no longer held
        was then closed by that earlier call, or was never made (an admission whose reply
        was lost may not have run): change nothing, so nothing is counted twice.

        ``limits`` are the key's current limits, used only when the reservation has already
        expired (its images are then counted afresh against ``images_per_minute``).

        Adjusts every image limit from the reserved count to ``images`` and every money
        limit from the reserved estimate to ``cost_nanos`` (the truth, even above the
        estimate); if the reservation had already expired (and was given back), counts
        them afresh. Adds ``images`` to the day's usage counter ``images``, ``cost_nanos``
        to ``spend_nanos`` (when not 0) and every counter in ``usage``. With ``team_id``,
        all of it is done for the team too (``team_limits`` as ``limits``), in the same
        step. Answers the settled use after the step (:class:`Settled`).
        In the same step, stores ``cache`` (as :meth:`cache_put` would) and then releases the
        single-flight lock ``flight`` if ``reservation_id`` holds it (as
        :meth:`flight_release` would), so a waiter woken by the release finds the answer.
        """

    @abc.abstractmethod
    async def limit_states(
        self, key_id: str, limits: Limits, window: Window
    ) -> dict[str, LimitState]:
        """What is left of each set limit, reservations included, by limit name (money
        limits in nano-dollars). ``key_id`` may be a team's :func:`team_subject`."""

    @abc.abstractmethod
    async def usage(self, key_id: str, days: Sequence[str]) -> list[DailyUsage]:
        """Daily counters for the given days (missing days have empty counters).
        ``key_id`` may be a team's :func:`team_subject`."""

    @abc.abstractmethod
    async def key_counts(self, now: float) -> dict[str, int]:
        """How many keys there are (``total``) and of each status at ``now`` (``active``,
        ``disabled``, ``revoked``, ``expired``), counted from the key index, not by reading
        every record."""

    @abc.abstractmethod
    async def usage_of_day(self, day: str) -> dict[str, dict[str, int]]:
        """The counters of ``day`` of every subject (key id or :func:`team_subject`) that
        made a request that day, without reading the others: what the overview sums, which
        must not cost a read per key when there are 100,000 of them."""

    @abc.abstractmethod
    async def claim(self, name: str, ttl: float) -> bool:
        """Set ``name`` for ``ttl`` seconds unless it is set: True for the one caller, on
        every replica, that set it (alert deduplication)."""

    @abc.abstractmethod
    async def cache_get(self, cache_key: str, now: float) -> CacheEntry | None:
        """The live entry for ``cache_key`` (expired entries are never returned)."""

    @abc.abstractmethod
    async def cache_put(self, cache_key: str, entry: CacheEntry, now: float) -> None:
        """Store ``entry`` until ``entry.expires_at``."""

    @abc.abstractmethod
    async def cache_purge(self, prefix: str | None = None) -> int:
        """Delete every entry whose key starts with ``prefix`` (all if None); return count."""

    @abc.abstractmethod
    async def cache_stats(self) -> CacheStats:
        """How many entries and bytes the cache holds."""

    @abc.abstractmethod
    async def flight_acquire(self, name: str, token: str, ttl: float) -> bool:
        """Take the single-flight lock ``name`` for ``ttl`` seconds; False if another holds it."""

    @abc.abstractmethod
    async def flight_release(self, name: str, token: str) -> None:
        """Release ``name`` if ``token`` still holds it, and wake every waiter."""

    @abc.abstractmethod
    async def flight_wait(self, name: str, timeout: float) -> bool:
        """Wait until ``name`` is free; False if it is still held after ``timeout`` seconds."""
