"""Payloads (an edit's uploads): written as the socket drains, never read whole first, and
cut short when the upstream answers before the body is in."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import io
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from gateway.testing.procs import free_port
from gateway.upstream.payload import CHUNK, FilePiece, Payload
from gateway.upstream.transport import PooledTransport, timeouts
from tests.upstream.conftest import OK

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
SIZE = 32 * 1024 * 1024


class Watched(io.BytesIO):
    """A file that notes, at each read, how far ahead of the server the reader is."""

    def __init__(self, data: bytes, received: list[int]) -> None:
        super().__init__(data)
        self.received = received
        self.lead = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.lead = max(self.lead, self.tell() - self.received[0])
        return chunk


@pytest.fixture
async def listen() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    servers: list[asyncio.Server] = []
    writers: list[asyncio.StreamWriter] = []

    async def start(handler: Handler) -> str:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writers.append(writer)
            await handler(reader, writer)

        port = free_port()
        servers.append(await asyncio.start_server(handle, "127.0.0.1", port))
        return f"http://127.0.0.1:{port}/v1/images/edits"

    yield start
    for server in servers:
        server.close()
        for writer in writers:
            writer.transport.abort()
        await server.wait_closed()


def post(url: str, body: Payload) -> httpx.Request:
    return httpx.Request(
        "POST",
        url,
        headers={"content-type": body.content_type, "content-length": str(body.length)},
        stream=body,
        extensions={"timeout": timeouts(5.0, 10.0)},
    )


async def test_a_large_file_is_streamed_as_the_upstream_reads_it(
    listen: Callable[[Handler], Awaitable[str]],
) -> None:
    data = bytes(range(256)) * (SIZE // 256)
    received = [0]
    digest = hashlib.sha256()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        while received[0] < length:
            chunk = await reader.read(65536)
            received[0] += len(chunk)
            digest.update(chunk)
            await asyncio.sleep(0)
        writer.write(OK)
        await writer.drain()
        writer.close()

    url = await listen(handler)
    watched = Watched(data, received)
    body = Payload(
        "/v1/images/edits", "application/octet-stream", [b"<", FilePiece(watched, SIZE), b">"]
    )
    transport = PooledTransport(max_connections=1)
    response = await transport.handle_async_request(post(url, body))
    assert response.status_code == 201
    assert received[0] == SIZE + 2
    assert digest.hexdigest() == hashlib.sha256(b"<" + data + b">").hexdigest()
    # Read whole first, the file would be 32 MiB ahead; streamed, it is ahead by what the
    # socket buffers hold and a chunk or two.
    assert watched.lead < SIZE // 2
    await transport.aclose()


async def test_an_early_answer_stops_the_upload_and_the_connection_is_dropped(
    listen: Callable[[Handler], Awaitable[str]],
) -> None:
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 413 Payload Too Large\r\ncontent-type: application/json\r\n"
            b"content-length: 2\r\n\r\n{}"
        )
        await writer.drain()
        with contextlib.suppress(ConnectionError):
            while await reader.read(65536):
                pass
        writer.close()

    url = await listen(handler)
    reads = [0]

    class Counted(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            reads[0] += 1
            return super().read(size)

    body = Payload("/x", "image/png", [FilePiece(Counted(bytes(SIZE)), SIZE)])
    transport = PooledTransport(max_connections=1)
    response = await transport.handle_async_request(post(url, body))
    assert response.status_code == 413
    assert reads[0] < SIZE // CHUNK
    small = Payload("/x", "image/png", [b"tiny"])
    assert (await transport.handle_async_request(post(url, small))).status_code == 413
    assert connections == 2
    await transport.aclose()


async def test_a_payload_must_say_its_length() -> None:
    body = Payload("/x", "image/png", [b"abc"])
    request = httpx.Request(
        "POST",
        "http://127.0.0.1:9/x",
        headers={"content-length": "4"},
        stream=body,
        extensions={"timeout": timeouts(1.0, 1.0)},
    )
    with pytest.raises(httpx.LocalProtocolError):
        await PooledTransport(max_connections=1).handle_async_request(request)


def test_base64_pieces_are_the_base64_of_the_file() -> None:
    data = bytes(range(256)) * 3000
    piece = FilePiece(io.BytesIO(data), len(data), base64=True)
    encoded = b"".join(piece.chunks())
    assert encoded == base64.b64encode(data) and len(encoded) == piece.length
    short = FilePiece(io.BytesIO(b"ab"), 3)
    with pytest.raises(httpx.LocalProtocolError):
        list(short.chunks())
