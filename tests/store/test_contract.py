"""The store contract: the embedded and the Redis store must decide exactly alike."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from gateway.store.base import Store
from gateway.store.errors import (
    StorageConflict,
    StorageError,
    StorageNotFound,
    StorageUnavailable,
)
from gateway.store.key_search import KeySearch
from gateway.store.memory import MemoryStore
from gateway.store.redis import RedisStore
from gateway.store.types import (
    USAGE_TTL,
    AdmitRequest,
    CacheEntry,
    CacheStats,
    CacheWrite,
    Decision,
    KeyRecord,
    Limits,
    Outcome,
    Settled,
    TeamRecord,
    Window,
    team_subject,
)
from gateway.testing.procs import start_redis, wait_until_async
from tests.store.conftest import Age, FakeClock

T0 = 1_800_000_000.0


def window(now: float = T0, day: str = "2027-01-15", month: str = "2027-01") -> Window:
    return Window(now=now, day=day, month=month, day_ends_in=3600, month_ends_in=86400)


async def make_key(store: Store, limits: Limits, key_id: str = "key_1") -> KeyRecord:
    record = KeyRecord(
        id=key_id,
        name="t",
        key_hash=key_id.ljust(64, "0"),
        prefix="gwk_x",
        created_at=T0,
        limits=limits,
    )
    await store.insert_key(record)
    return record


async def admit(
    store: Store,
    record: KeyRecord,
    images: int = 1,
    *,
    now: float = T0,
    rid: str = "r",
    ttl: float = 300,
    cache_key: str | None = None,
    day: str = "2027-01-15",
    month: str = "2027-01",
    flight_ttl: float | None = None,
) -> Decision:
    return await store.admit(
        AdmitRequest(
            key_id=record.id,
            key_version=record.version,
            limits=record.limits,
            images=images,
            reservation_id=rid,
            reservation_ttl=ttl,
            window=window(now, day, month),
            cache_key=cache_key,
            flight_ttl=flight_ttl,
        )
    )


async def test_key_crud_and_conflicts(store: Store) -> None:
    record = await make_key(store, Limits(rpm=5))
    assert await store.get_key("key_1") == record
    assert await store.find_key(record.key_hash) == record
    with pytest.raises(StorageConflict):
        await store.insert_key(record)
    changed = replace(record, name="new", version=2)
    await store.update_key(changed)
    assert (await store.list_keys()) == [changed]
    with pytest.raises(StorageNotFound):
        await store.update_key(replace(record, id="key_missing"))
    assert await store.find_key("f" * 64) is None


async def test_stale_version_changes_nothing(store: Store) -> None:
    record = await make_key(store, Limits(rpm=1))
    await store.update_key(replace(record, version=2))
    assert (await admit(store, record)).outcome is Outcome.STALE_KEY
    fresh = replace(record, version=2)
    assert (await admit(store, fresh)).outcome is Outcome.ADMITTED


async def test_rpm_window_edges(store: Store) -> None:
    record = await make_key(store, Limits(rpm=2))
    assert (await admit(store, record, rid="a")).outcome is Outcome.ADMITTED
    second = await admit(store, record, rid="b")
    assert second.outcome is Outcome.ADMITTED
    assert second.requests is not None and second.requests.remaining == 0
    third = await admit(store, record, rid="c")
    assert third.outcome is Outcome.RATE_LIMITED and third.refused_by == "rpm"
    assert third.retry_after == pytest.approx(30)
    assert (await admit(store, record, now=T0 + 29.9, rid="d")).outcome is Outcome.RATE_LIMITED
    assert (await admit(store, record, now=T0 + 30, rid="e")).outcome is Outcome.ADMITTED


async def test_images_all_or_nothing(store: Store) -> None:
    record = await make_key(store, Limits(images_per_minute=5, images_per_day=10))
    assert (await admit(store, record, 3, rid="a")).outcome is Outcome.ADMITTED
    refused = await admit(store, record, 3, rid="b")
    assert refused.outcome is Outcome.RATE_LIMITED and refused.refused_by == "images_per_minute"
    assert refused.images is not None and refused.images.remaining == 2
    assert (await admit(store, record, 2, rid="c")).outcome is Outcome.ADMITTED
    states = await store.limit_states(record.id, record.limits, window())
    assert states["images_per_day"].remaining == 5


async def test_impossible_requests_say_waiting_cannot_help(store: Store) -> None:
    record = await make_key(store, Limits(images_per_minute=2, rpm=0))
    refused = await admit(store, record, 3)
    assert refused.outcome is Outcome.RATE_LIMITED and refused.retry_after is None


async def test_quota_before_rate_and_roll_over(store: Store) -> None:
    record = await make_key(store, Limits(rpm=100, images_per_day=2, images_per_month=3))
    assert (await admit(store, record, 2, rid="a")).outcome is Outcome.ADMITTED
    await store.settle(record.id, "a", 2, window())
    day_full = await admit(store, record, 1, rid="b")
    assert day_full.outcome is Outcome.QUOTA_EXCEEDED
    assert day_full.refused_by == "images_per_day" and day_full.retry_after == 3600
    next_day = await admit(store, record, 1, rid="c", day="2027-01-16", now=T0 + 86400)
    assert next_day.outcome is Outcome.ADMITTED
    await store.settle(record.id, "c", 1, window(T0 + 86400, "2027-01-16"))
    month_full = await admit(store, record, 1, rid="d", day="2027-01-17", now=T0 + 2 * 86400)
    assert month_full.refused_by == "images_per_month"
    new_month = await admit(
        store, record, 2, rid="e", day="2027-02-01", month="2027-02", now=T0 + 20 * 86400
    )
    assert new_month.outcome is Outcome.ADMITTED


async def test_settle_gives_back_what_was_not_generated(store: Store) -> None:
    record = await make_key(store, Limits(images_per_day=4, images_per_minute=4))
    await admit(store, record, 3, rid="a")
    await store.settle(record.id, "a", 1, window(), {"cache_misses": 1})
    states = await store.limit_states(record.id, record.limits, window())
    assert states["images_per_day"].remaining == 3
    assert states["images_per_minute"].remaining == 3
    await admit(store, record, 3, rid="b")
    await store.settle(record.id, "b", 0, window())
    states = await store.limit_states(record.id, record.limits, window())
    assert states["images_per_day"].remaining == 3
    usage = await store.usage(record.id, ["2027-01-15", "2027-01-14"])
    assert usage[0].counters == {"requests": 2, "images": 1, "cache_misses": 1}
    assert usage[1].counters == {}


async def test_expired_reservation_is_reclaimed_and_late_settle_counts(store: Store) -> None:
    record = await make_key(store, Limits(images_per_day=2))
    await admit(store, record, 2, rid="lost", ttl=10)
    assert (await admit(store, record, 1, rid="x", now=T0 + 5)).outcome is (Outcome.QUOTA_EXCEEDED)
    assert (await admit(store, record, 2, rid="y", now=T0 + 11)).outcome is Outcome.ADMITTED
    await store.settle(record.id, "lost", 1, window(T0 + 12))
    states = await store.limit_states(record.id, record.limits, window(T0 + 12))
    assert states["images_per_day"].remaining == 0


async def test_retried_settle_counts_once(store: Store) -> None:
    record = await make_key(store, Limits(images_per_day=5))
    await admit(store, record, 2, rid="a")
    await store.settle(record.id, "a", 2, window(), {"cache_misses": 1})
    await store.settle(record.id, "a", 2, window(), {"cache_misses": 1}, retry=True)
    await store.settle(record.id, "never-admitted", 0, window(), retry=True)
    states = await store.limit_states(record.id, record.limits, window())
    assert states["images_per_day"].remaining == 3
    usage = await store.usage(record.id, ["2027-01-15"])
    assert usage[0].counters == {"requests": 1, "images": 2, "cache_misses": 1}


async def test_retried_release_gives_back_a_held_reservation(store: Store) -> None:
    record = await make_key(store, Limits(images_per_day=2))
    assert (
        await admit(store, record, 2, rid="lost-reply", cache_key="key_1:q", flight_ttl=60)
    ).leader
    await store.settle(record.id, "lost-reply", 0, window(), flight="flight:key_1:q", retry=True)
    assert (await admit(store, record, 2, rid="b")).outcome is Outcome.ADMITTED
    assert await store.flight_acquire("flight:key_1:q", "c", 60)


async def test_cache_hit_uses_rpm_but_no_images(store: Store) -> None:
    record = await make_key(store, Limits(rpm=2, images_per_day=1))
    entry = CacheEntry(b'{"data":[1]}', T0, T0 + 100, 1)
    await store.cache_put("key_1:abc", entry, T0)
    hit = await admit(store, record, 1, cache_key="key_1:abc", rid="a")
    assert hit.outcome is Outcome.HIT and hit.cached == entry
    assert (await admit(store, record, 1, cache_key="key_1:abc", rid="b")).outcome is (Outcome.HIT)
    limited = await admit(store, record, 1, cache_key="key_1:abc", rid="c")
    assert limited.outcome is Outcome.RATE_LIMITED
    usage = await store.usage(record.id, ["2027-01-15"])
    assert usage[0].counters["cache_hits"] == 2 and usage[0].counters["cached_images"] == 2
    assert usage[0].counters["refused"] == 1
    expired = await admit(store, record, 1, cache_key="key_1:abc", now=T0 + 100, rid="d")
    assert expired.outcome is Outcome.ADMITTED


async def test_cache_put_get_purge_stats(store: Store) -> None:
    await store.cache_put("k1:a", CacheEntry(b"aaaa", T0, T0 + 10, 1), T0)
    await store.cache_put("k1:b", CacheEntry(b"bb", T0, T0 + 10, 1), T0)
    await store.cache_put("k2:a", CacheEntry(b"c", T0, T0 + 10, 1), T0)
    assert await store.cache_stats() == CacheStats(entries=3, bytes=7)
    assert (await store.cache_get("k1:a", T0 + 9)) is not None
    assert (await store.cache_get("k1:a", T0 + 10)) is None
    assert await store.cache_purge("k1:") >= 1
    assert (await store.cache_get("k1:b", T0)) is None
    assert (await store.cache_get("k2:a", T0)) is not None
    assert await store.cache_purge() == 1


async def test_a_purge_prefix_is_literal_even_with_glob_characters(store: Store) -> None:
    for key in ("k*:a", "k1:a", "k?:a", "k[1]:a", "k\\:a"):
        await store.cache_put(key, CacheEntry(b"x", T0, T0 + 10, 1), T0)
    assert await store.cache_purge("k*") == 1
    assert await store.cache_purge("k[1]") == 1
    assert await store.cache_purge("k\\") == 1
    assert (await store.cache_get("k1:a", T0)) is not None
    assert (await store.cache_get("k?:a", T0)) is not None
    assert await store.cache_stats() == CacheStats(entries=2, bytes=2)


async def test_cache_stats_count_every_entry_and_byte_of_a_large_cache(store: Store) -> None:
    for i in range(1203):
        await store.cache_put(f"k{i}:a", CacheEntry(b"x" * (i % 7), T0, T0 + 10, 1), T0)
    assert await store.cache_stats() == CacheStats(1203, sum(i % 7 for i in range(1203)))


async def test_flight_lock(store: Store, clock: FakeClock) -> None:
    assert await store.flight_acquire("flight:x", "t1", 30)
    assert not await store.flight_acquire("flight:x", "t2", 30)
    assert not await store.flight_wait("flight:x", 0.05)
    waiter = asyncio.create_task(store.flight_wait("flight:x", 5))
    await store.flight_release("flight:x", "wrong")
    await store.flight_release("flight:x", "t1")
    assert await asyncio.wait_for(waiter, 5)
    assert await store.flight_acquire("flight:x", "t3", 30)


async def test_admission_elects_one_leader_and_settlement_hands_over_the_answer(
    store: Store,
) -> None:
    record = await make_key(store, Limits(images_per_day=10))
    first = await admit(store, record, 1, cache_key="key_1:q", rid="a", flight_ttl=30)
    second = await admit(store, record, 1, cache_key="key_1:q", rid="b", flight_ttl=30)
    assert first.outcome is second.outcome is Outcome.ADMITTED
    assert first.leader and not second.leader
    assert not (await admit(store, record, 1, cache_key="key_1:q", rid="c")).leader
    waiter = asyncio.create_task(store.flight_wait("flight:key_1:q", 5))
    entry = CacheEntry(b'{"data":[1]}', T0, T0 + 100, 1)
    await store.settle(record.id, "b", 0, window(), flight="flight:key_1:q")
    assert not await store.flight_acquire("flight:key_1:q", "z", 30)
    assert await store.cache_get("key_1:q", T0) is None
    await store.settle(
        record.id, "a", 1, window(), cache=CacheWrite("key_1:q", entry), flight="flight:key_1:q"
    )
    assert await asyncio.wait_for(waiter, 5)
    assert await store.cache_get("key_1:q", T0) == entry
    usage = await store.usage(record.id, ["2027-01-15"])
    assert usage[0].counters["images"] == 1
    hit = await admit(store, record, 1, cache_key="key_1:q", rid="d", flight_ttl=30)
    assert hit.outcome is Outcome.HIT and not hit.leader


async def test_refused_requests_never_take_the_lock(store: Store) -> None:
    record = await make_key(store, Limits(images_per_day=0))
    refused = await admit(store, record, 1, cache_key="key_1:q", rid="a", flight_ttl=30)
    assert refused.outcome is Outcome.QUOTA_EXCEEDED and not refused.leader
    assert await store.flight_acquire("flight:key_1:q", "other", 30)


async def test_server_secret_first_wins(store: Store) -> None:
    assert await store.server_secret(b"one") == b"one"
    assert await store.server_secret(b"two") == b"one"


async def test_usage_is_kept_100_days_after_its_last_write_then_dropped(
    store: Store, age: Age
) -> None:
    record = await make_key(store, Limits(images_per_day=5))
    await admit(store, record, 2, rid="a")
    await store.settle(record.id, "a", 2, window(), {"cache_misses": 1})
    await age(USAGE_TTL - 60)
    kept = await store.usage(record.id, ["2027-01-15"])
    assert kept[0].counters == {"requests": 1, "images": 2, "cache_misses": 1}
    await age(120)
    assert (await store.usage(record.id, ["2027-01-15"]))[0].counters == {}
    assert await store.get_key(record.id) == record


async def test_quota_counters_last_their_day_or_month_and_a_grace_period(
    store: Store, age: Age
) -> None:
    record = await make_key(store, Limits(images_per_day=5, images_per_month=10))
    await admit(store, record, 2, rid="a")
    await store.settle(record.id, "a", 2, window())

    async def remaining() -> tuple[int, int]:
        states = await store.limit_states(record.id, record.limits, window())
        return states["images_per_day"].remaining, states["images_per_month"].remaining

    await age(3600 + 3600 - 60)
    assert await remaining() == (3, 8)
    await age(120)
    assert await remaining() == (5, 8)
    await age(86400 + 86400 - 7200 - 120)
    assert await remaining() == (5, 8)
    await age(120)
    assert await remaining() == (5, 10)


@dataclass
class Failing:
    """A store whose backing service a test can break and mend."""

    store: Store
    fail: Callable[[], None]
    recover: Callable[[], None]


@pytest.fixture(params=["embedded", "redis"])
async def failing(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[Failing]:
    """Embedded: another connection holds the database's write lock (a backup, a sqlite3
    shell). Redis: the server is killed, then started again on its port."""
    if request.param == "embedded":
        path = tmp_path / "store.db"
        store: Store = MemoryStore(path, cache_max_bytes=1000, clock=clock, busy_timeout=0.2)
        await store.start()
        other = sqlite3.connect(path, isolation_level=None)

        def hold() -> None:
            other.execute("BEGIN IMMEDIATE")

        def let_go() -> None:
            other.execute("ROLLBACK")

        yield Failing(store, hold, let_go)
        other.close()
    else:
        proc = start_redis()
        store = RedisStore.from_url(
            f"redis://127.0.0.1:{proc.port}/0", socket_timeout=0.5, connect_timeout=0.5
        )
        await store.start()
        procs = [proc]

        def kill() -> None:
            procs[-1].stop(signal.SIGKILL)

        def restart() -> None:
            procs.append(start_redis(port=proc.port))

        yield Failing(store, kill, restart)
        procs[-1].stop()
    await store.aclose()


async def test_a_failed_backend_raises_storage_errors_only_and_recovers(failing: Failing) -> None:
    store = failing.store
    record = await make_key(store, Limits(images_per_day=5))
    assert (await admit(store, record, 1, rid="a")).outcome is Outcome.ADMITTED
    failing.fail()
    newer = replace(record, version=2, name="renamed")
    with pytest.raises(StorageUnavailable):
        await store.update_key(newer)
    with pytest.raises(StorageUnavailable):
        await store.server_secret(b"first")
    with pytest.raises(StorageUnavailable):
        await store.ping()
    entry = CacheEntry(b"{}", T0, T0 + 60, 1)
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "insert_key": lambda: store.insert_key(replace(record, id="key_2", key_hash="2" * 64)),
        "get_key": lambda: store.get_key(record.id),
        "find_key": lambda: store.find_key(record.key_hash),
        "list_keys": lambda: store.list_keys(),
        "search_keys": lambda: store.search_keys(KeySearch(limit=5, status="active")),
        "rotate_key": lambda: store.rotate_key(replace(record, key_hash="4" * 64, version=2), 9),
        "admit": lambda: admit(store, record, 1, rid="b", cache_key="key_1:q", flight_ttl=5),
        "settle": lambda: store.settle(record.id, "a", 1, window(), {"cache_misses": 1}),
        "limit_states": lambda: store.limit_states(record.id, record.limits, window()),
        "usage": lambda: store.usage(record.id, ["2027-01-15"]),
        "usage_of_day": lambda: store.usage_of_day("2027-01-15"),
        "key_counts": lambda: store.key_counts(T0),
        "cache_put": lambda: store.cache_put("key_1:q", entry, T0),
        "cache_get": lambda: store.cache_get("key_1:q", T0),
        "cache_purge": lambda: store.cache_purge("key_1:"),
        "cache_stats": lambda: store.cache_stats(),
        "flight_acquire": lambda: store.flight_acquire("flight:x", "t", 5),
        "flight_release": lambda: store.flight_release("flight:x", "t"),
        "flight_wait": lambda: store.flight_wait("flight:x", 0.1),
    }
    escaped = {}
    for name, call in calls.items():
        try:
            await call()
        except StorageError:
            pass
        except Exception as exc:
            escaped[name] = repr(exc)
    assert escaped == {}
    failing.recover()

    async def answers() -> bool:
        try:
            await store.ping()
        except StorageUnavailable:
            return False
        return True

    await wait_until_async(answers, timeout=15, what="the store to answer again")
    assert await store.server_secret(b"second") in (b"first", b"second")
    fresh = replace(record, id="key_3", key_hash="3" * 64)
    await store.insert_key(fresh)
    assert await store.get_key("key_3") == fresh


async def make_team(store: Store, limits: Limits, team_id: str = "team_1") -> TeamRecord:
    team = TeamRecord(id=team_id, name="design", created_at=T0, limits=limits)
    await store.insert_team(team)
    return team


async def spend(
    store: Store,
    record: KeyRecord,
    cost: int,
    *,
    team: TeamRecord | None = None,
    rid: str = "r",
    images: int = 1,
    now: float = T0,
    ttl: float = 300,
) -> Decision:
    """Admit a request estimated at ``cost`` nano-dollars for ``record`` (in ``team``)."""
    return await store.admit(
        AdmitRequest(
            key_id=record.id,
            key_version=record.version,
            limits=record.limits,
            images=images,
            reservation_id=rid,
            reservation_ttl=ttl,
            window=window(now),
            cost_nanos=cost,
            team_id=team.id if team is not None else None,
            team_version=team.version if team is not None else 0,
            team_limits=team.limits if team is not None else None,
        )
    )


async def settle_money(
    store: Store,
    record: KeyRecord,
    rid: str,
    images: int,
    cost: int,
    team: TeamRecord | None = None,
    *,
    retry: bool = False,
    now: float = T0,
) -> Settled:
    return await store.settle(
        record.id,
        rid,
        images,
        window(now),
        {"cache_misses": 1},
        record.limits,
        retry=retry,
        cost_nanos=cost,
        team_id=team.id if team is not None else None,
        team_limits=team.limits if team is not None else None,
    )


async def test_team_crud_and_the_live_keys_that_keep_a_team(store: Store) -> None:
    team = await make_team(store, Limits(usd_per_day=10**9))
    assert await store.get_team("team_1") == team
    with pytest.raises(StorageConflict):
        await store.insert_team(team)
    renamed = replace(team, name="ops", version=2, disabled=True)
    await store.update_team(renamed)
    assert await store.list_teams() == [renamed]
    with pytest.raises(StorageNotFound):
        await store.update_team(replace(team, id="team_missing"))
    with pytest.raises(StorageNotFound):
        await make_key_in(store, "team_missing")
    record = await make_key_in(store, "team_1")
    with pytest.raises(StorageConflict):
        await store.delete_team("team_1")
    await store.update_key(replace(record, revoked_at=T0, version=2))
    await store.delete_team("team_1")
    assert await store.get_team("team_1") is None and await store.list_teams() == []
    with pytest.raises(StorageNotFound):
        await store.delete_team("team_1")
    moved = await make_key_in(store, None, "key_2")
    await make_team(store, Limits(), "team_2")
    await store.update_key(replace(moved, team_id="team_2", version=2))
    with pytest.raises(StorageConflict):
        await store.delete_team("team_2")
    await store.update_key(replace(moved, team_id=None, version=3))
    await store.delete_team("team_2")


async def make_key_in(store: Store, team_id: str | None, key_id: str = "key_1") -> KeyRecord:
    record = KeyRecord(
        id=key_id,
        name="t",
        key_hash=key_id.ljust(64, "0"),
        prefix="gwk_x",
        created_at=T0,
        team_id=team_id,
    )
    await store.insert_key(record)
    return record


async def test_money_is_reserved_then_settled_to_the_charge(store: Store) -> None:
    record = await make_key(store, Limits(usd_per_day=100))
    assert (await spend(store, record, 60, rid="a")).outcome is Outcome.ADMITTED
    refused = await spend(store, record, 41, rid="b")
    assert (refused.outcome, refused.refused_by, refused.refused_level) == (
        Outcome.QUOTA_EXCEEDED,
        "usd_per_day",
        "key",
    )
    assert (refused.retry_after, refused.budget_left) == (3600, 40)
    settled = await settle_money(store, record, "a", 1, 35)
    assert settled.key == {
        "images:day": 1,
        "spend_nanos:day": 35,
        "images:month": 1,
        "spend_nanos:month": 35,
    }
    assert (await spend(store, record, 65, rid="c")).outcome is Outcome.ADMITTED
    states = await store.limit_states(record.id, record.limits, window())
    assert states["usd_per_day"].remaining == 0 and states["usd_per_day"].limit == 100
    await settle_money(store, record, "c", 0, 0)
    states = await store.limit_states(record.id, record.limits, window())
    assert states["usd_per_day"].remaining == 65
    usage = await store.usage(record.id, ["2027-01-15"])
    assert usage[0].counters["spend_nanos"] == 35 and usage[0].counters["images"] == 1
    never = await spend(store, record, 101, rid="d")
    assert never.refused_by == "usd_per_day" and never.retry_after is None
    assert never.budget_left == 65


async def test_a_charge_above_the_estimate_is_recorded_and_a_spent_budget_refuses_all(
    store: Store,
) -> None:
    record = await make_key(store, Limits(usd_per_month=100))
    await spend(store, record, 50, rid="a")
    await settle_money(store, record, "a", 1, 120)
    usage = await store.usage(record.id, ["2027-01-15"])
    assert usage[0].counters["spend_nanos"] == 120
    states = await store.limit_states(record.id, record.limits, window())
    assert states["usd_per_month"].remaining == 0
    free = await spend(store, record, 0, rid="b")
    assert (free.outcome, free.refused_by) == (Outcome.QUOTA_EXCEEDED, "usd_per_month")
    assert free.budget_left == 0
    nothing = await make_key(store, Limits(usd_per_day=0), "key_2")
    assert (await spend(store, nothing, 0)).refused_by == "usd_per_day"


async def test_nano_dollar_counters_stay_exact_near_the_largest_amount(store: Store) -> None:
    top = 2**53 - 1
    record = await make_key(store, Limits(usd_per_month=top))
    assert (await spend(store, record, top - 1, rid="a")).outcome is Outcome.ADMITTED
    assert (await spend(store, record, 2, rid="b")).outcome is Outcome.QUOTA_EXCEEDED
    assert (await spend(store, record, 1, rid="c")).outcome is Outcome.ADMITTED
    settled = await settle_money(store, record, "a", 1, top - 3)
    assert settled.key is not None and settled.key["spend_nanos:month"] == top - 3
    states = await store.limit_states(record.id, record.limits, window())
    assert states["usd_per_month"].remaining == 2


async def test_a_key_and_its_team_are_admitted_together_or_not_at_all(store: Store) -> None:
    team = await make_team(store, Limits(usd_per_day=100, images_per_day=5, rpm=10))
    first = await make_key_in(store, team.id)
    first = replace(first, limits=Limits(usd_per_day=30))
    await store.update_key(replace(first, version=2))
    first = replace(first, version=2)
    second = await make_key_in(store, team.id, "key_2")
    assert (await spend(store, first, 30, team=team, rid="a")).outcome is Outcome.ADMITTED
    key_full = await spend(store, first, 1, team=team, rid="b")
    assert (key_full.refused_by, key_full.refused_level, key_full.budget_left) == (
        "usd_per_day",
        "key",
        0,
    )
    assert (await spend(store, second, 70, team=team, rid="c")).outcome is Outcome.ADMITTED
    team_full = await spend(store, second, 1, team=team, rid="d")
    assert (team_full.refused_by, team_full.refused_level) == ("usd_per_day", "team")
    # Refused by the team, nothing was taken from the key either.
    states = await store.limit_states(second.id, Limits(usd_per_day=1000), window())
    assert states["usd_per_day"].remaining == 930
    settled = await settle_money(store, second, "c", 1, 50, team)
    assert settled.team is not None and settled.team["spend_nanos:day"] == 50
    assert settled.key is not None and settled.key["spend_nanos:day"] == 50
    team_states = await store.limit_states(team_subject(team.id), team.limits, window())
    assert team_states["usd_per_day"].remaining == 20
    assert team_states["images_per_day"].remaining == 3
    team_usage = await store.usage(team_subject(team.id), ["2027-01-15"])
    assert team_usage[0].counters["spend_nanos"] == 50
    assert team_usage[0].counters["requests"] == 4 and team_usage[0].counters["refused"] == 2
    too_dear = await spend(store, second, 21, team=team, rid="e")
    assert (too_dear.refused_level, too_dear.budget_left) == ("team", 20)
    await settle_money(store, first, "a", 0, 0, team)
    team_states = await store.limit_states(team_subject(team.id), team.limits, window())
    assert team_states["usd_per_day"].remaining == 50


async def test_a_changed_team_is_stale_and_its_limits_apply_to_every_key(store: Store) -> None:
    team = await make_team(store, Limits(rpm=1))
    record = await make_key_in(store, team.id)
    assert (await spend(store, record, 0, team=team, rid="a")).outcome is Outcome.ADMITTED
    limited = await spend(store, await make_key_in(store, team.id, "key_2"), 0, team=team)
    assert (limited.outcome, limited.refused_level) == (Outcome.RATE_LIMITED, "team")
    await store.update_team(replace(team, disabled=True, version=2))
    stale = await spend(store, record, 0, team=team, rid="b", now=T0 + 60)
    assert stale.outcome is Outcome.STALE_KEY


async def test_expired_reservations_give_money_back_to_key_and_team(store: Store) -> None:
    team = await make_team(store, Limits(usd_per_day=100))
    record = await make_key_in(store, team.id)
    await spend(store, record, 100, team=team, rid="lost", ttl=10)
    assert (await spend(store, record, 1, team=team, rid="x", now=T0 + 5)).outcome is (
        Outcome.QUOTA_EXCEEDED
    )
    assert (await spend(store, record, 100, team=team, rid="y", now=T0 + 11)).outcome is (
        Outcome.ADMITTED
    )
    late = await settle_money(store, record, "lost", 1, 40, team, now=T0 + 12)
    assert late.team is not None and late.team["spend_nanos:day"] == 40
    states = await store.limit_states(team_subject(team.id), team.limits, window(T0 + 12))
    assert states["usd_per_day"].remaining == 0


async def test_a_retried_settlement_of_money_counts_once(store: Store) -> None:
    team = await make_team(store, Limits(usd_per_day=100))
    record = await make_key_in(store, team.id)
    await spend(store, record, 60, team=team, rid="a")
    await settle_money(store, record, "a", 1, 60, team)
    again = await settle_money(store, record, "a", 1, 60, team, retry=True)
    assert again == Settled()
    usage = await store.usage(team_subject(team.id), ["2027-01-15"])
    assert usage[0].counters["spend_nanos"] == 60


async def test_a_claim_is_won_once(store: Store) -> None:
    assert await store.claim("alert:team:t:usd_per_day:0.8:2027-01-15", 60)
    assert not await store.claim("alert:team:t:usd_per_day:0.8:2027-01-15", 60)
    assert await store.claim("alert:team:t:usd_per_day:1.0:2027-01-15", 60)


async def test_a_days_usage_of_every_subject_that_made_a_request_that_day(store: Store) -> None:
    team = await make_team(store, Limits())
    member = await make_key_in(store, team.id, "key_1")
    loner = await make_key(store, Limits(), "key_2")
    await make_key(store, Limits(), "key_idle")
    await spend(store, member, 5, team=team, rid="a", images=2)
    await settle_money(store, member, "a", 2, 7, team)
    await admit(store, loner, 1, rid="b")
    await store.settle(loner.id, "b", 1, window(), {"cache_misses": 1})
    if isinstance(store, MemoryStore):
        await store.flush()  # what was written and what is still pending both count
    await admit(store, loner, 1, rid="d")
    await admit(store, loner, 1, rid="c", day="2027-01-16")
    today = await store.usage_of_day("2027-01-15")
    assert today == {
        "key_1": {"requests": 1, "images": 2, "spend_nanos": 7, "cache_misses": 1},
        "team:team_1": {"requests": 1, "images": 2, "spend_nanos": 7, "cache_misses": 1},
        "key_2": {"requests": 2, "images": 1, "cache_misses": 1},
    }
    assert await store.usage_of_day("2027-01-16") == {"key_2": {"requests": 1}}
    assert await store.usage_of_day("2027-01-14") == {}


async def test_a_call_settled_after_midnight_counts_in_the_new_days_usage(store: Store) -> None:
    """The overview of the new day lists a key whose only use that day is a call admitted
    before midnight and settled after it."""
    record = await make_key(store, Limits(), "key_1")
    await admit(store, record, 2, rid="late")
    await store.settle(record.id, "late", 2, window(T0 + 3600, "2027-01-16"), {"cache_misses": 1})
    assert await store.usage_of_day("2027-01-16") == {"key_1": {"images": 2, "cache_misses": 1}}
    assert (await store.usage(record.id, ["2027-01-16"]))[0].counters["images"] == 2


async def test_keys_are_counted_by_status_from_the_index(store: Store) -> None:
    assert await store.key_counts(T0) == {
        "total": 0, "active": 0, "disabled": 0, "revoked": 0, "expired": 0
    }  # fmt: skip
    plain = await make_key(store, Limits(), "key_1")
    expiring = replace(plain, id="key_2", key_hash="2" * 64, expires_at=T0 + 60)
    await store.insert_key(expiring)
    disabled = replace(plain, id="key_3", key_hash="3" * 64, disabled=True, expires_at=T0)
    await store.insert_key(disabled)
    revoked = replace(plain, id="key_4", key_hash="4" * 64, disabled=True, revoked_at=T0)
    await store.insert_key(revoked)
    assert await store.key_counts(T0) == {
        "total": 4, "active": 2, "disabled": 1, "revoked": 1, "expired": 0
    }  # fmt: skip
    assert (await store.key_counts(T0 + 60))["expired"] == 1
    await store.update_key(replace(disabled, disabled=False, version=2))
    await store.update_key(replace(plain, revoked_at=T0, version=2))
    assert await store.key_counts(T0 + 60) == {
        "total": 4, "active": 0, "disabled": 0, "revoked": 2, "expired": 2
    }  # fmt: skip
