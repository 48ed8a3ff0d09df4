"""Writing the audit log: awaited in the admin request, retried when the journal fails.

Every admin change is written before its answer is sent. When the journal cannot take the
entry, the change has already happened in the store: answering an error would say it did
not (and a client retrying a create would make a second key), so the entry is kept and
written again in the background, oldest first, until the journal takes it, and the answer
says so (:meth:`AuditTrail.record` returns False). Each entry waiting is also written to
the gateway's own log as a warning with every field (none is a secret), so it exists
somewhere even if the process stops before the journal comes back. At shutdown the queue
gets one last attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable

from gateway.observability.clock import Clock
from gateway.observability.outage import Outage
from gateway.store.errors import StorageError
from gateway.store.journal import AuditEntry, Journal

log = logging.getLogger("gateway.audit")


class AuditTrail:
    """Audit entries to the journal: now, or as soon as it answers again."""

    def __init__(
        self,
        journal: Journal,
        clock: Clock,
        *,
        retry_interval: float = 1.0,
        max_pending: int = 10_000,
        shutdown_timeout: float = 5.0,
        on_deferred: Callable[[], None] | None = None,
    ) -> None:
        self._journal = journal
        self._clock = clock
        self._retry_interval = retry_interval
        self._pending: deque[AuditEntry] = deque(maxlen=max_pending)
        self._shutdown_timeout = shutdown_timeout
        self._on_deferred = on_deferred
        self._task: asyncio.Task[None] | None = None
        self._outage = Outage(log, "the audit log")

    @property
    def pending(self) -> int:
        """Entries waiting for the journal."""
        return len(self._pending)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def record(self, entry: AuditEntry) -> bool:
        """Write ``entry``; False when it is queued for a later attempt instead."""
        if not self._pending:
            try:
                await self._journal.append_audit(entry, self._clock())
            except StorageError as exc:
                self._outage.failed(exc.message)
            else:
                self._outage.recovered()
                return True
        self._defer(entry)
        return False

    def _defer(self, entry: AuditEntry) -> None:
        if len(self._pending) == self._pending.maxlen:
            dropped = self._pending[0].record()
            log.error("audit entry dropped: too many waiting", extra={"fields": dropped})
        self._pending.append(entry)
        log.warning("audit entry not yet written", extra={"fields": entry.record()})
        if self._on_deferred is not None:
            self._on_deferred()

    async def retry(self) -> None:
        """Write the waiting entries, oldest first, until the journal refuses one."""
        while self._pending:
            try:
                await self._journal.append_audit(self._pending[0], self._clock())
            except StorageError as exc:
                self._outage.failed(exc.message)
                return
            self._pending.popleft()
            self._outage.recovered()

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.retry(), self._shutdown_timeout)
        if self._pending:
            log.error("the audit log lost %d entries at shutdown", len(self._pending))

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._retry_interval)
            await self.retry()
