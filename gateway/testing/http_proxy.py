"""A small HTTP proxy for tests: CONNECT tunnels and absolute-form forwarding, on loopback.

It records what it was asked (``CONNECT host:port`` or the absolute URL, with any
``Proxy-Authorization``), can require credentials (407 otherwise) and can refuse tunnels,
so a test can prove that the gateway's upstream calls go through it. Each forwarded
request gets its own connection to the target, and the answer is relayed until either side
closes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class ProxyLog:
    """What the proxy was asked: one ``(target, proxy-authorization)`` per request."""

    seen: list[tuple[str, str | None]] = field(default_factory=list)
    require: str | None = None
    refuse: bool = False


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


class HttpProxy:
    """The proxy: its log, its listening server and the connections it holds."""

    def __init__(self, log: ProxyLog) -> None:
        self.log = log
        self.server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def _relay(
        self,
        client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        target: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    ) -> None:
        try:
            await asyncio.gather(_pipe(client[0], target[1]), _pipe(target[0], client[1]))
        finally:
            self._writers.discard(target[1])

    async def close(self) -> None:
        """Stop listening and drop every connection."""
        if self.server is not None:
            self.server.close()
            for writer in self._writers:
                writer.transport.abort()
            await self.server.wait_closed()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one client connection: one CONNECT tunnel or one forwarded request."""
        self._writers.add(writer)
        try:
            await self._serve(reader, writer)
        finally:
            self._writers.discard(writer)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name:
                headers[name.strip().lower()] = value.strip()
        credentials = headers.get("proxy-authorization")
        self.log.seen.append((target, credentials))
        if self.log.require is not None and credentials != self.log.require:
            writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\ncontent-length: 0\r\n\r\n")
            writer.close()
            return
        if method == "CONNECT":
            await self._tunnel(target, reader, writer)
        else:
            await self._forward(lines, target, reader, writer)

    async def _tunnel(
        self, target: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        host, _, port = target.rpartition(":")
        if self.log.refuse:
            writer.write(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n")
            writer.close()
            return
        try:
            upstream = await asyncio.open_connection(host.strip("[]"), int(port))
            self._writers.add(upstream[1])
        except OSError:
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
            writer.close()
            return
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await self._relay((reader, writer), upstream)

    async def _forward(
        self,
        lines: list[str],
        target: str,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        url = urlsplit(target)
        if url.scheme != "http" or not url.hostname:
            writer.write(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
            writer.close()
            return
        method = lines[0].split(" ", 1)[0]
        path = url.path + (f"?{url.query}" if url.query else "")
        kept = [
            line
            for line in lines[1:]
            if line and not line.lower().startswith(("proxy-authorization:", "connection:"))
        ]
        head = "\r\n".join([f"{method} {path} HTTP/1.1", *kept, "connection: close", "", ""])
        try:
            upstream = await asyncio.open_connection(url.hostname, url.port or 80)
            self._writers.add(upstream[1])
        except OSError:
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
            writer.close()
            return
        upstream[1].write(head.encode("latin-1"))
        await self._relay((reader, writer), upstream)


async def start(log: ProxyLog | None = None, host: str = "127.0.0.1", port: int = 0) -> HttpProxy:
    """Start the proxy on the running loop, listening on ``host:port`` (0: any free port)."""
    proxy = HttpProxy(log or ProxyLog())
    proxy.server = await asyncio.start_server(proxy.handle, host, port)
    return proxy
