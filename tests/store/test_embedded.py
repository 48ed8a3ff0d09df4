"""What only the embedded store does: persistence and a byte-bounded LRU."""

from __future__ import annotations

from pathlib import Path

from gateway.store.memory import MemoryStore
from gateway.store.types import CacheEntry, KeyRecord, Limits
from tests.store.test_contract import T0, admit, window


async def test_keys_secret_and_quotas_survive_restart(tmp_path: Path) -> None:
    path = tmp_path / "s" / "store.json"
    first = MemoryStore(path, cache_max_bytes=100)
    await first.start()
    record = KeyRecord(
        id="k",
        name="n",
        key_hash="h" * 64,
        prefix="p",
        created_at=T0,
        limits=Limits(images_per_day=3),
    )
    await first.insert_key(record)
    await first.server_secret(b"s3cret")
    await admit(first, record, 2)
    await first.settle("k", "r", 2, window())
    await first.aclose()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    second = MemoryStore(path, cache_max_bytes=100)
    await second.start()
    assert await second.get_key("k") == record
    assert await second.server_secret(b"other") == b"s3cret"
    states = await second.limit_states("k", record.limits, window())
    assert states["images_per_day"].remaining == 1
    await second.aclose()


async def test_lru_evicts_by_bytes() -> None:
    store = MemoryStore(None, cache_max_bytes=10, clock=lambda: T0)
    for name in ("a", "b", "c"):
        await store.cache_put(name, CacheEntry(b"xxxx", T0, T0 + 60, 1), T0)
    assert await store.cache_get("a", T0) is None
    assert await store.cache_get("c", T0) is not None
    assert (await store.cache_stats()).bytes == 8
