"""The journals in Redis: two streams shared by every replica.

The request log is one stream capped at ``max_requests`` entries: each batch is appended
and the stream trimmed to its cap exactly, by one script (:file:`lua/journal_append.lua`)
that takes the batch's bodies as one argument, so hundreds of entries cost the gateway one
round trip and three arguments to pack.
The audit log is one stream trimmed by age (``MINID``). Stream ids are the cursors.
A filtered page walks the stream newest first inside Redis, in steps of a
few thousand entries (:file:`lua/journal_scan.lua`: each step holds Redis for a moment
only), and only the entries whose stored bytes hold every filter's value come back to be
decoded and checked; one page walks at most ``max_scan`` entries and, when it stops there,
hands back a cursor to go on from, so a rare filter never makes one call slow.

Entry ids carry time: a request's id is at its ``created_at`` millisecond, or at the newest
millisecond this gateway has used when that is later (requests end out of order: a slow
one finishing after fast ones), so one gateway's batches never collide with its own ids.
When the stream is ahead (another replica's clock), Redis's own clock names the id. An
id is therefore never before its entry's ``created_at`` and at most one request's
duration after it, which bounds what an export by time range has to read.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Sequence
from importlib import resources
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.commands.core import AsyncScript
from redis.exceptions import ResponseError

from gateway.store.errors import StorageUnavailable
from gateway.store.journal import (
    AuditEntry,
    BadCursor,
    Journal,
    Page,
    RequestEntry,
    RequestQuery,
)
from gateway.store.redis_errors import guarded

SCAN_BATCH = 1000
EXPORT_BATCH = 1000
EXPORT_SLACK_MS = 15 * 60_000
STREAM_ID = re.compile(r"^[0-9]{1,20}-[0-9]{1,20}$")


def _decode(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def _rows(batch: Any) -> list[tuple[str, dict[str, Any]]]:
    """A stream range as (id, decoded JSON) pairs."""
    return [(_decode(raw_id), orjson.loads(fields[b"d"])) for raw_id, fields in batch or ()]


def _needles(query: RequestQuery) -> list[bytes]:
    """What the stored JSON of every matching entry contains, byte for byte (orjson writes
    no spaces, and a quote inside a string is escaped, so ``"key_id":"k"`` appears only as
    that field): entries without them are skipped undecoded. Those with them are still
    checked in full. Statuses have three digits, so ``"status":4`` is a class."""
    found = [
        f'"{name}":'.encode() + orjson.dumps(value)
        for name, value in (
            ("key_id", query.key_id),
            ("team_id", query.team_id),
            ("model", query.model),
        )
        if value is not None
    ]
    if isinstance(query.status, str):
        found.append(f'"status":{query.status[0]}'.encode())
    elif query.status is not None:
        found.append(f'"status":{query.status}'.encode())
    return found


def _page(entries: list[Any], limit: int) -> Page:
    """A page of at most ``limit`` of ``entries`` (read one more to know whether more follow)."""
    if len(entries) > limit:
        return Page(entries[:limit], entries[limit - 1].id)
    return Page(entries, None)


def _upper(before: str | None) -> str:
    """The exclusive upper bound of a page that starts below ``before``."""
    if before is None:
        return "+"
    if not STREAM_ID.match(before):
        raise BadCursor(before)
    return f"({before}"


class RedisJournal(Journal):
    """Request and audit logs as Redis streams under ``prefix``."""

    beside_store = True

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str = "gw:",
        max_requests: int = 100_000,
        audit_retention: float = 365 * 86400,
        max_scan: int = 20_000,
    ) -> None:
        self._r = client
        self._requests = f"{prefix}log:requests"
        self._audit = f"{prefix}log:audit"
        self._max = max_requests
        self._retention_ms = int(audit_retention * 1000)
        self._max_scan = max_scan
        self._append: AsyncScript | None = None
        self._scan: AsyncScript | None = None
        self._last_ms = 0

    async def start(self) -> None:
        scripts = resources.files("gateway.store").joinpath("lua")
        self._append = self._r.register_script(scripts.joinpath("journal_append.lua").read_text())
        self._scan = self._r.register_script(scripts.joinpath("journal_scan.lua").read_text())

    async def aclose(self) -> None:
        with guarded():
            await self._r.aclose()

    async def append_requests(self, entries: Sequence[RequestEntry]) -> None:
        if not entries:
            return
        if self._append is None:
            raise StorageUnavailable("The request log was not started.")
        index: list[str] = []
        bodies: list[bytes] = []
        last = self._last_ms
        for entry in entries:
            last = max(last, _ms(entry.created_at))
            body = orjson.dumps(entry.record())
            index.append(f"{last},{len(body)},")
            bodies.append(body)
        self._last_ms = last
        with guarded():
            await self._append(
                keys=[self._requests], args=[self._max, "".join(index), b"".join(bodies)]
            )

    async def requests(self, query: RequestQuery) -> Page:
        upper = _upper(query.before)
        needles = _needles(query)
        if not needles:
            with guarded():
                batch = await self._r.xrevrange(
                    self._requests, max=upper, min="-", count=query.limit + 1
                )
            return _page([RequestEntry.from_dict(d, i) for i, d in _rows(batch)], query.limit)
        if self._scan is None:
            raise StorageUnavailable("The request log was not started.")
        found: list[RequestEntry] = []
        scanned = 0
        while scanned < self._max_scan:
            count = min(SCAN_BATCH, self._max_scan - scanned)
            wanted = query.limit + 1 - len(found)
            with guarded():
                reply = await self._scan(
                    keys=[self._requests], args=[upper, count, wanted, *needles]
                )
            last, walked, ended, *pairs = reply
            for raw_id, body in zip(pairs[::2], pairs[1::2], strict=True):
                entry = RequestEntry.from_dict(orjson.loads(body), _decode(raw_id))
                if query.matches(entry):
                    if len(found) == query.limit:
                        return Page(found, found[-1].id)
                    found.append(entry)
            if ended or not walked:
                return Page(found, None)
            scanned += walked
            upper = f"({_decode(last)}"
        return Page(found, upper[1:])

    async def export_requests(
        self, since: float, until: float
    ) -> AsyncGenerator[list[RequestEntry], None]:
        lower = f"{int(since * 1000)}-0"
        upper = f"{int(until * 1000) + EXPORT_SLACK_MS}"
        while True:
            with guarded():
                batch = await self._r.xrange(
                    self._requests, min=lower, max=upper, count=EXPORT_BATCH
                )
            if not batch:
                return
            rows = _rows(batch)
            chosen = [RequestEntry.from_dict(data, entry_id) for entry_id, data in rows]
            chosen = [e for e in chosen if since <= e.created_at < until]
            if chosen:
                yield chosen
            lower = f"({rows[-1][0]}"

    async def append_audit(self, entry: AuditEntry, now: float) -> AuditEntry:
        body = orjson.dumps(entry.record())
        oldest = max(0, _ms(now) - self._retention_ms)
        with guarded():
            try:
                raw_id = await self._r.xadd(self._audit, {"d": body}, id=f"{_ms(entry.at)}-*")
            except ResponseError:
                raw_id = await self._r.xadd(self._audit, {"d": body})
            await self._r.xtrim(self._audit, minid=oldest, approximate=False)
        return entry.with_id(_decode(raw_id))

    async def audit(self, limit: int, before: str | None = None) -> Page:
        upper = _upper(before)
        with guarded():
            batch = await self._r.xrevrange(self._audit, max=upper, min="-", count=limit + 1)
        return _page([AuditEntry.from_dict(d, i) for i, d in _rows(batch)], limit)
