"""The request log is written in batches off the request path; a slow or failing journal
costs a request nothing and is logged once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable, Sequence

import pytest

from gateway.observability.recorder import Recorder, RecorderOptions
from gateway.store.errors import StorageUnavailable
from gateway.store.journal import AuditEntry, Journal, Page, RequestEntry, RequestQuery


class ListJournal(Journal):
    """A journal in lists, which can be told to fail, to hang or to break."""

    def __init__(self) -> None:
        self.batches: list[list[RequestEntry]] = []
        self.audits: list[AuditEntry] = []
        self.fail = False
        self.broken = False
        self.hang: asyncio.Event | None = None

    async def _ready(self) -> None:
        if self.hang is not None:
            await self.hang.wait()
        if self.broken:
            raise KeyError("a bug in the journal")
        if self.fail:
            raise StorageUnavailable("The log store is unavailable.")

    async def append_requests(self, entries: Sequence[RequestEntry]) -> None:
        await self._ready()
        self.batches.append(list(entries))

    async def requests(self, query: RequestQuery) -> Page:
        raise NotImplementedError

    async def export_requests(
        self, since: float, until: float
    ) -> AsyncGenerator[list[RequestEntry], None]:
        for batch in self.batches:
            yield [e for e in batch if since <= e.created_at < until]

    async def append_audit(self, entry: AuditEntry, now: float) -> AuditEntry:
        await self._ready()
        self.audits.append(entry)
        return entry.with_id(str(len(self.audits)))

    async def audit(self, limit: int, before: str | None = None) -> Page:
        raise NotImplementedError


def entry(n: int) -> RequestEntry:
    return RequestEntry(f"req_{n}", float(n), "generations", 200)


def written(journal: ListJournal) -> list[str]:
    return [e.request_id for b in journal.batches for e in b]


async def wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.005)


class Drops:
    """The recorder's drop counts by reason."""

    def __init__(self) -> None:
        self.by_reason: dict[str, int] = {}

    def __call__(self, count: int, reason: str) -> None:
        self.by_reason[reason] = self.by_reason.get(reason, 0) + count


async def test_entries_are_written_in_batches_in_the_background() -> None:
    journal = ListJournal()
    recorder = Recorder(journal, RecorderOptions(interval=0.01, batch=3))
    recorder.start()
    for n in range(7):
        recorder.record(entry(n))
    await wait_for(lambda: len(written(journal)) == 7)
    assert all(len(batch) <= 3 for batch in journal.batches)
    assert written(journal) == [f"req_{n}" for n in range(7)]
    await recorder.aclose()


async def test_a_hanging_journal_never_blocks_recording_and_overflow_is_counted() -> None:
    journal = ListJournal()
    journal.hang = asyncio.Event()
    drops = Drops()
    recorder = Recorder(
        journal, RecorderOptions(interval=0.01, batch=2, max_buffered=4), on_dropped=drops
    )
    recorder.start()
    recorder.record(entry(0))
    recorder.record(entry(1))
    await wait_for(lambda: recorder.buffered == 0)
    for n in range(2, 10):
        recorder.record(entry(n))
    assert drops.by_reason == {"overflow": 4}
    journal.hang.set()
    await wait_for(lambda: len(written(journal)) == 6)
    await recorder.aclose()


async def test_a_failing_journal_drops_batches_and_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    journal = ListJournal()
    journal.fail = True
    drops = Drops()
    recorder = Recorder(journal, RecorderOptions(batch=2), on_dropped=drops)
    with caplog.at_level(logging.INFO, logger="gateway.requests"):
        for n in range(6):
            recorder.record(entry(n))
        await recorder.flush()
        journal.fail = False
        recorder.record(entry(6))
        await recorder.flush()
    assert drops.by_reason == {"failed": 6}
    assert [r.levelname for r in caplog.records] == ["WARNING", "INFO"]
    assert "The log store is unavailable." in caplog.records[0].getMessage()
    assert journal.batches == [[entry(6)]]


async def test_the_writer_outlives_a_journal_that_raises_anything() -> None:
    journal = ListJournal()
    journal.broken = True
    drops = Drops()
    recorder = Recorder(journal, RecorderOptions(interval=0.01, batch=1), on_dropped=drops)
    recorder.start()
    recorder.record(entry(0))
    await wait_for(lambda: drops.by_reason.get("failed") == 1)
    journal.broken = False
    recorder.record(entry(1))
    await wait_for(lambda: written(journal) == ["req_1"])
    await recorder.aclose()


