"""Client keys: authentication and the admin operations on records.

A key (:mod:`gateway.keys.material`) is stored only as its HMAC-SHA256 under the server
secret; the plaintext exists once, in the answer
to the create (or rotate) call. Lookups go by hash and the stored hash is compared again in
constant time. Records are cached in-process for ``key_cache_seconds``; the admission step
checks the record's version against the store on every image request, so revocations and
changes take effect on the next request on every replica.

A rotation gives the key a new secret and keeps the previous one's hash on the record with
the end of its grace period (``previous_until``). Every authentication, from the cache or
not, compares the presented key's hash with both and accepts the previous one only before
that instant on this gateway's clock: the old secret stops working on every replica when
the grace ends, whatever each replica has cached. A second rotation within a grace drops
the oldest secret at once (its hash is on no record any more). Concurrent lookups of one key share a
single store read, so a busy key's cache entry expiring under load costs one read, not
one per request in flight.

What must come from the store before any key can be served (the shared secret when none
is configured, the declared keys) is read by :meth:`KeyService.start`. If the store is down
at start-up, every operation tries it again first (one attempt at a time, shared), so the
gateway serves as soon as the store answers, without a restart.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any

from gateway.errors import AuthenticationFailed, Conflict, GatewayError, InvalidRequest, NotFound
from gateway.keys.material import generate_id, generate_key, mask
from gateway.keys.search import KeyPage, KeyQuery, status_of
from gateway.observability.clock import Clock
from gateway.settings.declared import DeclaredKey
from gateway.store.base import Store
from gateway.store.errors import StorageConflict, StorageNotFound
from gateway.store.key_search import KeySearch
from gateway.store.shared_reads import SharedReads
from gateway.store.types import KeyRecord, Limits

Synced = list[tuple[KeyRecord | None, KeyRecord]]
"""Declared keys a sync added (before: None) or changed, as (before, after)."""

REASONS = {"revoked": "has been revoked", "disabled": "is disabled", "expired": "has expired"}
SECRET_BYTES = 32
MAX_GRACE_SECONDS = 7 * 86400

log = logging.getLogger("gateway.keys")


class KeyService:
    """Authenticates client keys and manages key records in the store."""

    def __init__(
        self,
        store: Store,
        secret: bytes | None,
        clock: Clock,
        *,
        cache_seconds: float = 2.0,
        default_limits: Limits | None = None,
        declared: Sequence[DeclaredKey] = (),
        on_synced: Callable[[Synced], Awaitable[None]] | None = None,
    ) -> None:
        """``secret`` None means the one the store keeps for every replica; ``declared``
        keys are written to the store by :meth:`start`, which then hands what it added or
        changed to ``on_synced`` (the audit log)."""
        self._store = store
        self._mac = hmac.new(secret, digestmod="sha256") if secret is not None else None
        self._declared = tuple(declared)
        self._on_synced = on_synced
        self._starting: asyncio.Future[None] | None = None
        self.started = secret is not None and not self._declared
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._default_limits = default_limits or Limits()
        self._cache: dict[str, tuple[float, KeyRecord]] = {}
        self._lookups: SharedReads[str, KeyRecord | None] = SharedReads(store.find_key)

    async def start(self) -> None:
        """Read the store's shared secret (when none was configured) and write the declared
        keys. Raises StorageUnavailable while the store does not answer, or the error of a
        declared key that cannot be written."""
        if self._mac is None:
            secret = await self._store.server_secret(secrets.token_bytes(SECRET_BYTES))
            self._mac = hmac.new(secret, digestmod="sha256")
        synced = await self.sync_declared(self._declared)
        self.started = True
        if self._on_synced is not None:
            await self._on_synced(synced)

    async def ready(self) -> None:
        """Finish :meth:`start` if the store was down when the gateway started (every
        operation calls this first). A declared key that cannot be written is then logged,
        not answered to whoever happened to ask."""
        if self.started:
            return
        if self._starting is None:
            self._starting = asyncio.ensure_future(self._start_late())
            self._starting.add_done_callback(self._start_done)
        await asyncio.shield(self._starting)

    async def _start_late(self) -> None:
        try:
            await self.start()
        except GatewayError as exc:
            log.error("declared keys not written: %s", exc.message)
            self.started = True
            return
        log.info("the store answers: start-up finished")

    def _start_done(self, done: asyncio.Future[None]) -> None:
        self._starting = None
        if not done.cancelled():
            done.exception()

    def hash(self, key: str) -> str:
        """The stored form of ``key`` under this gateway's secret (:func:`hash_key`), from a
        copy of the keyed MAC: the secret's key schedule is worked out once, not per call.
        Only once :meth:`start` has read the secret."""
        assert self._mac is not None, "KeyService.hash before start()"
        mac = self._mac.copy()
        mac.update(key.encode())
        return mac.hexdigest()

    async def authenticate(self, key: str | None, *, fresh: bool = False) -> KeyRecord:
        """The usable record for a presented key, or AuthenticationFailed (401).

        ``fresh`` skips the in-process cache and any read already in flight (routes that do
        no admission step use it, so a revocation is seen there at once too).
        """
        if not key:
            raise AuthenticationFailed(
                "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'."
            )
        if not self.started:
            await self.ready()
        digest = self.hash(key)
        record = None if fresh else self._cached(digest)
        cached = record is not None
        if record is None:
            record = await (self._store.find_key(digest) if fresh else self._lookups.read(digest))
        if record is None or not self._accepts(record, digest):
            raise AuthenticationFailed(f"Incorrect API key provided: {mask(key)}.")
        if not cached:
            self._remember(digest, record)
        self.check_usable(record, key)
        return record

    def _accepts(self, record: KeyRecord, digest: str) -> bool:
        """Whether ``digest`` is the record's secret, or its previous one within the grace
        of its rotation (judged now, on this gateway's clock)."""
        if hmac.compare_digest(record.key_hash, digest):
            return True
        previous, until = record.previous_hash, record.previous_until
        if previous is None or until is None or not hmac.compare_digest(previous, digest):
            return False
        return self._clock() < until

    async def reload(self, record: KeyRecord, key: str) -> KeyRecord:
        """Re-read a record that the store reported stale, and check it again."""
        self._forget(record)
        return await self.authenticate(key, fresh=True)

    def check_usable(self, record: KeyRecord, key: str) -> None:
        """Refuse revoked, disabled and expired keys with the same 401 as unknown ones."""
        status = status_of(record, self._clock())
        if status != "active":
            error = AuthenticationFailed(f"The API key {mask(key)} {REASONS[status]}.")
            error.log_fields["key_id"] = record.id
            error.log_fields["team_id"] = record.team_id
            raise error

    def _cached(self, digest: str) -> KeyRecord | None:
        hit = self._cache.get(digest)
        if hit is None or hit[0] <= self._clock():
            return None
        return hit[1]

    def _remember(self, digest: str, record: KeyRecord) -> None:
        if self._cache_seconds <= 0:
            return
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (self._clock() + self._cache_seconds, record)

    def _forget(self, record: KeyRecord) -> None:
        """Drop this process's cached copies of ``record`` (under each of its hashes)."""
        self._cache.pop(record.key_hash, None)
        if record.previous_hash is not None:
            self._cache.pop(record.previous_hash, None)

    async def create(
        self,
        name: str,
        *,
        expires_at: float | None = None,
        models: Iterable[str] | None = None,
        limits: dict[str, int | None] | None = None,
        cache: bool = True,
        metadata: dict[str, Any] | None = None,
        team_id: str | None = None,
    ) -> tuple[KeyRecord, str]:
        """Create a key (in the team ``team_id``, which the store checks exists); returns
        the record and the plaintext key (shown once)."""
        await self.ready()
        plaintext = generate_key()
        merged = {**self._default_limits.as_dict(), **(limits or {})}
        record = KeyRecord(
            id=generate_id(),
            name=name,
            key_hash=self.hash(plaintext),
            prefix=mask(plaintext),
            created_at=self._clock(),
            expires_at=expires_at,
            models=tuple(models) if models is not None else None,
            limits=Limits(**merged),
            cache=cache,
            metadata=dict(metadata or {}),
            team_id=team_id,
        )
        await self._store.insert_key(record)
        return record, plaintext

    async def get(self, key_id: str) -> KeyRecord:
        """The record with this id, or NotFound (404)."""
        await self.ready()
        record = await self._store.get_key(key_id)
        if record is None:
            raise NotFound(f"No key with id {key_id!r}.", param="id")
        return record

    async def list(self) -> list[KeyRecord]:
        """Every key record, oldest first."""
        await self.ready()
        return await self._store.list_keys()

    async def search(self, query: KeyQuery) -> KeyPage:
        """One page of the keys matching ``query`` (see :mod:`gateway.keys.search`), from
        the store's key index."""
        await self.ready()
        search = KeySearch(
            limit=query.limit,
            after=query.after,
            q=query.q,
            team_id=query.team_id,
            status=query.status,
            now=self._clock(),
        )
        try:
            return await self._store.search_keys(search)
        except StorageNotFound:
            raise InvalidRequest(
                f"after names no key: {query.after!r}; pass the next_after of a listing.",
                param="after",
            ) from None

    async def update(self, key_id: str, changes: dict[str, Any]) -> KeyRecord:
        """Apply admin changes (name, expiry, models, disabled, limits, cache, team) to a key."""
        record = await self.get(key_id)
        if record.revoked_at is not None:
            raise Conflict(f"Key {key_id!r} is revoked and cannot be changed.", param="id")
        limits = {**record.limits.as_dict(), **changes.pop("limits", {})}
        models = changes.pop("models", record.models)
        updated = replace(
            record,
            **changes,
            models=tuple(models) if models is not None else None,
            limits=Limits(**limits),
            version=record.version + 1,
        )
        await self._store.update_key(updated)
        self._forget(record)
        return updated

    async def revoke(self, key_id: str) -> KeyRecord:
        """Revoke a key for good; it stays listed with ``revoked_at`` set."""
        record = await self.get(key_id)
        if record.revoked_at is not None:
            return record
        revoked = replace(record, revoked_at=self._clock(), version=record.version + 1)
        await self._store.update_key(revoked)
        self._forget(record)
        return revoked

    async def rotate(self, key_id: str, grace_seconds: int = 0) -> tuple[KeyRecord, str]:
        """Give a key a new secret; returns the record and the new plaintext key (shown
        once). The previous secret keeps working for ``grace_seconds`` (0: refused at once);
        one that an earlier rotation left working is refused at once. Conflict (409) for a
        revoked key, a key declared in the config file (its hash is set there), or a key
        changed by someone else at the same instant."""
        record = await self.get(key_id)
        if record.revoked_at is not None:
            raise Conflict(f"Key {key_id!r} is revoked and cannot be rotated.", param="id")
        if record.declared:
            raise Conflict(
                f"Key {key_id!r} is declared in the config file: give it a new hash there.",
                param="id",
            )
        plaintext = generate_key()
        graced = grace_seconds > 0
        rotated = replace(
            record,
            key_hash=self.hash(plaintext),
            prefix=mask(plaintext),
            version=record.version + 1,
            previous_hash=record.key_hash if graced else None,
            previous_until=self._clock() + grace_seconds if graced else None,
        )
        try:
            await self._store.rotate_key(rotated, grace_seconds)
        except StorageConflict:
            raise Conflict(
                f"Key {key_id!r} changed while it was being rotated; try again.", param="id"
            ) from None
        self._forget(record)
        return rotated, plaintext

    async def sync_declared(self, declared: Iterable[DeclaredKey]) -> Synced:
        """Make the store hold exactly the config file's declared keys (by id); the records
        it added (before: None) or changed, as (before, after), for the audit log."""
        synced: Synced = []
        for spec in declared:
            existing = await self._store.get_key(spec.id)
            wanted = KeyRecord(
                id=spec.id,
                name=spec.name,
                key_hash=spec.key_hash,
                prefix="(declared)",
                created_at=existing.created_at if existing else self._clock(),
                version=existing.version if existing else 1,
                expires_at=spec.expires_at,
                models=tuple(spec.models) if spec.models is not None else None,
                limits=spec.limits,
                cache=spec.cache,
                declared=True,
            )
            if existing is None:
                await self._store.insert_key(wanted)
                synced.append((None, wanted))
            elif existing.key_hash != wanted.key_hash:
                raise InvalidRequest(
                    f"Declared key {spec.id!r} has a different hash than the stored key with "
                    "that id; give it a new id.",
                    param="keys",
                )
            else:
                wanted = replace(
                    wanted,
                    disabled=existing.disabled,
                    revoked_at=existing.revoked_at,
                    metadata=existing.metadata,
                    team_id=existing.team_id,
                )
                if replace(existing, version=0) != replace(wanted, version=0):
                    changed = replace(wanted, version=existing.version + 1)
                    await self._store.update_key(changed)
                    synced.append((existing, changed))
        return synced
