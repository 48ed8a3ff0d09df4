"""The auto-pipelining connection: replies reach the right callers, failures stay prompt."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis
from redis.exceptions import AuthenticationError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gateway.store.resp import PipelinedRedis, Script
from gateway.testing.procs import Proc, free_port, wait_until_async
from tests.store.conftest import REDIS_PASSWORD, TlsFiles, other_clients


@pytest.fixture
async def pipe(redis_url: str) -> AsyncIterator[PipelinedRedis]:
    client = PipelinedRedis(redis_url, socket_timeout=2, connect_timeout=2)
    yield client
    await client.aclose()


async def test_concurrent_callers_each_get_their_own_reply(pipe: PipelinedRedis) -> None:
    replies = await asyncio.gather(*(pipe.execute("ECHO", f"v{i}") for i in range(2000)))
    assert replies == [f"v{i}".encode() for i in range(2000)]


async def test_errors_reach_only_their_caller(pipe: PipelinedRedis) -> None:
    replies: list[object] = await asyncio.gather(
        pipe.execute("SET", "k", "1"),
        pipe.execute("INCRBY", "k", "x"),
        pipe.execute("GET", "k"),
        return_exceptions=True,
    )
    good, bad, after = replies
    assert good == b"OK" and isinstance(bad, ResponseError) and after == b"1"


async def test_a_flushed_script_is_sent_again(pipe: PipelinedRedis) -> None:
    script = Script.of("return ARGV[1] .. KEYS[1]")
    assert await pipe.evalsha(script, ["k"], ["v"]) == b"vk"
    await pipe.execute("SCRIPT", "FLUSH")
    assert await pipe.evalsha(script, ["k"], ["w"]) == b"wk"


async def test_the_database_in_the_url_is_selected(redis_url: str) -> None:
    url = redis_url.rsplit("/", 1)[0] + "/3"
    pipe = PipelinedRedis(url, socket_timeout=2, connect_timeout=2)
    await pipe.execute("SET", "in-three", "yes")
    await pipe.aclose()
    plain = redis.Redis.from_url(url)
    try:
        assert plain.get("in-three") == b"yes"
        plain.delete("in-three")
    finally:
        plain.close()


async def test_nobody_listening_fails_at_once() -> None:
    pipe = PipelinedRedis(
        f"redis://127.0.0.1:{free_port()}/0", socket_timeout=0.2, connect_timeout=0.2
    )
    with pytest.raises(RedisConnectionError):
        await pipe.execute("PING")
    await pipe.aclose()


async def test_a_silent_server_times_out_and_the_next_command_reconnects() -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)
        await reader.read(65536)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    pipe = PipelinedRedis(
        f"redis://127.0.0.1:{port}/0", socket_timeout=0.2, connect_timeout=1, connections=1
    )
    started = time.monotonic()
    results = await asyncio.gather(
        *(pipe.execute("PING") for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(r, RedisTimeoutError) for r in results)
    assert time.monotonic() - started < 2
    with pytest.raises(RedisTimeoutError):
        await pipe.execute("PING")
    assert len(accepted) == 2
    await pipe.aclose()
    for writer in accepted:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_a_wrong_password_leaves_no_connection_open(password_redis: Proc) -> None:
    admin = redis.Redis(port=password_redis.port, password=REDIS_PASSWORD)
    pipe = PipelinedRedis(
        f"redis://:wrong@127.0.0.1:{password_redis.port}/0", socket_timeout=1, connect_timeout=1
    )
    try:
        for _ in range(5):
            with pytest.raises(AuthenticationError, match="credentials"):
                await pipe.execute("PING")
        await wait_until_async(lambda: not other_clients(admin), 5, "no connection left open")
        await pipe.aclose()
        assert not other_clients(admin)
    finally:
        admin.close()


async def test_the_right_password_and_a_client_name_are_sent(password_redis: Proc) -> None:
    url = f"redis://:{REDIS_PASSWORD}@127.0.0.1:{password_redis.port}/2?client_name=pipe-test"
    pipe = PipelinedRedis(url, socket_timeout=1, connect_timeout=1)
    admin = redis.Redis(port=password_redis.port, password=REDIS_PASSWORD)
    try:
        assert await pipe.execute("PING") == b"PONG"
        [client] = other_clients(admin, "pipe-test")
        assert client["db"] == "2"
    finally:
        await pipe.aclose()
        admin.close()


async def test_a_server_that_speaks_garbage_is_a_connection_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    finished = asyncio.Event()

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        await writer.drain()
        await reader.read()
        writer.close()
        await writer.wait_closed()
        finished.set()

    server = await asyncio.start_server(garbage, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    pipe = PipelinedRedis(f"redis://127.0.0.1:{port}/0", socket_timeout=1, connect_timeout=1)
    with pytest.raises(RedisConnectionError, match="malformed"):
        await pipe.execute("PING")
    await pipe.aclose()
    await finished.wait()
    server.close()
    await server.wait_closed()
    assert not [r for r in caplog.records if r.name == "asyncio"]


async def test_closing_while_a_connection_is_being_opened_leaves_nothing_open(
    password_redis: Proc,
) -> None:
    pipe = PipelinedRedis(
        f"redis://:{REDIS_PASSWORD}@127.0.0.1:{password_redis.port}/0",
        socket_timeout=1,
        connect_timeout=1,
    )
    admin = redis.Redis(port=password_redis.port, password=REDIS_PASSWORD)
    try:
        pending = asyncio.ensure_future(pipe.execute("PING"))
        await asyncio.sleep(0)
        await pipe.aclose()
        with pytest.raises((RedisConnectionError, asyncio.CancelledError)):
            await pending
        await wait_until_async(lambda: not other_clients(admin), 5, "no connection left open")
    finally:
        admin.close()


def tls_url(proc: Proc, **options: str) -> str:
    query = "&".join(f"{name}={value}" for name, value in options.items())
    return f"rediss://127.0.0.1:{proc.port}/0?{query}"


async def test_mutual_tls_sends_the_client_certificate(
    mtls_redis: Proc, tls_files: TlsFiles
) -> None:
    url = tls_url(
        mtls_redis,
        ssl_ca_certs=str(tls_files.ca),
        ssl_certfile=str(tls_files.client_cert),
        ssl_keyfile=str(tls_files.client_key),
    )
    pipe = PipelinedRedis(url, socket_timeout=2, connect_timeout=2)
    assert await pipe.execute("ECHO", "over tls") == b"over tls"
    await pipe.aclose()
    without = PipelinedRedis(
        tls_url(mtls_redis, ssl_ca_certs=str(tls_files.ca)), socket_timeout=2, connect_timeout=2
    )
    with pytest.raises(RedisConnectionError):
        await without.execute("PING")
    await without.aclose()


async def test_the_host_name_is_checked_unless_the_url_says_not_to(
    misnamed_tls_redis: Proc, tls_files: TlsFiles
) -> None:
    checked = PipelinedRedis(
        tls_url(misnamed_tls_redis, ssl_ca_certs=str(tls_files.ca)),
        socket_timeout=2,
        connect_timeout=2,
    )
    with pytest.raises(RedisConnectionError, match=r"(?i)hostname|match"):
        await checked.execute("PING")
    await checked.aclose()
    unchecked = PipelinedRedis(
        tls_url(misnamed_tls_redis, ssl_ca_certs=str(tls_files.ca), ssl_check_hostname="false"),
        socket_timeout=2,
        connect_timeout=2,
    )
    assert await unchecked.execute("PING") == b"PONG"
    await unchecked.aclose()


async def test_an_unknown_ca_is_refused_unless_certificates_are_not_required(
    misnamed_tls_redis: Proc,
) -> None:
    unknown = PipelinedRedis(tls_url(misnamed_tls_redis), socket_timeout=2, connect_timeout=2)
    with pytest.raises(RedisConnectionError, match=r"(?i)certificate"):
        await unknown.execute("PING")
    await unknown.aclose()
    trusting = PipelinedRedis(
        tls_url(misnamed_tls_redis, ssl_cert_reqs="none"), socket_timeout=2, connect_timeout=2
    )
    assert await trusting.execute("PING") == b"PONG"
    await trusting.aclose()


async def test_a_unix_socket_url(unix_redis: Path) -> None:
    pipe = PipelinedRedis(
        f"unix://:{REDIS_PASSWORD}@{unix_redis}?db=4", socket_timeout=1, connect_timeout=1
    )
    await pipe.execute("SET", "over-unix", "yes")
    await pipe.aclose()
    plain = redis.Redis(unix_socket_path=str(unix_redis), password=REDIS_PASSWORD, db=4)
    try:
        assert plain.getdel("over-unix") == b"yes"
    finally:
        plain.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis://h/0?ssl_certfile=/x.pem", "needs a rediss:// URL"),
        ("rediss://h/0?ssl_certfile=/nonexistent.pem", "ssl_certfile"),
        ("rediss://h/0?ssl_cert_reqs=sometimes", "ssl_cert_reqs"),
        ("redis://h/0?socket_timout=1", "unknown option 'socket_timout'"),
        ("redis://h/0?decode_responses=yes", "decode_responses"),
        ("redis://h/0?socket_timeout=0", "socket_timeout"),
        ("unix://", "socket's path"),
        ("http://h/0", "schemes"),
    ],
)
def test_an_unusable_url_is_refused_naming_the_option_not_the_url(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        PipelinedRedis(url.replace("//h", "//:hunter2@h"), socket_timeout=1, connect_timeout=1)
    assert "hunter2" not in str(caught.value)


def test_timeouts_in_the_url_win_as_they_do_for_redis_py() -> None:
    pipe = PipelinedRedis(
        "redis://h/0?socket_timeout=0.5&socket_connect_timeout=0.25",
        socket_timeout=3,
        connect_timeout=3,
    )
    assert (pipe.timeout, pipe.connect_timeout) == (0.5, 0.25)