async def test_shutdown_writes_what_is_buffered() -> None:
    journal = ListJournal()
    recorder = Recorder(journal, RecorderOptions(interval=3600, batch=100))
    recorder.start()
    for n in range(5):
        recorder.record(entry(n))
    await recorder.aclose()
    assert written(journal) == [f"req_{n}" for n in range(5)]


async def test_shutdown_with_a_hanging_journal_stops_in_time_and_counts_the_loss() -> None:
    journal = ListJournal()
    journal.hang = asyncio.Event()
    drops = Drops()
    recorder = Recorder(
        journal,
        RecorderOptions(interval=0.01, batch=2, shutdown_timeout=0.05),
        on_dropped=drops,
    )
    recorder.start()
    for n in range(5):
        recorder.record(entry(n))
    await wait_for(lambda: recorder.buffered == 3)
    await recorder.aclose()
    assert drops.by_reason == {"shutdown": 5}
    assert journal.batches == []


class Store:
    """The store's ping as the recorder's probe: it answers once ``up``."""

    def __init__(self) -> None:
        self.up = False
        self.pings = 0

    async def ping(self) -> None:
        self.pings += 1
        if not self.up:
            raise StorageUnavailable("Redis at 127.0.0.1:6379 does not answer.")


class RedisLikeJournal(ListJournal):
    beside_store = True


def told_store_is_down(
    journal: ListJournal, options: RecorderOptions
) -> tuple[Recorder, Store, Drops]:
    """A recorder told that the store reported its outage at start-up, with that store (down)
    and the recorder's drop counts."""
    store, drops = Store(), Drops()
    recorder = Recorder(journal, options, on_dropped=drops)
    recorder.store_outage_reported(store.ping)
    return recorder, store, drops


async def write_one(recorder: Recorder, n: int) -> None:
    """Record entry ``n`` and write it at once."""
    recorder.record(entry(n))
    await recorder.flush()


def loud(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


async def test_a_journal_beside_the_store_says_nothing_of_the_outage_the_store_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    journal = RedisLikeJournal()
    journal.fail = True
    recorder, store, drops = told_store_is_down(journal, RecorderOptions(interval=0.01, batch=1))
    with caplog.at_level(logging.INFO, logger="gateway.requests"):
        recorder.start()
        for n in range(3):
            recorder.record(entry(n))
        await wait_for(lambda: drops.by_reason.get("failed") == 3 and store.pings >= 2)
        assert loud(caplog) == []
        # The store answers again, with nothing to write meanwhile; when it fails later,
        # that is a new outage, and said.
        store.up = True
        pings = store.pings
        await wait_for(lambda: store.pings > pings)
        recorder.record(entry(3))
        await wait_for(lambda: drops.by_reason.get("failed") == 4)
    await recorder.aclose()
    assert loud(caplog) == ["the request log is failing: The log store is unavailable."]


async def test_a_journal_of_its_own_reports_its_outage_whatever_the_store_said(
    caplog: pytest.LogCaptureFixture,
) -> None:
    journal = ListJournal()
    journal.fail = True
    recorder, store, _ = told_store_is_down(journal, RecorderOptions(batch=1))
    with caplog.at_level(logging.INFO, logger="gateway.requests"):
        await write_one(recorder, 0)
    await recorder.aclose()
    assert loud(caplog) == ["the request log is failing: The log store is unavailable."]
    assert store.pings == 0


async def test_a_written_batch_ends_the_quiet_and_a_bug_is_never_quiet(
    caplog: pytest.LogCaptureFixture,
) -> None:
    journal = RedisLikeJournal()
    recorder, _, _ = told_store_is_down(journal, RecorderOptions(batch=1))
    with caplog.at_level(logging.INFO, logger="gateway.requests"):
        journal.broken = True
        await write_one(recorder, 0)
        assert loud(caplog) == ["the request log is failing: KeyError"]
        journal.broken = False
        await write_one(recorder, 1)
        journal.fail = True
        await write_one(recorder, 2)
    await recorder.aclose()
    assert loud(caplog) == [
        "the request log is failing: KeyError",
        "the request log is failing: The log store is unavailable.",
    ]


async def test_shutting_down_before_the_store_ever_answered_says_nothing_more(
    caplog: pytest.LogCaptureFixture,
) -> None:
    journal = RedisLikeJournal()
    journal.fail = True
    recorder, _, drops = told_store_is_down(journal, RecorderOptions(interval=3600))
    recorder.start()
    with caplog.at_level(logging.INFO, logger="gateway.requests"):
        recorder.record(entry(0))
        await recorder.aclose()
    assert drops.by_reason == {"failed": 1}
    assert loud(caplog) == []
