"""Framing both ways: request bodies as their headers say, answers that end where they end."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator

import httpx
import pytest

from gateway.upstream.transport import PooledTransport, timeouts
from tests.upstream.conftest import OK, Serve, replies, request, send


async def test_a_body_without_a_length_is_sent_chunked(serve: Serve) -> None:
    server, url = await serve(replies(OK))
    transport = PooledTransport(max_connections=1)

    async def parts() -> AsyncIterator[bytes]:
        yield b'{"prompt": '
        yield b'"streamed"}'

    streamed = request(url, body=parts())
    assert streamed.headers["transfer-encoding"] == "chunked"
    assert (await send(transport, streamed)).status_code == 201
    assert (await send(transport, request(url, body=b'{"a":1}'))).status_code == 201
    assert server.requests[0].endswith(b'\r\n\r\n{"prompt": "streamed"}')
    assert server.requests[1].endswith(b'\r\n\r\n{"a":1}')
    assert server.connections == 1
    await transport.aclose()


async def test_an_empty_chunked_body_is_just_the_last_chunk(serve: Serve) -> None:
    server, url = await serve(replies(OK))
    transport = PooledTransport(max_connections=1)
    empty = request(url, body=b"", headers={"transfer-encoding": "chunked"})
    assert (await send(transport, empty)).status_code == 201
    assert (await send(transport, request(url))).status_code == 201
    assert [r.endswith(b"\r\n\r\n") for r in server.requests] == [True, False]
    await transport.aclose()


async def test_a_body_without_framing_headers_gets_a_length(serve: Serve) -> None:
    server, url = await serve(replies(OK))
    transport = PooledTransport(max_connections=1)
    bare = httpx.Request(
        "POST",
        url,
        headers={"host": "upstream"},
        stream=httpx.ByteStream(b'{"bare":1}'),
        extensions={"timeout": timeouts(5, 5)},
    )
    assert "content-length" not in bare.headers
    assert (await send(transport, bare)).status_code == 201
    assert (await send(transport, request(url))).status_code == 201
    assert b"content-length: 10" in server.requests[0]
    assert server.requests[0].endswith(b'{"bare":1}')
    assert len(server.requests) == 2
    await transport.aclose()


@pytest.mark.parametrize(
    "headers",
    [
        {"content-length": "5"},
        {"content-length": "1_0"},
        {"transfer-encoding": "gzip"},
        {"transfer-encoding": "chunked", "content-length": "2"},
    ],
)
async def test_framing_headers_that_disagree_with_the_body_are_refused(
    serve: Serve, headers: dict[str, str]
) -> None:
    server, url = await serve(replies(OK))
    transport = PooledTransport(max_connections=1)
    bad = httpx.Request(
        "POST",
        url,
        headers=headers,
        stream=httpx.ByteStream(b"{}"),
        extensions={"timeout": timeouts(5, 5)},
    )
    with pytest.raises(httpx.LocalProtocolError):
        await send(transport, bad)
    assert server.requests == []
    await transport.aclose()


async def test_head_answers_at_once_and_keeps_the_connection(serve: Serve) -> None:
    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n"
    server, url = await serve(replies(head, OK))
    transport = PooledTransport(max_connections=1)
    response = await send(transport, request(url, method="HEAD", read=30))
    assert response.status_code == 200 and response.content == b""
    assert response.headers["content-length"] == "11"
    assert (await send(transport, request(url))).json() == {"ok": True}
    assert server.connections == 1
    await transport.aclose()


@pytest.mark.parametrize("status", [b"204 No Content", b"304 Not Modified"])
async def test_answers_without_a_body_by_status(serve: Serve, status: bytes) -> None:
    server, url = await serve(replies(b"HTTP/1.1 " + status + b"\r\n\r\n", OK))
    transport = PooledTransport(max_connections=1)
    assert (await send(transport, request(url, read=30))).content == b""
    assert (await send(transport, request(url))).status_code == 201
    assert server.connections == 1
    await transport.aclose()


async def test_interim_answers_are_skipped(serve: Serve) -> None:
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </x>\r\n\r\n"
    _, url = await serve(replies(interim + OK))
    transport = PooledTransport(max_connections=1)
    response = await send(transport, request(url))
    assert response.status_code == 201 and "link" not in response.headers
    await transport.aclose()


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 101 Switching Protocols\r\nupgrade: h2c\r\nconnection: upgrade\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nok",
    ],
)
async def test_answers_that_could_desynchronise_are_protocol_errors(
    serve: Serve, answer: bytes
) -> None:
    _, url = await serve(replies(answer))
    transport = PooledTransport(max_connections=1)
    with pytest.raises(httpx.RemoteProtocolError):
        await send(transport, request(url))
    await transport.aclose()


async def test_bytes_after_a_complete_answer_close_the_connection(serve: Serve) -> None:
    server, url = await serve(replies(OK + b"HTTP/1.1 200 OK\r\n\r\nstray", OK))
    transport = PooledTransport(max_connections=1)
    assert (await send(transport, request(url))).json() == {"ok": True}
    assert (await send(transport, request(url))).json() == {"ok": True}
    assert server.connections == 2
    await transport.aclose()


async def test_a_close_delimited_body_cut_by_a_reset_is_broken() -> None:
    """Without a length the close ends the body: a reset is no end, the answer is cut."""
    answered = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(2)
        writer.write(b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n{"data": [')
        await writer.drain()
        answered.set()
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    listening = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    transport = PooledTransport(max_connections=1)
    with pytest.raises(httpx.RemoteProtocolError, match="broke"):
        await send(transport, request(f"http://127.0.0.1:{port}/"))
    assert answered.is_set()
    listening.close()
    await listening.wait_closed()
    await transport.aclose()
