"""The request log is written in batches off the request path; a slow or failing journal
costs a request nothing and is logged once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence

import pytest

from gateway.observability.recorder import Recorder, RecorderOptions
from gateway.store.errors import StorageUnavailable
from gateway.store.journal import AuditEntry, Journal, Page, RequestEntry, RequestQuery


class ListJournal(Journal):
    """A journal in a list, which can be told to fail or to hang."""

    def __init__(self) -> None:
        self.batches: list[list[RequestEntry]] = []
        self.fail = False
        self.hang: asyncio.Event | None = None

    async def append_requests(self, entries: Sequence[RequestEntry]) -> None:
        if self.hang is not None:
            await self.hang.wait()
        if self.fail:
            raise StorageUnavailable()
        self.batches.append(list(entries))

    async def requests(self, query: RequestQuery) -> Page:
        raise NotImplementedError

    async def export_requests(
        self, since: float, until: float
    ) -> AsyncIterator[list[RequestEntry]]:
        for batch in self.batches:
            yield [e for e in batch if since <= e.created_at < until]

    async def append_audit(self, entry: AuditEntry, now: float) -> AuditEntry:
        raise NotImplementedError

    async def audit(self, limit: int, before: str | None = None) -> Page:
        raise NotImplementedError


def entry(n: int) -> RequestEntry:
    return RequestEntry(f"req_{n}", float(n), "generations", 200)


async def wait_for(condition: object, seconds: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.005)


async def test_entries_are_written_in_batches_in_the_background() -> None:
    journal = ListJournal()
    recorder = Recorder(journal, RecorderOptions(interval=0.01, batch=3))
    recorder.start()
    for n in range(7):
        recorder.record(entry(n))
    await wait_for(lambda: sum(map(len, journal.batches)) == 7)
    assert all(len(batch) <= 3 for batch in journal.batches)
    assert [e.request_id for b in journal.batches for e in b] == [f"req_{n}" for n in range(7)]
    await recorder.aclose()


async def test_a_hanging_journal_never_blocks_recording_and_overflow_is_counted() -> None:
    journal = ListJournal()
    journal.hang = asyncio.Event()
    dropped: list[int] = []
    recorder = Recorder(
        journal, RecorderOptions(interval=0.01, batch=2, max_buffered=4), on_dropped=dropped.append
    )
    recorder.start()
    recorder.record(entry(0))
    recorder.record(entry(1))
    await asyncio.sleep(0.05)
    for n in range(2, 10):
        recorder.record(entry(n))
    assert sum(dropped) == 4
    journal.hang.set()
    await wait_for(lambda: sum(map(len, journal.batches)) == 6)
    await recorder.aclose()


async def test_a_failing_journal_drops_batches_and_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    journal = ListJournal()
    journal.fail = True
    dropped: list[int] = []
    recorder = Recorder(journal, RecorderOptions(batch=2), on_dropped=dropped.append)
    with caplog.at_level(logging.INFO, logger="gateway.requests"):
        for n in range(6):
            recorder.record(entry(n))
        await recorder.flush()
        journal.fail = False
        recorder.record(entry(6))
        await recorder.flush()
    assert sum(dropped) == 6
    assert [r.levelname for r in caplog.records] == ["WARNING", "INFO"]
    assert journal.batches == [[entry(6)]]
