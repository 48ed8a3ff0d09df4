"""The embedded journal's own edges: its file, a locked or unopenable database, and the
indexes that keep a filtered page to the rows it returns."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from gateway.store.errors import StorageUnavailable
from gateway.store.journal import AuditEntry, RequestQuery
from gateway.store.sqlite_journal import SCHEMA, SqliteJournal, page_sql
from tests.store.test_journal import T0, entry


async def test_an_export_larger_than_a_batch_comes_whole_and_in_order(tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "big.sqlite3", max_requests=5000)
    await journal.start()
    await journal.append_requests([entry(n, created_at=T0 + n // 3) for n in range(2500)])
    batches = [b async for b in journal.export_requests(T0, T0 + 10_000)]
    assert len(batches) == 3
    assert [e.request_id for b in batches for e in b] == [f"req_{n}" for n in range(2500)]
    await journal.aclose()


async def test_the_file_is_private_in_wal_mode_and_outlives_the_process(tmp_path: Path) -> None:
    path = tmp_path / "data" / "journal.sqlite3"
    journal = SqliteJournal(path)
    await journal.start()
    await journal.append_requests([entry(1), entry(2)])
    await journal.append_audit(
        AuditEntry(T0, "key.create", "key", "key_1", "app", "admin:ab12"), now=T0
    )
    await journal.aclose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    again = SqliteJournal(path)
    await again.start()
    assert [e.request_id for e in (await again.requests(RequestQuery())).entries] == [
        "req_2",
        "req_1",
    ]
    assert [e.action for e in (await again.audit(10)).entries] == ["key.create"]
    await again.aclose()


async def test_a_locked_database_fails_writes_promptly_and_works_again_after(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.sqlite3"
    journal = SqliteJournal(path, busy_timeout=0.05)
    await journal.start()
    await journal.append_requests([entry(1)])
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StorageUnavailable, match="locked"):
            await journal.append_requests([entry(2)])
        with pytest.raises(StorageUnavailable):
            await journal.append_audit(AuditEntry(T0, "key.update", "key", "k", None, "a"), T0)
        readable = await journal.requests(RequestQuery())
        assert [e.request_id for e in readable.entries] == ["req_1"]
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    await journal.append_requests([entry(3)])
    assert [e.request_id for e in (await journal.requests(RequestQuery())).entries] == [
        "req_3",
        "req_1",
    ]
    await journal.aclose()


async def test_a_path_that_cannot_be_opened_fails_each_call_until_it_can(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the journal's directory should be")
    journal = SqliteJournal(blocker / "journal.sqlite3")
    with pytest.raises(StorageUnavailable, match="cannot be opened"):
        await journal.start()
    with pytest.raises(StorageUnavailable):
        await journal.append_requests([entry(1)])
    blocker.unlink()
    await journal.append_requests([entry(1)])
    assert len((await journal.requests(RequestQuery())).entries) == 1
    await journal.aclose()
    with pytest.raises(StorageUnavailable, match="closed"):
        await journal.requests(RequestQuery())


def plan(conn: sqlite3.Connection, query: RequestQuery) -> str:
    sql, params = page_sql(query)
    return " | ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))


@pytest.mark.parametrize(
    "query",
    [
        RequestQuery(key_id="key_a"),
        RequestQuery(team_id="team_1", before="100"),
        RequestQuery(model="flux/schnell"),
        RequestQuery(status=429),
        RequestQuery(key_id="key_a", status=500, before="40"),
        RequestQuery(status="4xx", before="5000"),
    ],
)
def test_each_filter_reads_its_index_in_page_order(query: RequestQuery) -> None:
    conn = sqlite3.connect(":memory:")
    conn.executescript(SCHEMA)
    found = plan(conn, query)
    assert "USING INDEX requests_by_" in found, found
    assert "TEMP B-TREE" not in found and "SCAN" not in found, found


async def test_reading_before_the_file_exists_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    journal = SqliteJournal(path)
    with pytest.raises(StorageUnavailable):
        await journal.requests(RequestQuery())
    assert not path.exists()
    await journal.start()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (await journal.requests(RequestQuery())).entries == []
    await journal.aclose()


async def test_a_path_with_uri_characters_is_a_plain_file_name(tmp_path: Path) -> None:
    path = tmp_path / "logs?mode=ro#1 %20" / "journal.sqlite3"
    journal = SqliteJournal(path)
    await journal.start()
    await journal.append_requests([entry(1)])
    assert len((await journal.requests(RequestQuery())).entries) == 1
    await journal.aclose()
    assert path.exists()
