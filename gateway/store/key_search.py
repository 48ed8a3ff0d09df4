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
from collections.abc import AsyncGenerator, Mapping
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
    """The record's entries in the key index: by creation, by name, by team, and the one
    its status is counted by (:func:`status_ranges`)."""
    entries = [f"c\0{_created(record)}", f"n\0{record.name.casefold()}\0{record.id}"]
    if record.team_id is not None:
        entries.append(f"t\0{record.team_id}\0{_created(record)}")
    if record.revoked_at is not None:
        entries.append(f"s\0revoked\0{record.id}")
    elif record.disabled:
        entries.append(f"s\0disabled\0{record.id}")
    elif record.expires_at is not None:
        entries.append(f"e\0{_sortable(record.expires_at)}\0{record.id}")
    return entries


def counted(total: int, others: Mapping[str, int]) -> dict[str, int]:
    """:meth:`Store.key_counts`'s answer from the total and the counts of
    :func:`status_ranges`: the active keys are the rest."""
    return {"total": total, "active": total - sum(others.values()), **others}


def status_ranges(now: float) -> dict[Status, tuple[str, str]]:
    """Where in the index the keys of each status but ``active`` are, at ``now``: a range of
    entries from the first (included) to the second (excluded). Revoked and disabled keys
    have entries of their own; a key that is neither and has an expiry has one ordered by
    it, so the expired ones are those up to ``now`` (:func:`key_status`'s order)."""
    return {
        "revoked": ("s\0revoked\0", "s\0revoked\1"),
        "disabled": ("s\0disabled\0", "s\0disabled\1"),
        "expired": ("e\0", f"e\0{_sortable(now)}\1"),
    }


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
