"""One store read for every caller waiting on the same thing.

A busy key's (or team's) cached record expiring under load must cost one read, not one per
request in flight. The read is shielded: one waiter cancelled (its client left) does not
fail the others; its failure (the store down) reaches every waiter.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SharedReads(Generic[K, V]):
    """Reads in flight by what they read; a finished one is forgotten."""

    def __init__(self, load: Callable[[K], Awaitable[V]]) -> None:
        self._load = load
        self._reads: dict[K, asyncio.Future[V]] = {}

    async def read(self, key: K) -> V:
        """``load(key)``, joining the read already under way for ``key`` if there is one."""
        found = self._reads.get(key)
        if found is None:
            found = asyncio.ensure_future(self._load(key))
            self._reads[key] = found
            found.add_done_callback(lambda done: self._done(key, done))
        return await asyncio.shield(found)

    def _done(self, key: K, done: asyncio.Future[V]) -> None:
        del self._reads[key]
        if not done.cancelled():
            done.exception()  # retrieved, so a failure nobody awaited is not logged
