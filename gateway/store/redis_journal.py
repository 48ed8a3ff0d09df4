"""The journals in Redis: two streams shared by every replica.

The request log is one stream capped at ``max_requests`` entries (``XADD ... MAXLEN ~``: Redis
trims whole nodes, so the cap is kept to within one node of the maximum, cheaply); the audit
log is one stream trimmed by age (``MINID ~``). Stream ids are the cursors. Filters are applied
while walking the stream newest first; one page walks at most ``max_scan`` entries and, when
it stops there, hands back a cursor to go on from, so a rare filter never makes one call slow.

Entry ids carry the entry's own time (``<ms>-*``), so the audit log's age and an export's time
range are read off the ids; an entry older than the newest one already there (another
replica's clock, a batch out of order) gets the next id Redis gives instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from gateway.store.journal import AuditEntry, Journal, Page, RequestEntry, RequestQuery
from gateway.store.redis import guarded

SCAN_BATCH = 500
EXPORT_BATCH = 1000
EXPORT_SLACK_MS = 60_000


def _decode(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def _body(data: dict[str, Any]) -> bytes:
    del data["id"]
    return orjson.dumps(data)


def _refused(result: Any) -> bool:
    """An XADD refused for an id below the stream's newest (to be added with a new id)."""
    return isinstance(result, ResponseError)


def _rows(batch: Any) -> list[tuple[str, dict[str, Any]]]:
    """A stream range as (id, decoded JSON) pairs."""
    return [(_decode(raw_id), orjson.loads(fields[b"d"])) for raw_id, fields in batch or ()]


class RedisJournal(Journal):
    """Request and audit logs as Redis streams under ``prefix``."""

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

    async def aclose(self) -> None:
        with guarded():
            await self._r.aclose()

    async def append_requests(self, entries: Sequence[RequestEntry]) -> None:
        if not entries:
            return
        bodies = [(_ms(entry.created_at), _body(entry.to_dict())) for entry in entries]
        with guarded():
            async with self._r.pipeline(transaction=False) as pipe:
                for ms, body in bodies:
                    pipe.xadd(
                        self._requests,
                        {"d": body},
                        id=f"{ms}-*",
                        maxlen=self._max,
                        approximate=True,
                    )
                results = await pipe.execute(raise_on_error=False)
            for (_ms_at, body), result in zip(bodies, results, strict=True):
                if _refused(result):
                    await self._r.xadd(
                        self._requests, {"d": body}, maxlen=self._max, approximate=True
                    )

    async def requests(self, query: RequestQuery) -> Page:
        found: list[RequestEntry] = []
        upper = f"({query.before}" if query.before else "+"
        scanned = 0
        while scanned < self._max_scan:
            count = min(SCAN_BATCH, self._max_scan - scanned)
            with guarded():
                batch = await self._r.xrevrange(self._requests, max=upper, min="-", count=count)
            if not batch:
                return Page(found, None)
            rows = _rows(batch)
            for entry_id, data in rows:
                scanned += 1
                entry = RequestEntry.from_dict(data, entry_id)
                if query.matches(entry):
                    if len(found) == query.limit:
                        return Page(found, found[-1].id)
                    found.append(entry)
            upper = f"({rows[-1][0]}"
        return Page(found, upper[1:])

    async def export_requests(
        self, since: float, until: float
    ) -> AsyncIterator[list[RequestEntry]]:
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
        body = _body(entry.to_dict())
        oldest = max(0, _ms(now) - self._retention_ms)
        with guarded():
            try:
                raw_id = await self._r.xadd(self._audit, {"d": body}, id=f"{_ms(entry.at)}-*")
            except ResponseError:
                raw_id = await self._r.xadd(self._audit, {"d": body})
            await self._r.xtrim(self._audit, minid=oldest, approximate=False)
        return entry.with_id(_decode(raw_id))

    async def audit(self, limit: int, before: str | None = None) -> Page:
        upper = f"({before}" if before else "+"
        with guarded():
            batch = await self._r.xrevrange(self._audit, max=upper, min="-", count=limit + 1)
        entries = [AuditEntry.from_dict(data, entry_id) for entry_id, data in _rows(batch)]
        if len(entries) > limit:
            return Page(entries[:limit], entries[limit - 1].id)
        return Page(entries, None)
