"""The store contract for key search and rotation: both stores page and rotate alike."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import orjson
import pytest
import redis

from gateway.store import key_search
from gateway.store.base import Store
from gateway.store.errors import StorageConflict, StorageNotFound
from gateway.store.key_search import KeySearch
from gateway.store.memory import MemoryStore
from gateway.store.redis import RedisStore
from gateway.store.types import KeyRecord, TeamRecord
from tests.store.conftest import Age, FakeClock

T0 = 1_800_000_000.0


def key(key_id: str, name: str = "k", created_at: float = T0, **fields: object) -> KeyRecord:
    return KeyRecord(
        id=key_id,
        name=name,
        key_hash=key_id.encode().hex().ljust(64, "0"),
        prefix="gwk_x",
        created_at=created_at,
        **fields,  # type: ignore[arg-type]
    )


async def pages(store: Store, search: KeySearch) -> list[list[str]]:
    """The ids of every page of ``search``, following ``next_after`` to the end."""
    found: list[list[str]] = []
    after = None
    while True:
        page = await store.search_keys(replace(search, after=after))
        found.append([r.id for r in page.records])
        if not page.has_more:
            assert page.next_after is None
            return found
        after = page.next_after


async def test_pages_come_in_creation_order_with_ties_by_id(store: Store) -> None:
    for key_id, at in (("key_b", T0), ("key_a", T0), ("key_c", T0 - 1), ("key_d", T0 + 0.5)):
        await store.insert_key(key(key_id, created_at=at))
    assert await pages(store, KeySearch(limit=2)) == [["key_c", "key_a"], ["key_b", "key_d"]]
    everything = await store.search_keys(KeySearch(limit=10))
    assert [r.id for r in everything.records] == ["key_c", "key_a", "key_b", "key_d"]
    assert not everything.has_more and everything.next_after is None


async def test_q_reads_names_from_the_prefix_on_ignoring_case(store: Store) -> None:
    for i, name in enumerate(["Beta", "alphabet", "ALPHA-2", "alpha", "gamma", "Straße"]):
        await store.insert_key(key(f"key_{i}", name, T0 + i))
    assert await pages(store, KeySearch(limit=2, q="ALP")) == [["key_3", "key_2"], ["key_1"]]
    assert [r.name for r in (await store.search_keys(KeySearch(limit=9, q="strass"))).records] == [
        "Straße"
    ]
    gamma = await store.get_key("key_4")
    assert gamma is not None
    renamed = replace(gamma, name="alpine", version=2)
    await store.update_key(renamed)
    assert [r.id for r in (await store.search_keys(KeySearch(limit=9, q="alp"))).records] == [
        "key_3",
        "key_2",
        "key_1",
        "key_4",
    ]
    assert (await store.search_keys(KeySearch(limit=9, q="gam"))).records == []
    assert (await store.search_keys(KeySearch(limit=9, q="zzz"))).records == []


async def test_team_and_status_filters_and_a_cursor_outside_the_stretch(store: Store) -> None:
    for team_id in ("team_a", "team_b"):
        await store.insert_team(TeamRecord(team_id, team_id, T0))
    await store.insert_key(key("key_1", "one", T0 + 1, team_id="team_a"))
    await store.insert_key(key("key_2", "two", T0 + 2, team_id="team_b"))
    await store.insert_key(key("key_3", "three", T0 + 3, team_id="team_a"))
    await store.insert_key(key("key_4", "four", T0 + 4))
    await store.update_key(
        key("key_3", "three", T0 + 3, team_id="team_a", revoked_at=T0, version=2)
    )
    await store.update_key(key("key_2", "two", T0 + 2, team_id="team_a", version=2))
    in_a = await store.search_keys(KeySearch(limit=9, team_id="team_a"))
    assert [r.id for r in in_a.records] == ["key_1", "key_2", "key_3"]
    assert (await store.search_keys(KeySearch(limit=9, team_id="team_b"))).records == []
    after_four = await store.search_keys(KeySearch(limit=9, team_id="team_a", after="key_4"))
    assert after_four.records == []
    after_one = await store.search_keys(KeySearch(limit=9, team_id="team_a", after="key_1"))
    assert [r.id for r in after_one.records] == ["key_2", "key_3"]
    revoked = await store.search_keys(KeySearch(limit=9, status="revoked"))
    assert [r.id for r in revoked.records] == ["key_3"]
    named = await store.search_keys(KeySearch(limit=9, q="t", team_id="team_a", status="active"))
    assert [r.id for r in named.records] == ["key_2"]
    with pytest.raises(StorageNotFound):
        await store.search_keys(KeySearch(limit=9, after="key_missing"))


async def test_a_rare_filter_reads_a_bounded_stretch_and_says_where_to_go_on(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(key_search, "SCAN_BUDGET", 3)
    for i in range(7):
        await store.insert_key(key(f"key_{i}", created_at=T0 + i, disabled=i == 5))
    first = await store.search_keys(KeySearch(limit=1, status="disabled"))
    assert (first.records, first.has_more, first.next_after) == ([], True, "key_2")
    second = await store.search_keys(KeySearch(limit=1, status="disabled", after="key_2"))
    assert ([r.id for r in second.records], second.has_more) == (["key_5"], True)
    last = await store.search_keys(KeySearch(limit=1, status="disabled", after="key_5"))
    assert (last.records, last.has_more, last.next_after) == ([], False, None)


def rotated(record: KeyRecord, new_hash: str, until: float | None) -> KeyRecord:
    return replace(
        record,
        key_hash=new_hash,
        version=record.version + 1,
        previous_hash=record.key_hash if until is not None else None,
        previous_until=until,
    )


async def test_a_previous_hash_finds_the_key_until_its_grace_ends(
    store: Store, clock: FakeClock, age: Age
) -> None:
    record = key("key_1", "app")
    await store.insert_key(record)
    first = rotated(record, "1" * 64, clock.now + 60)
    await store.rotate_key(first, 60)
    assert await store.find_key("1" * 64) == first
    assert await store.find_key(record.key_hash) == first
    assert await store.get_key("key_1") == first
    renamed = replace(first, name="app-2", version=first.version + 1)
    await store.update_key(renamed)
    assert await store.find_key(record.key_hash) == renamed
    await age(61)
    assert await store.find_key(record.key_hash) is None
    assert await store.find_key("1" * 64) == renamed


async def test_without_grace_and_on_a_second_rotation_older_secrets_stop_at_once(
    store: Store, clock: FakeClock
) -> None:
    record = key("key_1")
    await store.insert_key(record)
    first = rotated(record, "1" * 64, clock.now + 600)
    await store.rotate_key(first, 600)
    second = rotated(first, "2" * 64, clock.now + 600)
    await store.rotate_key(second, 600)
    assert await store.find_key(record.key_hash) is None
    assert await store.find_key("1" * 64) == second
    third = rotated(second, "3" * 64, None)
    await store.rotate_key(third, 0)
    assert [await store.find_key(h * 64) for h in "123"] == [None, None, third]
    assert await store.find_key(record.key_hash) is None


async def test_a_rotation_that_lost_a_race_changes_nothing(store: Store, clock: FakeClock) -> None:
    record = key("key_1")
    other = key("key_2")
    await store.insert_key(record)
    await store.insert_key(other)
    winner = rotated(record, "1" * 64, clock.now + 60)
    await store.rotate_key(winner, 60)
    with pytest.raises(StorageConflict):
        await store.rotate_key(rotated(record, "2" * 64, clock.now + 60), 60)
    with pytest.raises(StorageConflict):
        await store.rotate_key(rotated(winner, other.key_hash, None), 0)
    with pytest.raises(StorageNotFound):
        await store.rotate_key(rotated(key("key_missing"), "3" * 64, None), 0)
    assert await store.get_key("key_1") == winner
    assert await store.find_key("2" * 64) is None
    assert await store.find_key(other.key_hash) == other


async def test_the_embedded_store_keeps_a_rotation_and_its_index_over_a_restart(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "store.db"
    store = MemoryStore(path, cache_max_bytes=1000, clock=clock)
    await store.start()
    record = key("key_1", "Mobile")
    await store.insert_key(record)
    first = rotated(record, "1" * 64, clock.now + 60)
    await store.rotate_key(first, 60)
    await store.aclose()
    again = MemoryStore(path, cache_max_bytes=1000, clock=clock)
    await again.start()
    assert await again.find_key(record.key_hash) == first
    assert (await again.search_keys(KeySearch(limit=5, q="mob"))).records == [first]
    clock.now += 61
    assert await again.find_key(record.key_hash) is None
    await again.aclose()


async def test_redis_indexes_keys_written_before_the_index_on_the_first_search(
    redis_url: str,
) -> None:
    store = RedisStore.from_url(redis_url)
    await store.start()
    client = redis.Redis.from_url(redis_url)
    try:
        for i, name in enumerate(["Old-one", "old-two"]):
            record = key(f"key_{i}", name, T0 + i)
            client.set(f"gw:key:{record.id}", orjson.dumps(record.to_dict()))
            client.zadd("gw:keys", {record.id: record.created_at})
        await store.insert_key(key("key_9", "older", T0 + 9))
        found = await store.search_keys(KeySearch(limit=9, q="old"))
        assert [r.name for r in found.records] == ["Old-one", "old-two", "older"]
        assert client.exists("gw:keyindex:built")
    finally:
        client.close()
        await store.aclose()
