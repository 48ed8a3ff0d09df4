"""The embedded store's key index: the entries of :mod:`gateway.store.key_search` in one
sorted list, beside the records the store keeps in memory.

A change moves a key's entries in place (a binary search and a list move, microseconds at
100,000 keys); start-up sorts them once. Nothing of it is written to disk: it follows from
the records.
"""

from __future__ import annotations

import bisect
from collections.abc import AsyncGenerator, Iterable, Mapping

from gateway.store.key_search import Stretch, entry_id, index_entries
from gateway.store.types import KeyRecord


class KeyIndex:
    """Every key's index entries, in order."""

    def __init__(self) -> None:
        self._entries: list[str] = []

    def load(self, records: Iterable[KeyRecord]) -> None:
        """Index exactly ``records``."""
        self._entries = sorted(entry for record in records for entry in index_entries(record))

    def put(self, old: KeyRecord | None, new: KeyRecord) -> None:
        """Replace the entries of ``old`` (None for a new key) by those of ``new``."""
        wanted = index_entries(new)
        for entry in index_entries(old) if old is not None else ():
            if entry not in wanted:
                at = bisect.bisect_left(self._entries, entry)
                if at < len(self._entries) and self._entries[at] == entry:
                    del self._entries[at]
        for entry in wanted:
            at = bisect.bisect_left(self._entries, entry)
            if at == len(self._entries) or self._entries[at] != entry:
                self._entries.insert(at, entry)

    def count(self, low: str, high: str) -> int:
        """How many entries are from ``low`` (included) to ``high`` (excluded)."""
        entries = self._entries
        return bisect.bisect_left(entries, high) - bisect.bisect_left(entries, low)

    async def read(
        self, stretch: Stretch, records: Mapping[str, KeyRecord]
    ) -> AsyncGenerator[KeyRecord, None]:
        """The records of ``stretch``, in order."""
        entries = self._entries
        find = bisect.bisect_right if stretch.exclusive else bisect.bisect_left
        at = find(entries, stretch.start)
        while at < len(entries) and entries[at].startswith(stretch.prefix):
            record = records.get(entry_id(entries[at]))
            at += 1
            if record is not None:
                yield record
