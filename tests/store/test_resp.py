"""The auto-pipelining connection: replies reach the right callers, failures stay prompt."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gateway.store.resp import PipelinedRedis, Script
from gateway.testing.procs import free_port


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
