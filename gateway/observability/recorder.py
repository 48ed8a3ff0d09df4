"""Writing the request log off the request path.

A request hands its entry to :meth:`Recorder.record`, which only appends to a bounded buffer;
one background task writes the buffer to the journal in batches (every ``interval`` seconds,
or sooner when a batch is full). A slow, full or failing journal never fails or slows a
request: entries that do not fit are dropped and counted (``overflow``), a batch the journal
refused is dropped and counted (``failed``), what is still unwritten when shutdown runs out
of time is counted too (``shutdown``), and an outage is logged once, with one more line when
it ends. The writer task survives anything a journal raises.

A journal on the store's own Redis cannot write while that Redis is down. When the store was
found down at start-up and said so in its own warning (see
:meth:`Recorder.store_outage_reported`), the writer does not report the same outage a second
time: until the store answers again (asked in the background, with back-off) or a batch is
written, a batch refused for want of the store is dropped and counted without a line. Any
other failure, or one after the store has answered, is reported as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from gateway.observability.outage import Outage
from gateway.store.errors import StorageError, StorageUnavailable
from gateway.store.journal import Journal, RequestEntry

log = logging.getLogger("gateway.requests")

Dropped = Callable[[int, str], None]
Probe = Callable[[], Awaitable[None]]
"""Returns when the store answers; raises a StorageError while it does not."""

MAX_PROBE_DELAY = 5.0


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
        self._store_down: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    def store_outage_reported(self, probe: Probe) -> None:
        """The store did not answer at start-up and said so. If this journal lives beside
        it, stay quiet about failures for want of it until ``probe`` (the store's ping)
        returns or a batch is written."""
        if not self._journal.beside_store or self._store_down is not None:
            return
        self._store_down = asyncio.create_task(self._until_answers(probe))

    async def _until_answers(self, probe: Probe) -> None:
        delay = self._options.interval
        while True:
            try:
                await probe()
            except StorageError:
                await asyncio.sleep(delay)
                delay = min(MAX_PROBE_DELAY, delay * 2)
            else:
                return

    def _already_reported(self, exc: Exception) -> bool:
        """Whether ``exc`` is the store's start-up outage, which the store reported."""
        down = self._store_down
        return down is not None and not down.done() and isinstance(exc, StorageUnavailable)

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
                if not self._already_reported(exc):
                    self._outage.failed(getattr(exc, "message", None) or type(exc).__name__)
                self._dropped(len(batch), "failed")
            else:
                self._stop_probing()
                self._outage.recovered()
            # Not reset when cancelled: shutdown counts the batch it cut off as lost.
            self._writing = 0

    async def aclose(self) -> None:
        """Write what is buffered, for at most ``shutdown_timeout`` seconds, and stop (a
        last batch refused for want of a store that never answered is not a new outage)."""
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
        finally:
            down = self._store_down
            self._stop_probing()
            if down is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await down

    def _stop_probing(self) -> None:
        down, self._store_down = self._store_down, None
        if down is not None:
            down.cancel()

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
