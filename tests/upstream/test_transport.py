"""The pooled HTTP/1.1 transport against real loopback servers that misbehave on purpose."""

from __future__ import annotations

import asyncio
import gc
import os
import resource
import ssl

import httpx
import pytest
import trustme

from gateway.testing.procs import free_port
from gateway.upstream.connection import Connection
from gateway.upstream.transport import PooledTransport
from tests.upstream.conftest import OK, Serve, replies, request, send


async def test_answers_and_reuses_one_connection(serve: Serve) -> None:
    server, url = await serve(replies(OK))
    transport = PooledTransport(max_connections=4)
    for _ in range(3):
        response = await send(transport, request(url, body=b'{"a":1}'))
        assert response.status_code == 201 and response.json() == {"ok": True}
        assert response.headers["content-type"] == "application/json"
    assert server.connections == 1
    first = server.requests[0]
    assert first.startswith(b"POST /v1/x?y=1 HTTP/1.1\r\n")
    assert b"content-length: 7" in first.lower() and first.endswith(b'{"a":1}')
    await transport.aclose()


async def test_chunked_and_close_delimited_bodies(serve: Serve) -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n"
    )
    server, url = await serve(replies(chunked))
    transport = PooledTransport(max_connections=2)
    assert (await send(transport, request(url))).content == b"abcdefg"
    assert (await send(transport, request(url))).content == b"abcdefg"
    assert server.connections == 1
    closing, url = await serve(replies(b"HTTP/1.1 200 OK\r\n\r\nuntil the end"), close_after=True)
    assert (await send(transport, request(url))).content == b"until the end"
    assert (await send(transport, request(url))).content == b"until the end"
    assert closing.connections == 2
    await transport.aclose()


async def test_connection_close_and_idle_closes_open_new_connections(serve: Serve) -> None:
    told, url = await serve(replies(OK.replace(b"\r\n\r\n", b"\r\nconnection: close\r\n\r\n")))
    transport = PooledTransport(max_connections=2)
    await send(transport, request(url))
    await send(transport, request(url))
    assert told.connections == 2
    server, url = await serve(replies(OK))
    await send(transport, request(url))
    for writer in server.writers:
        writer.close()
        await writer.wait_closed()
    assert (await send(transport, request(url))).status_code == 201
    assert server.connections == 2
    await transport.aclose()


async def test_silence_is_a_read_timeout_and_the_connection_is_dropped(serve: Serve) -> None:
    server, url = await serve(replies(None, OK))
    transport = PooledTransport(max_connections=1)
    with pytest.raises(httpx.ReadTimeout):
        await send(transport, request(url, read=0.2))
    assert (await send(transport, request(url))).status_code == 201
    assert server.connections == 2
    await transport.aclose()


async def test_refused_connection_is_a_connect_error() -> None:
    transport = PooledTransport(max_connections=1)
    with pytest.raises(httpx.ConnectError):
        await send(transport, request(f"http://127.0.0.1:{free_port()}/"))
    await transport.aclose()


@pytest.mark.parametrize(
    "answer",
    [
        b"NOT HTTP AT ALL\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\ntoo short",
    ],
)
async def test_malformed_or_truncated_answers_are_protocol_errors(
    serve: Serve, answer: bytes
) -> None:
    _, url = await serve(replies(answer), close_after=True)
    transport = PooledTransport(max_connections=1)
    with pytest.raises(httpx.RemoteProtocolError):
        await send(transport, request(url))
    await transport.aclose()


async def test_header_values_cannot_split_the_request(serve: Serve) -> None:
    server, url = await serve(replies(OK))
    transport = PooledTransport(max_connections=1)
    with pytest.raises(httpx.LocalProtocolError):
        await send(transport, request(url, headers={"x-request-id": "a\r\nx-evil: 1"}))
    assert server.requests == []
    await transport.aclose()


async def test_callers_beyond_the_limit_wait_their_turn_or_time_out(serve: Serve) -> None:
    release = asyncio.Event()

    async def reply(request: bytes) -> bytes:
        if b"slow" in request:
            await release.wait()
        return OK

    server, url = await serve(reply)
    transport = PooledTransport(max_connections=1)
    slow = asyncio.ensure_future(send(transport, request(url, body=b"slow")))
    await server.received.wait()
    with pytest.raises(httpx.PoolTimeout):
        await send(transport, request(url, pool=0.1))
    waiting = asyncio.ensure_future(send(transport, request(url)))
    release.set()
    assert (await slow).status_code == 201 and (await waiting).status_code == 201
    assert server.connections == 1
    await transport.aclose()


async def test_a_cancelled_call_frees_its_connection(serve: Serve) -> None:
    server, url = await serve(replies(None, OK))
    transport = PooledTransport(max_connections=1)
    stuck = asyncio.ensure_future(send(transport, request(url)))
    await server.received.wait()
    stuck.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stuck
    assert (await send(transport, request(url, pool=1.0))).status_code == 201
    assert server.connections == 2
    await transport.aclose()


async def test_tls_with_a_verified_certificate(serve: Serve) -> None:
    authority = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(server_tls)
    client_tls = ssl.create_default_context()
    authority.configure_trust(client_tls)
    server, url = await serve(replies(OK), tls=server_tls)
    transport = PooledTransport(max_connections=1, verify=client_tls)
    assert (await send(transport, request(url))).json() == {"ok": True}
    assert (await send(transport, request(url))).status_code == 201
    assert server.connections == 1
    await transport.aclose()
    untrusting = PooledTransport(max_connections=1)
    with pytest.raises(httpx.ConnectError):
        await send(untrusting, request(url))
    await untrusting.aclose()


async def test_reuse_works_past_a_thousand_open_files(serve: Serve) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip("the file limit is too low to open 1,100 files")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    server, url = await serve(replies(OK))
    filler = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        transport = PooledTransport(max_connections=1)
        assert (await send(transport, request(url))).status_code == 201
        assert (await send(transport, request(url))).status_code == 201
        assert server.connections == 1
        await transport.aclose()
    finally:
        for fd in filler:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def test_closed_connections_are_freed_without_the_garbage_collector(serve: Serve) -> None:
    server, url = await serve(replies(None))
    transport = PooledTransport(max_connections=10)

    async def abandon() -> None:
        stuck = [asyncio.ensure_future(send(transport, request(url))) for _ in range(5)]
        async with asyncio.timeout(5):
            while len(server.requests) < 5:
                await asyncio.sleep(0.001)
        for call in stuck:
            call.cancel()
        await asyncio.gather(*stuck, return_exceptions=True)

    def connections() -> int:
        return sum(isinstance(o, Connection) for o in gc.get_objects())

    gc.collect()
    gc.disable()
    try:
        await abandon()
        deadline = asyncio.get_running_loop().time() + 5
        while connections() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        assert connections() == 0
    finally:
        gc.enable()
    await transport.aclose()
