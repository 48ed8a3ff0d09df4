"""What only the Redis store must show: exactness under concurrency, prompt failure."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import redis
import uvloop

from gateway.cache.flight import Followed, SingleFlight
from gateway.store.base import Store
from gateway.store.errors import StorageScriptError, StorageUnavailable
from gateway.store.key_search import KeySearch
from gateway.store.redis import RedisStore
from gateway.store.types import (
    AdmitRequest,
    CacheEntry,
    CacheWrite,
    KeyRecord,
    Limits,
    Outcome,
    TeamRecord,
    flight_lock,
)
from gateway.testing.procs import Proc, free_port, start_redis, wait_until_async
from tests.store.conftest import REDIS_PASSWORD, TlsFiles, other_clients
from tests.store.test_contract import (
    T0,
    admit,
    make_key,
    make_team,
    settle_money,
    spend,
    window,
)


async def test_200_concurrent_admits_over_several_connections_admit_exactly_the_quota(
    redis_url: str,
) -> None:
    stores = [RedisStore.from_url(redis_url) for _ in range(4)]
    for store in stores:
        await store.start()
    record = await make_key(stores[0], Limits(images_per_day=37))
    decisions = await asyncio.gather(
        *(admit(stores[i % 4], record, 1, rid=f"r{i}") for i in range(200))
    )
    assert sum(d.outcome is Outcome.ADMITTED for d in decisions) == 37
    assert sum(d.outcome is Outcome.QUOTA_EXCEEDED for d in decisions) == 163
    for store in stores:
        await store.aclose()


async def test_admission_survives_a_flushed_script_cache(redis_url: str) -> None:
    store = RedisStore.from_url(redis_url)
    await store.start()
    record = await make_key(store, Limits(images_per_day=2))
    assert (await admit(store, record, 1, rid="a")).outcome is Outcome.ADMITTED
    client = redis.Redis.from_url(redis_url)
    client.script_flush()
    client.close()
    assert (await admit(store, record, 1, rid="b")).outcome is Outcome.ADMITTED
    assert (await admit(store, record, 1, rid="c")).outcome is Outcome.QUOTA_EXCEEDED
    await store.aclose()


async def test_unreachable_redis_fails_fast() -> None:
    store = RedisStore.from_url(
        f"redis://127.0.0.1:{free_port()}/0", socket_timeout=0.2, connect_timeout=0.2
    )
    await store.start()
    started = time.monotonic()
    with pytest.raises(StorageUnavailable):
        await store.ping()
    with pytest.raises(StorageUnavailable):
        await store.get_key("k")
    assert time.monotonic() - started < 5
    await store.aclose()


async def test_a_wrong_password_leaves_no_connection_open(password_redis: Proc) -> None:
    admin = redis.Redis(port=password_redis.port, password=REDIS_PASSWORD)
    store = RedisStore.from_url(
        f"redis://:wrong@127.0.0.1:{password_redis.port}/0", socket_timeout=1, connect_timeout=1
    )
    await store.start()
    try:
        for _ in range(5):
            with pytest.raises(StorageUnavailable, match=r"(?i)credentials|password"):
                await store.ping()
            with pytest.raises(StorageUnavailable):
                await store.get_key("k")
            with pytest.raises(StorageUnavailable):
                await store.flight_wait("flight:k", 1)
        await wait_until_async(lambda: not other_clients(admin), 5, "no connection left open")
        await store.aclose()
        assert not other_clients(admin)
    finally:
        admin.close()


async def exercise(store: RedisStore) -> None:
    """What the gateway does with a store, over both of its clients and the subscriber."""
    await store.start()
    await store.ping()
    record = await make_key(store, Limits(images_per_day=2), key_id=f"key_{uuid.uuid4().hex}")
    assert (await admit(store, record, 1, rid="a")).outcome is Outcome.ADMITTED
    assert await store.get_key(record.id) == record
    assert [k.id for k in await store.list_keys()] == [record.id]
    assert await store.flight_wait("flight:free", 1)
    await store.cache_purge()
    await store.aclose()


def clean(url: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


async def test_mutual_tls_over_both_clients(mtls_redis: Proc, tls_files: TlsFiles) -> None:
    url = (
        f"rediss://127.0.0.1:{mtls_redis.port}/0?ssl_ca_certs={tls_files.ca}"
        f"&ssl_certfile={tls_files.client_cert}&ssl_keyfile={tls_files.client_key}"
    )
    clean(url)
    await exercise(RedisStore.from_url(url, socket_timeout=2, connect_timeout=2))
    without = RedisStore.from_url(
        f"rediss://127.0.0.1:{mtls_redis.port}/0?ssl_ca_certs={tls_files.ca}",
        socket_timeout=2,
        connect_timeout=2,
    )
    with pytest.raises(StorageUnavailable):
        await without.ping()
    with pytest.raises(StorageUnavailable):
        await without.get_key("k")
    await without.aclose()


async def test_host_name_checking_follows_the_url_over_both_clients(
    misnamed_tls_redis: Proc, tls_files: TlsFiles
) -> None:
    base = f"rediss://127.0.0.1:{misnamed_tls_redis.port}/0?ssl_ca_certs={tls_files.ca}"
    checked = RedisStore.from_url(base, socket_timeout=2, connect_timeout=2)
    with pytest.raises(StorageUnavailable):
        await checked.ping()
    with pytest.raises(StorageUnavailable):
        await checked.get_key("k")
    await checked.aclose()
    clean(f"{base}&ssl_check_hostname=false")
    await exercise(
        RedisStore.from_url(f"{base}&ssl_check_hostname=false", socket_timeout=2, connect_timeout=2)
    )


async def test_a_unix_socket_url_over_both_clients(unix_redis: Path) -> None:
    url = f"unix://:{REDIS_PASSWORD}@{unix_redis}?db=3"
    clean(url)
    await exercise(RedisStore.from_url(url, socket_timeout=1, connect_timeout=1))


class CountingWaits(RedisStore):
    waits = 0

    async def flight_wait(self, name: str, timeout: float) -> bool:
        self.waits += 1
        return await super().flight_wait(name, timeout)


async def test_fifty_followers_of_another_replica_share_one_subscriber(redis_url: str) -> None:
    admin = redis.Redis.from_url(redis_url)
    name = f"replica-b-{uuid.uuid4().hex[:8]}"
    replica_a = RedisStore.from_url(f"{redis_url}?client_name=replica-a")
    replica_b = CountingWaits.from_url(f"{redis_url}?client_name={name}")
    for replica in (replica_a, replica_b):
        await replica.start()
    lock = flight_lock("prompt")
    assert await replica_a.flight_acquire(lock, "leader", 30)
    flight: SingleFlight[str] = SingleFlight(replica_b, lambda: T0, lock_ttl=30, wait=30)
    calls = 0

    async def call() -> str:
        nonlocal calls
        calls += 1
        return "second upstream call"

    followers = [asyncio.create_task(flight.run("prompt", f"f{i}", call)) for i in range(50)]
    await wait_until_async(lambda: replica_b.waits == 50, 10, "50 followers waiting")
    await wait_until_async(
        lambda: admin.pubsub_numsub(f"gw:{lock}")[0][1] > 0, 10, "a subscription to the lock"
    )
    seen = []
    for _ in range(20):
        seen.append(len(other_clients(admin, name)))
        await asyncio.sleep(0.01)
    entry = CacheEntry(body=b'{"data": []}', stored_at=T0, expires_at=T0 + 300, images=1)
    await replica_a.cache_put("prompt", entry, T0)
    await replica_a.flight_release(lock, "leader")
    results = await asyncio.wait_for(asyncio.gather(*followers), 10)
    assert calls == 0
    assert all(isinstance(r, Followed) and r.entry == entry for r in results)
    assert max(seen) <= 4, f"replica B held {max(seen)} Redis connections"
    assert admin.pubsub_numsub(f"gw:{lock}")[0][1] == 0, "unsubscribed once nobody waits"
    for replica in (replica_a, replica_b):
        await replica.aclose()
    admin.close()


async def test_a_waiter_notices_a_lock_that_expires_without_a_release(redis_url: str) -> None:
    store = RedisStore.from_url(redis_url)
    await store.start()
    assert await store.flight_acquire("flight:dies", "crashed leader", 0.3)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await store.flight_wait("flight:dies", 20)
    assert loop.time() - started < 5
    await store.aclose()


async def test_waiters_are_woken_when_the_subscriber_connection_is_killed(redis_url: str) -> None:
    admin = redis.Redis.from_url(redis_url)
    store = RedisStore.from_url(f"{redis_url}?client_name=killed")
    await store.start()
    assert await store.flight_acquire("flight:held", "other", 30)
    waiter = asyncio.create_task(store.flight_wait("flight:held", 20))
    await wait_until_async(
        lambda: admin.pubsub_numsub("gw:flight:held")[0][1] > 0, 10, "the subscription"
    )
    # The lock goes away with no message (as if its release was published while the
    # subscriber was cut off): losing the connection must make the waiter look again.
    admin.delete("gw:flight:held")
    admin.client_kill_filter(_type="pubsub")
    assert await asyncio.wait_for(waiter, 10)
    await store.aclose()
    admin.close()


async def test_a_script_error_is_a_bug_logged_with_the_script_name(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = RedisStore.from_url(redis_url)
    await store.start()
    record = await make_key(store, Limits(images_per_day=5))
    client = redis.Redis.from_url(redis_url)
    client.set(f"gw:res:{record.id}", "not a sorted set")
    client.close()
    with (
        caplog.at_level(logging.ERROR, logger="gateway.store"),
        pytest.raises(StorageScriptError) as caught,
    ):
        await admit(store, record, 1)
    assert caught.value.script == "admit"
    assert not isinstance(caught.value, StorageUnavailable)
    [logged] = [r for r in caplog.records if r.name == "gateway.store"]
    assert logged.levelno == logging.ERROR
    assert logged.fields["script"] == "admit"  # type: ignore[attr-defined]
    assert "WRONGTYPE" in logged.fields["error"]  # type: ignore[attr-defined]
    await store.aclose()


async def test_a_server_that_cannot_serve_is_an_outage_not_a_bug(redis_url: str) -> None:
    store = RedisStore.from_url(redis_url)
    await store.start()
    record = await make_key(store, Limits(images_per_day=5))
    client = redis.Redis.from_url(redis_url)
    client.config_set("maxmemory", "1")
    try:
        with pytest.raises(StorageUnavailable):
            await admit(store, record, 1)
    finally:
        client.config_set("maxmemory", "0")
        client.close()
    await store.aclose()


async def test_a_silently_dead_subscriber_fails_waiters_promptly() -> None:
    server = start_redis()
    store = RedisStore.from_url(
        f"redis://127.0.0.1:{server.port}/0", socket_timeout=0.3, connect_timeout=0.3
    )
    try:
        await store.start()
        assert await store.flight_acquire("flight:frozen", "other", 60)
        waiter = asyncio.create_task(store.flight_wait("flight:frozen", 60))
        admin = redis.Redis(port=server.port)
        await wait_until_async(
            lambda: admin.pubsub_numsub("gw:flight:frozen")[0][1] > 0, 10, "the subscription"
        )
        admin.close()
        server.popen.send_signal(signal.SIGSTOP)
        try:
            with pytest.raises(StorageUnavailable):
                await asyncio.wait_for(waiter, 10)
        finally:
            server.popen.send_signal(signal.SIGCONT)
    finally:
        await store.aclose()
        server.stop()


def every_operation(record: KeyRecord) -> dict[str, Callable[[Store], Awaitable[object]]]:
    """One call of each Store method, by name."""
    w = window()
    entry = CacheEntry(b"{}", T0, T0 + 60, 1)
    request = AdmitRequest(record.id, 1, record.limits, 1, "r", 60, w, "ck", 30)
    team = TeamRecord("team_1", "t", T0)
    return {
        "ping": lambda s: s.ping(),
        "server_secret": lambda s: s.server_secret(b"x" * 32),
        "insert_key": lambda s: s.insert_key(record),
        "update_key": lambda s: s.update_key(record),
        "get_key": lambda s: s.get_key(record.id),
        "find_key": lambda s: s.find_key(record.key_hash),
        "list_keys": lambda s: s.list_keys(),
        "search_keys": lambda s: s.search_keys(KeySearch(limit=5, q="t")),
        "rotate_key": lambda s: s.rotate_key(record, 60),
        "insert_team": lambda s: s.insert_team(team),
        "update_team": lambda s: s.update_team(team),
        "get_team": lambda s: s.get_team(team.id),
        "list_teams": lambda s: s.list_teams(),
        "delete_team": lambda s: s.delete_team(team.id),
        "claim": lambda s: s.claim("alert:x", 60),
        "admit": lambda s: s.admit(request),
        "settle": lambda s: s.settle(
            record.id, "r", 1, w, {"cache_misses": 1}, record.limits,
            cache=CacheWrite("ck", entry), flight="flight:ck",
        ),
        "limit_states": lambda s: s.limit_states(record.id, record.limits, w),
        "usage": lambda s: s.usage(record.id, [w.day]),
        "usage_of_day": lambda s: s.usage_of_day(w.day),
        "key_counts": lambda s: s.key_counts(T0),
        "cache_get": lambda s: s.cache_get("ck", T0),
        "cache_put": lambda s: s.cache_put("ck", entry, T0),
        "cache_purge": lambda s: s.cache_purge("c"),
        "cache_stats": lambda s: s.cache_stats(),
        "flight_acquire": lambda s: s.flight_acquire("flight:ck", "t", 30),
        "flight_release": lambda s: s.flight_release("flight:ck", "t"),
        "flight_wait": lambda s: s.flight_wait("flight:ck", 5),
    }  # fmt: skip


async def escaped_from(store: RedisStore) -> dict[str, str]:
    """Run every operation on a store that cannot serve, then close it: what each
    operation raised other than StorageUnavailable, by name."""
    record = KeyRecord("key_1", "t", "0" * 64, "gwk_x", T0, limits=Limits(images_per_day=1))
    operations = every_operation(record)
    assert set(operations) == set(Store.__abstractmethods__)
    escaped = {}
    for name, operation in operations.items():
        try:
            await operation(store)
        except StorageUnavailable:
            continue
        except Exception as exc:
            escaped[name] = repr(exc)
        else:
            escaped[name] = "no error"
    await store.aclose()
    return escaped


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read()
    writer.close()


async def _hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


async def _garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while await reader.read(65536):
        writer.write(b"\x00\xff garbage\r\n-\r\n*9\r\n:x\r\n")
    writer.close()


@pytest.mark.parametrize("broken", ["nobody listening", "silent", "hangs up", "garbage"])
async def test_no_driver_exception_escapes_a_broken_server(broken: str) -> None:
    handlers = {"silent": _silent, "hangs up": _hang_up, "garbage": _garbage}
    server = None
    port = free_port()
    if broken in handlers:
        server = await asyncio.start_server(handlers[broken], "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
    store = RedisStore.from_url(
        f"redis://127.0.0.1:{port}/0", socket_timeout=0.05, connect_timeout=0.05
    )
    await store.start()
    escaped = await escaped_from(store)
    if server is not None:
        server.close()
        await server.wait_closed()
    assert not escaped


async def test_no_driver_exception_escapes_wrong_credentials(password_redis: Proc) -> None:
    store = RedisStore.from_url(
        f"redis://:wrong@127.0.0.1:{password_redis.port}/0", socket_timeout=1, connect_timeout=1
    )
    await store.start()
    assert not await escaped_from(store)


def test_tls_and_unix_sockets_under_uvloop(
    mtls_redis: Proc, tls_files: TlsFiles, unix_redis: Path
) -> None:
    """The gateway serves on uvloop, whose transports are not asyncio's."""
    tls = (
        f"rediss://127.0.0.1:{mtls_redis.port}/5?ssl_ca_certs={tls_files.ca}"
        f"&ssl_certfile={tls_files.client_cert}&ssl_keyfile={tls_files.client_key}"
    )
    unix = f"unix://:{REDIS_PASSWORD}@{unix_redis}?db=5"
    for url in (tls, unix):
        clean(url)

        async def run(url: str = url) -> None:
            await exercise(RedisStore.from_url(url, socket_timeout=2, connect_timeout=2))

        uvloop.run(run())


