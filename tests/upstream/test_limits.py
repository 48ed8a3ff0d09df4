"""What the upstream may send is bounded: the head, the body and the time it takes."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from gateway.upstream.connection import ResponseTooLarge
from gateway.upstream.transport import MAX_HEADER_BYTES, PooledTransport
from tests.upstream.conftest import OK, Serve, replies, request, send

FILLER = b"x-filler: " + b"f" * 1000 + b"\r\n"
MIB = 1_048_576


def chunked(size: int) -> bytes:
    body = b"z" * 65536
    chunks = b"%x\r\n%s\r\n" % (len(body), body) * (size // len(body))
    return b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"


async def test_a_header_block_over_the_limit_is_refused(serve: Serve) -> None:
    flood = b"HTTP/1.1 200 OK\r\n" + FILLER * 20_000 + b"content-length: 2\r\n\r\nok"
    _, url = await serve(replies(flood))
    transport = PooledTransport(max_connections=1)
    with pytest.raises(ResponseTooLarge, match="head"):
        await send(transport, request(url))
    await transport.aclose()


async def test_a_header_block_just_under_the_limit_is_read(serve: Serve) -> None:
    lines = (MAX_HEADER_BYTES - 200) // len(FILLER)
    _, url = await serve(replies(OK.replace(b"\r\n\r\n", b"\r\n" + FILLER * lines + b"\r\n")))
    transport = PooledTransport(max_connections=1)
    response = await send(transport, request(url))
    assert response.status_code == 201 and len(response.headers.get_list("x-filler")) == lines
    await transport.aclose()


async def test_endless_interim_answers_count_against_the_head(serve: Serve) -> None:
    _, url = await serve(replies(b"HTTP/1.1 100 Continue\r\n\r\n" * 10_000 + OK))
    transport = PooledTransport(max_connections=1)
    with pytest.raises(ResponseTooLarge):
        await send(transport, request(url))
    await transport.aclose()


@pytest.mark.parametrize(
    "answer",
    [chunked(2 * MIB), b"HTTP/1.1 200 OK\r\n\r\n" + b"z" * (2 * MIB)],
    ids=["chunked", "close-delimited"],
)
async def test_a_body_over_the_limit_is_refused(serve: Serve, answer: bytes) -> None:
    _, url = await serve(replies(answer), close_after=True)
    transport = PooledTransport(max_connections=1, max_body_bytes=MIB)
    with pytest.raises(ResponseTooLarge, match="body"):
        await send(transport, request(url))
    await transport.aclose()


async def test_a_body_at_the_limit_is_read(serve: Serve) -> None:
    _, url = await serve(replies(chunked(MIB)))
    transport = PooledTransport(max_connections=1, max_body_bytes=MIB)
    assert len((await send(transport, request(url))).content) == MIB
    await transport.aclose()


async def test_a_declared_length_over_the_limit_fails_before_the_body(serve: Serve) -> None:
    _, url = await serve(replies(b"HTTP/1.1 200 OK\r\ncontent-length: 1000000000000\r\n\r\n{"))
    transport = PooledTransport(max_connections=1, max_body_bytes=MIB)
    with pytest.raises(ResponseTooLarge, match="announced"):
        await send(transport, request(url, read=30))
    await transport.aclose()


async def test_a_slow_drip_runs_out_of_time(serve: Serve) -> None:
    """The read timeout bounds the whole answer, so steady trickling cannot hold a call."""
    dripped: list[int] = []

    async def drip(request: bytes) -> bytes:
        return b""

    server, url = await serve(drip)
    transport = PooledTransport(max_connections=1)
    call = asyncio.ensure_future(send(transport, request(url, read=0.5)))
    await server.received.wait()
    writer = server.writers[0]
    for byte in OK:
        if call.done():
            break
        writer.write(bytes([byte]))
        dripped.append(byte)
        await asyncio.sleep(0.02)
    with pytest.raises(httpx.ReadTimeout):
        await call
    assert 0 < len(dripped) < len(OK)
    await transport.aclose()
