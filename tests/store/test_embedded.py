"""What only the embedded store does: its database file, the lock on it, the old JSON file's
import, and the background writes that keep the event loop off the disk."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from gateway.store.embedded.schema import MIGRATIONS
from gateway.store.errors import StorageLocked, StorageUnavailable
from gateway.store.memory import MemoryStore
from gateway.store.types import USAGE_TTL, CacheEntry, KeyRecord, Limits
from tests.store.conftest import FakeClock
from tests.store.test_contract import T0, admit, window

DAY = "2027-01-15"


def key(key_id: str = "k", **limits: int) -> KeyRecord:
    return KeyRecord(
        id=key_id,
        name="n",
        key_hash=key_id.ljust(64, "h"),
        prefix="p",
        created_at=T0,
        limits=Limits(**limits),
    )


def rows(path: Path, table: str) -> int:
    """Rows left in one table of the database file, read as an operator would."""
    with sqlite3.connect(path) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608


async def test_keys_secret_and_quotas_survive_restart(tmp_path: Path) -> None:
    path = tmp_path / "s" / "store.db"
    first = MemoryStore(path, cache_max_bytes=100)
    await first.start()
    record = key(images_per_day=3)
    await first.insert_key(record)
    await first.server_secret(b"s3cret")
    await admit(first, record, 2)
    await first.settle("k", "r", 2, window())
    await first.aclose()
    for name in ("store.db", "store.db.lock"):
        assert oct((path.parent / name).stat().st_mode & 0o777) == "0o600"
    second = MemoryStore(path, cache_max_bytes=100)
    await second.start()
    assert await second.get_key("k") == record
    assert await second.find_key(record.key_hash) == record
    assert await second.server_secret(b"other") == b"s3cret"
    states = await second.limit_states("k", record.limits, window())
    assert states["images_per_day"].remaining == 1
    usage = await second.usage("k", [DAY])
    assert usage[0].counters == {"requests": 1, "images": 2}
    await second.aclose()


async def test_reservations_of_a_stopped_process_are_given_back(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    first = MemoryStore(path, cache_max_bytes=100)
    await first.start()
    record = key(images_per_day=3)
    await first.insert_key(record)
    await admit(first, record, 3, rid="in-flight")
    assert (await admit(first, record, 1, rid="b")).refused_by == "images_per_day"
    await first.aclose()
    second = MemoryStore(path, cache_max_bytes=100)
    await second.start()
    states = await second.limit_states("k", record.limits, window())
    assert states["images_per_day"].remaining == 3
    await second.aclose()


async def test_a_second_store_on_the_path_is_refused_naming_the_holder(tmp_path: Path) -> None:
    path = (tmp_path / "store.db").resolve()
    first = MemoryStore(path, cache_max_bytes=100)
    await first.start()
    second = MemoryStore(tmp_path / "store.json", cache_max_bytes=100)
    with pytest.raises(StorageLocked) as refused:
        await second.start()
    assert refused.value.pid == os.getpid()
    assert str(path) in refused.value.message and f"pid {os.getpid()}" in refused.value.message
    await first.insert_key(key())
    await first.aclose()
    await second.start()
    assert await second.get_key("k") == key()
    await second.aclose()


async def test_unreadable_databases_are_refused_with_their_path(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"not a database at all" * 100)
    blocked = tmp_path / "file" / "store.db"
    (tmp_path / "file").write_text("a file where a directory should be")
    newer = tmp_path / "newer.db"
    with sqlite3.connect(newer) as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    for path, says in ((corrupt, "not a database"), (blocked, "directory"), (newer, "newer")):
        store = MemoryStore(path, cache_max_bytes=100)
        with pytest.raises(StorageUnavailable) as refused:
            store.open()
        assert str(path.resolve()) in refused.value.message and says in refused.value.message
        await store.aclose()
    assert corrupt.read_bytes() == b"not a database at all" * 100


def legacy_file(path: Path, secret: str = "ab" * 16) -> None:
    """A store file as the JSON store of earlier versions wrote it."""
    data = {
        "keys": [key("old", images_per_day=5).to_dict()],
        "secret": secret,
        "counters": {"old:d:2027-01-15": 2, "old:m:2027-01": 4},
        "usage": {"old:2027-01-15": {"requests": 3, "images": 2}, "old:2020-01-01": {"images": 1}},
    }
    path.write_bytes(orjson.dumps(data))


async def test_the_old_json_store_is_imported_once(tmp_path: Path) -> None:
    legacy = tmp_path / "store.json"
    legacy_file(legacy)
    clock = FakeClock(T0)
    store = MemoryStore(legacy, cache_max_bytes=100, clock=clock)
    await store.start()
    assert store.database.path == (tmp_path / "store.db").resolve()
    assert not legacy.exists() and (tmp_path / "store.json.imported").exists()
    assert await store.get_key("old") == key("old", images_per_day=5)
    assert await store.server_secret(b"new") == bytes.fromhex("ab" * 16)
    states = await store.limit_states("old", Limits(images_per_day=5), window())
    assert states["images_per_day"].remaining == 3
    old_usage = await store.usage("old", [DAY, "2020-01-01"])
    assert [u.counters for u in old_usage] == [{"requests": 3, "images": 2}, {}]
    await store.aclose()
    legacy_file(legacy)
    again = MemoryStore(tmp_path / "store.db", cache_max_bytes=100, clock=clock)
    await again.start()
    assert [u.counters for u in await again.usage("old", [DAY])] == [{"requests": 3, "images": 2}]
    await again.aclose()


async def test_an_old_store_that_cannot_be_imported_stops_start_up(tmp_path: Path) -> None:
    legacy = tmp_path / "store.json"
    legacy.write_text('{"keys": [{"id": "broken"}]')
    store = MemoryStore(legacy, cache_max_bytes=100)
    with pytest.raises(StorageUnavailable) as refused:
        await store.start()
    assert str(legacy.resolve()) in refused.value.message and legacy.exists()
    legacy.unlink()
    other = MemoryStore(legacy, cache_max_bytes=100)
    await other.start()
    await other.server_secret(b"another secret")
    await other.aclose()
    legacy_file(legacy)
    mismatched = MemoryStore(legacy, cache_max_bytes=100)
    with pytest.raises(StorageUnavailable) as refused:
        await mismatched.start()
    assert "another server secret" in refused.value.message and legacy.exists()


async def test_expired_counters_and_usage_leave_memory_and_disk(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    clock = FakeClock(T0)
    store = MemoryStore(path, cache_max_bytes=100, clock=clock)
    await store.start()
    record = key(images_per_day=5)
    await store.insert_key(record)
    await admit(store, record, 2)
    await store.settle("k", "r", 2, window())
    await store.flush()
    assert rows(path, "usage") == 2 and rows(path, "quota") == 2
    clock.now += USAGE_TTL + 1
    await store.prune()
    assert rows(path, "usage") == 0 and rows(path, "quota") == 0
    assert rows(path, "keys") == 1
    await store.aclose()


async def test_a_failed_flush_keeps_its_counters_for_the_next(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = MemoryStore(path, cache_max_bytes=100, busy_timeout=0.1)
    await store.start()
    record = key(images_per_day=5)
    await store.insert_key(record)
    await admit(store, record, 2)
    await store.settle("k", "r", 2, window())
    with sqlite3.connect(path, isolation_level=None) as other:
        other.execute("BEGIN IMMEDIATE")
        await store.flush()
        with pytest.raises(StorageUnavailable):
            await store.ping()
        await admit(store, record, 1, rid="s")
        other.execute("ROLLBACK")
    await store.flush()
    await store.ping()
    assert rows(path, "usage") == 2
    usage = await store.usage("k", [DAY])
    assert usage[0].counters == {"requests": 2, "images": 2}
    await store.aclose()


async def test_usage_read_while_a_flush_is_encoded_misses_nothing(tmp_path: Path) -> None:
    store = MemoryStore(tmp_path / "store.db", cache_max_bytes=100)
    await store.start()
    record = key()
    await store.insert_key(record)
    days = [f"2027-{1 + i // 28:02d}-{1 + i % 28:02d}" for i in range(336)]
    for day in days:
        for rid in ("a", "b"):
            await admit(store, record, 1, rid=rid, day=day)
            await store.settle("k", rid, 1, window(day=day))
    flushing = asyncio.create_task(store.flush())
    await asyncio.sleep(0)
    assert not flushing.done()
    usage = await store.usage("k", days)
    assert all(u.counters == {"requests": 2, "images": 2} for u in usage)
    await flushing
    assert rows(tmp_path / "store.db", "usage") == 2 * len(days)
    await store.aclose()


async def test_a_key_write_completes_when_its_caller_gives_up(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = MemoryStore(path, cache_max_bytes=100)
    await store.start()
    writing = asyncio.create_task(store.insert_key(key()))
    await asyncio.sleep(0)
    writing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await writing
    await store.aclose()
    assert rows(path, "keys") == 1
    again = MemoryStore(path, cache_max_bytes=100)
    await again.start()
    await again.update_key(replace(key(), version=2))
    assert (await again.get_key("k")) == replace(key(), version=2)
    await again.aclose()


async def test_lru_evicts_by_bytes() -> None:
    store = MemoryStore(None, cache_max_bytes=10, clock=lambda: T0)
    for name in ("a", "b", "c"):
        await store.cache_put(name, CacheEntry(b"xxxx", T0, T0 + 60, 1), T0)
    assert await store.cache_get("a", T0) is None
    assert await store.cache_get("c", T0) is not None
    assert (await store.cache_stats()).bytes == 8