async def test_every_day_and_month_counter_expires_after_its_window(redis_url: str) -> None:
    """Counters get their expiry when they are created or reset, whichever script does it;
    later steps leave it: the window (an hour to the day's end, a day to the month's) plus
    the margin, for the key and its team."""
    store = RedisStore.from_url(redis_url)
    await store.start()
    record = await make_key(store, Limits(images_per_day=10, usd_per_day=1000))
    team = await make_team(store, Limits(usd_per_month=1000))
    client = redis.Redis.from_url(redis_url)
    counters = [
        f"gw:{kind}:{subject}:{period}"
        for subject in (record.id, f"team:{team.id}")
        for kind in ("q", "usd")
        for period in ("d:2027-01-15", "m:2027-01")
    ]
    expected = {"d": (3600, 7200), "m": (86400, 172800)}

    def assert_expiring() -> None:
        for name in counters:
            low, high = expected[name.split(":")[-2]]
            assert low < client.ttl(name) <= high, name

    assert (await spend(store, record, 60, team=team, rid="a", images=2)).outcome is (
        Outcome.ADMITTED
    )
    assert_expiring()
    await settle_money(store, record, "a", 1, 35, team)
    assert_expiring()
    assert int(client.get(counters[0]) or 0) == 1
    assert (await spend(store, record, 60, team=team, rid="b")).outcome is Outcome.ADMITTED
    client.delete(*counters)
    await settle_money(store, record, "b", 0, 0, team)
    assert_expiring()
    assert [int(client.get(name) or 0) for name in counters] == [0] * len(counters)
    client.close()
    await store.aclose()
