"""Writing the request log off the request path.

A request hands its entry to :meth:`Recorder.record`, which only appends to a bounded buffer;
one background task writes the buffer to the journal in batches (every ``interval`` seconds,
or sooner when a batch is full). A slow, full or failing journal never fails or slows a
request: entries that do not fit are dropped and counted, a failed batch is dropped and
counted, and the outage is logged once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from gateway.observability.outage import Outage
from gateway.store.errors import StorageError
from gateway.store.journal import Journal, RequestEntry

log = logging.getLogger("gateway.requests")


@dataclass(frozen=True, slots=True)
class RecorderOptions:
    """Buffering of the request log."""

    interval: float = 0.25
    batch: int = 500
    max_buffered: int = 20_000


class Recorder:
    """Buffers request-log entries and writes them in the background."""

    def __init__(
        self,
        journal: Journal,
        options: RecorderOptions | None = None,
        *,
        on_dropped: Callable[[int], None] | None = None,
    ) -> None:
        self._journal = journal
        self._options = options or RecorderOptions()
        self._on_dropped = on_dropped
        self._buffer: list[RequestEntry] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._outage = Outage(log, "the request log")

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    def record(self, entry: RequestEntry) -> None:
        """Keep ``entry`` for the next batch; never blocks, never raises."""
        if len(self._buffer) >= self._options.max_buffered:
            self._dropped(1)
            return
        self._buffer.append(entry)
        if len(self._buffer) >= self._options.batch:
            self._wake.set()

    async def flush(self) -> None:
        """Write everything buffered now (shutdown, tests)."""
        while self._buffer:
            batch = self._buffer[: self._options.batch]
            del self._buffer[: self._options.batch]
            try:
                await self._journal.append_requests(batch)
            except StorageError as exc:
                self._outage.failed(type(exc).__name__)
                self._dropped(len(batch))
            else:
                self._outage.recovered()

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    def _dropped(self, count: int) -> None:
        if self._on_dropped is not None:
            self._on_dropped(count)

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._options.interval)
            self._wake.clear()
            await self.flush()
