"""Key search and paging: which keys match a query, in a stable order, one page at a time.

The order is ``(created_at, id)``, oldest first, and a page's cursor is the id of its last
key: the next page holds the keys after that one in the order, so keys created, revoked
or renamed between two calls never shift a page or repeat a key. That is the query a
store index answers directly (``WHERE (created_at, id) > (?, ?) ORDER BY created_at, id
LIMIT n+1``); until a store offers it, :func:`select` runs it over the store's list.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from gateway.store.types import KeyRecord

Status = Literal["active", "disabled", "expired", "revoked"]
STATUSES: tuple[Status, ...] = ("active", "disabled", "expired", "revoked")
MAX_PAGE = 1000
MAX_UNPAGED = 10_000


@dataclass(frozen=True, slots=True)
class KeyQuery:
    """What ``GET /admin/keys`` asks for.

    ``q`` matches the start of the name, ignoring case; ``after`` is the id of the last key
    of the previous page. ``limit`` is at most :data:`MAX_PAGE` for a page, and a listing
    without paging parameters holds up to :data:`MAX_UNPAGED` keys.
    """

    limit: int = MAX_UNPAGED
    after: str | None = None
    q: str | None = None
    team_id: str | None = None
    status: Status | None = None


@dataclass(frozen=True, slots=True)
class KeyPage:
    """One page of keys, and the cursor of the next one (``None`` on the last page)."""

    records: list[KeyRecord]
    has_more: bool
    next_after: str | None


def status_of(record: KeyRecord, now: float) -> Status:
    """A key's status at ``now``; revoked wins over disabled, which wins over expired."""
    if record.revoked_at is not None:
        return "revoked"
    if record.disabled:
        return "disabled"
    if record.expires_at is not None and record.expires_at <= now:
        return "expired"
    return "active"


def order(record: KeyRecord) -> tuple[float, str]:
    """A key's place in listings."""
    return (record.created_at, record.id)


def matches(record: KeyRecord, query: KeyQuery, now: float) -> bool:
    """Whether ``record`` passes every filter of ``query`` (paging aside)."""
    if query.q and not record.name.casefold().startswith(query.q.casefold()):
        return False
    if query.team_id is not None and record.team_id != query.team_id:
        return False
    return query.status is None or status_of(record, now) == query.status


def select(
    records: Iterable[KeyRecord],
    query: KeyQuery,
    now: float,
    cursor: tuple[float, str] | None = None,
) -> KeyPage:
    """The page of ``records`` that ``query`` asks for; ``cursor`` is the place of the key
    named by ``query.after``."""
    found = heapq.nsmallest(
        query.limit + 1,
        (r for r in records if (cursor is None or order(r) > cursor) and matches(r, query, now)),
        key=order,
    )
    page = found[: query.limit]
    has_more = len(found) > query.limit
    return KeyPage(page, has_more, page[-1].id if has_more else None)
