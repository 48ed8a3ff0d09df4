"""Loopback servers for the transport's tests, and both event loops the gateway may run on.

Every async test here runs twice: on asyncio's own loop and on uvloop (what uvicorn picks
in production), since the transport leans on what each loop's transports do.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import httptools
import httpx
import pytest
import uvloop

from gateway.testing.procs import free_port
from gateway.upstream.transport import PooledTransport, timeouts

Reply = Callable[[bytes], Awaitable[bytes | None]]
OK = (
    b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n"
    b'{"ok":true}'
)


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}


class _Requests:
    """httptools callbacks collecting whole requests (any framing) off one connection."""

    def __init__(self) -> None:
        self.done: list[tuple[bytes, bytes]] = []
        self.parser = httptools.HttpRequestParser(self)
        self._url = b""
        self._head = b""
        self._body: list[bytes] = []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_headers_complete(self) -> None:
        self._head = self.parser.get_method() + b" " + self._url + b" HTTP/1.1" + self._head

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head += b"\r\n" + name + b": " + value

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        self.done.append((self._head, b"".join(self._body)))
        self._url, self._head, self._body = b"", b"", []


class Server:
    """A loopback server: ``reply`` maps each request to raw response bytes (None: say
    nothing); it counts connections and can close them after answering.

    ``requests`` holds each request as its target and header lines, a blank line and the
    body as the server's parser decoded it (so a body that is not framed right shows).
    """

    def __init__(self, reply: Reply, *, close_after: bool = False) -> None:
        self.reply = reply
        self.close_after = close_after
        self.connections = 0
        self.requests: list[bytes] = []
        self.writers: list[asyncio.StreamWriter] = []
        self.received = asyncio.Event()
        self.stopped = asyncio.Event()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        collected = _Requests()
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                collected.parser.feed_data(data)
                while collected.done:
                    head, body = collected.done.pop(0)
                    request = head + b"\r\n\r\n" + body
                    self.requests.append(request)
                    self.received.set()
                    answer = await self.reply(request)
                    if answer is None:
                        await self.stopped.wait()
                        return
                    writer.write(answer)
                    await writer.drain()
                    if self.close_after:
                        return
        except (httptools.HttpParserError, ConnectionError):
            pass
        finally:
            writer.close()


Serve = Callable[..., Awaitable[tuple[Server, str]]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    servers: list[tuple[Server, asyncio.Server]] = []

    async def start(
        reply: Reply, *, close_after: bool = False, tls: ssl.SSLContext | None = None
    ) -> tuple[Server, str]:
        server = Server(reply, close_after=close_after)
        port = free_port()
        listening = await asyncio.start_server(server.handle, "127.0.0.1", port, ssl=tls)
        servers.append((server, listening))
        scheme = "https" if tls else "http"
        return server, f"{scheme}://{'localhost' if tls else '127.0.0.1'}:{port}/v1/x?y=1"

    yield start
    for server, listening in servers:
        server.stopped.set()
        listening.close()
        for writer in server.writers:
            writer.transport.abort()
        await listening.wait_closed()


def replies(*answers: bytes | None) -> Reply:
    """Answer with ``answers`` in turn, the last one for ever after."""
    left = list(answers)

    async def reply(request: bytes) -> bytes | None:
        return left.pop(0) if len(left) > 1 else left[0]

    return reply


def request(
    url: str,
    *,
    read: float = 5.0,
    pool: float = 5.0,
    method: str = "POST",
    body: Any = b"{}",
    headers: dict[str, str] | None = None,
) -> httpx.Request:
    extensions = {"timeout": {**timeouts(5.0, read), "pool": pool}}
    content = None if method in ("GET", "HEAD") else body
    return httpx.Request(method, url, content=content, headers=headers, extensions=extensions)


async def send(transport: PooledTransport, req: httpx.Request) -> httpx.Response:
    response = await transport.handle_async_request(req)
    await response.aread()
    return response
