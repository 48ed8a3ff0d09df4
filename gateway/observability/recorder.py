"""Writing the request log off the request path.

A request hands its entry to :meth:`Recorder.record`, which only appends to a bounded buffer;
one background task writes the buffer to the journal in batches (every ``interval`` seconds,
or sooner when a batch is full). A slow, full or failing journal never fails or slows a
request: entries that do not fit are dropped and counted (``overflow``), a batch the journal
refused is dropped and counted (``failed``), what is still unwritten when shutdown runs out
of time is counted too (``shutdown``), and an outage is logged once, with one more line when
it ends. The writer task survives anything a journal raises.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from gateway.observability.outage import Outage
from gateway.store.journal import Journal, RequestEntry

log = logging.getLogger("gateway.requests")

Dropped = Callable[[int, str], None]


@dataclass(frozen=True, slots=True)
class RecorderOptions:
    """Buffering of the request log."""

    interval: float = 0.25
    batch: int = 500
    max_buffered: int = 20_000
    shutdown_timeout: float = 5.0


class Recorder:
    """Buffers request-log entries and writes them in the background."""

    def __init__(
        self,
        journal: Journal,
        options: RecorderOptions | None = None,
        *,
        on_dropped: Dropped | None = None,
    ) -> None:
        self._journal = journal
        self._options = options or RecorderOptions()
        self._on_dropped = on_dropped
        self._buffer: list[RequestEntry] = []
        self._writing = 0
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._outage = Outage(log, "the request log")

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    def record(self, entry: RequestEntry) -> None:
        """Keep ``entry`` for the next batch; never blocks, never raises."""
        buffer = self._buffer
        if len(buffer) >= self._options.max_buffered:
            self._dropped(1, "overflow")
            return
        buffer.append(entry)
        if len(buffer) == self._options.batch:
            self._wake.set()

    @property
    def buffered(self) -> int:
        """Entries waiting to be written."""
        return len(self._buffer)

    async def flush(self) -> None:
        """Write everything buffered now (shutdown, tests)."""
        while self._buffer:
            batch = self._buffer[: self._options.batch]
            del self._buffer[: self._options.batch]
            self._writing = len(batch)
            try:
                await self._journal.append_requests(batch)
            except Exception as exc:  # the writer must outlive any journal bug
                self._outage.failed(getattr(exc, "message", None) or type(exc).__name__)
                self._dropped(len(batch), "failed")
            else:
                self._outage.recovered()
            # Not reset when cancelled: shutdown counts the batch it cut off as lost.
            self._writing = 0

    async def aclose(self) -> None:
        """Write what is buffered, for at most ``shutdown_timeout`` seconds, and stop."""
        task, self._task = self._task, None
        self._stopping = True
        self._wake.set()
        try:
            if task is not None:
                await asyncio.wait_for(task, self._options.shutdown_timeout)
            else:
                await asyncio.wait_for(self.flush(), self._options.shutdown_timeout)
        except TimeoutError:
            lost = self._writing + len(self._buffer)
            self._buffer.clear()
            if lost:
                log.warning("the request log lost %d entries at shutdown", lost)
                self._dropped(lost, "shutdown")

    def _dropped(self, count: int, reason: str) -> None:
        if self._on_dropped is not None:
            self._on_dropped(count, reason)

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._options.interval)
            self._wake.clear()
            await self.flush()
        await self.flush()
