"""Key search at the store level: the index both stores keep, and the one way a page is cut.

Every key has two or three entries in one ordered index of strings (the same strings in
both stores: a sorted list in the embedded store, one lexicographic sorted set in Redis,
kept in the same step as the key's record):

- ``c\\0<created>\\0<id>``: every key in creation order (``<created>`` is the 16 hex digits
  of ``created_at`` as a sortable double), the order of listings;
- ``n\\0<casefolded name>\\0<id>``: by name ignoring case, for ``q`` (a name prefix);
- ``t\\0<team>\\0<created>\\0<id>``: a team's keys in creation order, for ``team_id``.

A search reads one stretch of one of them: ``q`` picks the name entries (the answer is then
in name order), else ``team_id`` the team's, else the creation entries. It starts after the
cursor's entry (the ``after`` key's place in that stretch, from its current record) and
stops at the end of the stretch. Filters the stretch does not answer (``status``, and
``team_id`` beside ``q``) are checked on each record read, and at most
:data:`SCAN_BUDGET` records (or the page size plus one, if larger) are read for one page:
a rare filter can answer a short, even empty, page with ``has_more`` and a ``next_after``
(the last key read) that says where to go on.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Literal

from gateway.store.types import KeyRecord

Status = Literal["active", "disabled", "expired", "revoked"]
STATUSES: tuple[Status, ...] = ("active", "disabled", "expired", "revoked")
SCAN_BUDGET = 2000
"""Records one page may read past what its index stretch answers by itself."""


@dataclass(frozen=True, slots=True)
class KeySearch:
    """One page of keys to find: ``q`` a name prefix (any case), ``after`` the id of the
    key the page starts after, ``now`` the instant ``status`` is judged at."""

    limit: int
    after: str | None = None
    q: str | None = None
    team_id: str | None = None
    status: Status | None = None
    now: float = 0.0


@dataclass(frozen=True, slots=True)
class KeyPage:
    """One page of keys, and the cursor of the next one (``None`` on the last page)."""

    records: list[KeyRecord]
    has_more: bool
    next_after: str | None


def key_status(record: KeyRecord, now: float) -> Status:
    """A key's status at ``now``; revoked wins over disabled, which wins over expired."""
    if record.revoked_at is not None:
        return "revoked"
    if record.disabled:
        return "disabled"
    if record.expires_at is not None and record.expires_at <= now:
        return "expired"
    return "active"


def _sortable(value: float) -> str:
    """A double as 16 hex digits that sort as the numbers do (negative ones included)."""
    (bits,) = struct.unpack(">Q", struct.pack(">d", value))
    return f"{bits ^ 0xFFFFFFFFFFFFFFFF if bits >> 63 else bits | 1 << 63:016x}"


def _created(record: KeyRecord) -> str:
    return f"{_sortable(record.created_at)}\0{record.id}"


def index_entries(record: KeyRecord) -> list[str]:
    """The record's entries in the key index."""
    entries = [f"c\0{_created(record)}", f"n\0{record.name.casefold()}\0{record.id}"]
    if record.team_id is not None:
        entries.append(f"t\0{record.team_id}\0{_created(record)}")
    return entries


def entry_id(entry: str) -> str:
    """The key id an index entry stands for (ids never hold a NUL)."""
    return entry.rpartition("\0")[2]


@dataclass(frozen=True, slots=True)
class Stretch:
    """Where a search reads: the entries starting with ``prefix``, from ``start`` on
    (``start`` itself excluded when ``exclusive``)."""

    prefix: str
    start: str
    exclusive: bool


def stretch_of(search: KeySearch, cursor: KeyRecord | None) -> Stretch:
    """The stretch of the index ``search`` reads, after the key ``cursor`` (its record)."""
    if search.q:
        prefix = f"n\0{search.q.casefold()}"
        place = f"n\0{cursor.name.casefold()}\0{cursor.id}" if cursor else None
    elif search.team_id is not None:
        prefix = f"t\0{search.team_id}\0"
        place = f"{prefix}{_created(cursor)}" if cursor else None
    else:
        prefix = "c\0"
        place = f"c\0{_created(cursor)}" if cursor else None
    if place is None or place < prefix:
        return Stretch(prefix, prefix, False)
    return Stretch(prefix, place, True)


def matches(record: KeyRecord, search: KeySearch) -> bool:
    """Whether ``record`` passes every filter of ``search`` (the index's own included: an
    entry is only a pointer, the record decides)."""
    if search.q and not record.name.casefold().startswith(search.q.casefold()):
        return False
    if search.team_id is not None and record.team_id != search.team_id:
        return False
    return search.status is None or key_status(record, search.now) == search.status


async def collect(read: AsyncGenerator[KeyRecord, None], search: KeySearch) -> KeyPage:
    """Cut one page from ``read``, the records of a stretch in order (see the module
    docstring for the budget); ``read`` is closed when the page is full."""
    budget = max(search.limit + 1, SCAN_BUDGET)
    found: list[KeyRecord] = []
    last: KeyRecord | None = None
    scanned = 0
    async with contextlib.aclosing(read):
        async for record in read:
            if scanned >= budget:
                assert last is not None
                return KeyPage(found, True, last.id)
            scanned += 1
            last = record
            if matches(record, search):
                found.append(record)
                if len(found) > search.limit:
                    page = found[: search.limit]
                    return KeyPage(page, True, page[-1].id)
    return KeyPage(found, False, None)
