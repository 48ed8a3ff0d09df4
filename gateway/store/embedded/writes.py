"""The embedded store's writes to its database, as the event loop sees them.

Every write runs on the database's writer thread (:meth:`Database.call`); here is what a
write's failure means to the store: logged once, not every second while the disk stays
unwritable, and kept so that ``ping`` reports the store unavailable until a write succeeds
again. A change its caller waits for (a key, a team, the server secret) is finished even
when that caller is cancelled: what the database stored, the process must serve too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from gateway.store.embedded.database import Database
from gateway.store.errors import StorageUnavailable

T = TypeVar("T")

log = logging.getLogger("gateway.store")


class Writes:
    """The writes to ``db``: their last failure (None while writes succeed), and the
    changes still being finished for callers that gave up."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.failure: StorageUnavailable | None = None
        self._finishing: set[asyncio.Task[Any]] = set()

    async def run(self, job: Callable[..., T], *args: Any) -> T:
        """Run ``job(*args)`` on the writer thread; its failure is logged once and kept,
        and the next success logged and forgotten."""
        try:
            result = await self._db.call(job, *args)
        except StorageUnavailable as exc:
            if self.failure is None:
                log.error("embedded store: %s; retrying every second", exc.message)
            self.failure = exc
            raise
        if self.failure is not None:
            log.warning("embedded store: %s is written again", self._db.name)
            self.failure = None
        return result

    async def attempt(self, job: Callable[..., Any], *args: Any) -> bool:
        """Run a background write (a flush, a prune): False when it failed."""
        try:
            await self.run(job, *args)
        except StorageUnavailable:
            return False
        return True

    async def durably(self, change: Coroutine[Any, Any, None]) -> None:
        """Finish ``change`` even when the caller is cancelled: what the database stored,
        the process must serve too."""
        task = asyncio.ensure_future(change)
        self._finishing.add(task)
        task.add_done_callback(self._finishing.discard)
        task.add_done_callback(lambda done: done.cancelled() or done.exception())
        await asyncio.shield(task)

    async def drain(self) -> None:
        """Wait for the changes still being finished (at shutdown)."""
        if self._finishing:
            await asyncio.gather(*self._finishing, return_exceptions=True)
