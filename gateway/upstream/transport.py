"""The upstream transport: HTTP/1.1 on pooled keep-alive connections, under httpx's API.

httpx stays the gateway's HTTP client: requests and responses are ``httpx.Request`` and
``httpx.Response``, and failures are httpx's exceptions. What is underneath is measured,
not assumed: httpx's default transport degrades under concurrency, and aiohttp under
httpx (``httpx-aiohttp``) spent most of a cache miss translating between two libraries'
request and response types. This transport does only what an upstream API call needs: one
request with its body known up front, one response read whole. Each connection is an
asyncio protocol whose response is parsed by httptools (the parser uvicorn already uses),
so a call costs one write, the parser's callbacks and one future.

Pool: at most ``max_connections`` open connections in all, idle ones reused newest first
and closed after ``keepalive_expiry`` seconds unused; callers beyond the limit wait in
order for ``pool`` seconds (``httpx.PoolTimeout``). Timeouts come from the request's
``timeout`` extension: ``connect`` for opening a connection and ``read`` for any silence
while waiting for the answer (sending a body is bounded by it too). A connection is reused
only after a complete response the server did not mark ``Connection: close``; a call that
is cancelled or fails closes its connection.
"""

from __future__ import annotations

import asyncio
import collections
import select
import ssl
from typing import Any, cast

import httptools
import httpx

Origin = tuple[bytes, bytes, int]
DEFAULT_PORTS = {b"http": 80, b"https": 443}


class _Connection(asyncio.Protocol):
    """One socket to the upstream, carrying one exchange at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop, origin: Origin) -> None:
        self.origin = origin
        self.idle_since = 0.0
        self.closed = False
        self._loop = loop
        self._transport: asyncio.Transport | None = None
        self._parser: httptools.HttpResponseParser | None = None
        self._answer: asyncio.Future[tuple[int, list[tuple[bytes, bytes]], bytes]] | None = None
        self._status = 0
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._headers_done = False
        self._delimited_by_close = False
        self._keep_alive = False
        self._heard = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast("asyncio.Transport", transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._answer is not None and not self._answer.done():
            if self._headers_done and self._delimited_by_close:
                self._keep_alive = False
                self.on_message_complete()
            else:
                self._fail(
                    httpx.RemoteProtocolError(
                        "The upstream closed the connection before a complete response."
                    )
                )
        # The parser calls back into this object and the transport holds it: dropping both
        # lets reference counting free a closed connection at once instead of leaving a
        # cycle for the collector (a thousand at a time when clients leave en masse).
        self._parser = None
        self._transport = None

    def data_received(self, data: bytes) -> None:
        self._heard = self._loop.time()
        if self._parser is None:
            self.close()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self._fail(httpx.RemoteProtocolError("The upstream sent a malformed response."))

    def on_message_begin(self) -> None:
        if self._answer is None or self._answer.done():
            self._fail(httpx.RemoteProtocolError("The upstream sent an unrequested response."))
            return
        self._headers = []
        self._body = []
        self._headers_done = False

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        assert self._parser is not None
        self._status = self._parser.get_status_code()
        self._headers_done = True
        self._delimited_by_close = not any(
            name.lower() in (b"content-length", b"transfer-encoding") for name, _ in self._headers
        )

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        if 100 <= self._status < 200:
            return
        answer = self._answer
        if answer is None or answer.done():
            return
        if self._parser is not None:
            self._keep_alive = self._parser.should_keep_alive()
        self._parser = None
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        answer.set_result((self._status, self._headers, body))

    def _fail(self, error: Exception) -> None:
        self._parser = None
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(error)
        self.close()

    def has_news(self) -> bool:
        """Whether an idle connection's socket has something the loop has not read yet:
        the server's close (or stray bytes), so the connection must not be reused.

        The loop notices a close on its next turn; a request written before that would be
        lost on a connection the server already gave up.
        """
        sock = self._transport.get_extra_info("socket") if self._transport else None
        if sock is None:
            return True
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN)
        return bool(poller.poll(0))

    def close(self) -> None:
        """Close at once; an exchange in progress fails."""
        self.closed = True
        if self._transport is not None:
            self._transport.abort()

    async def exchange(
        self, data: bytes, read_timeout: float | None
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes, bool]:
        """Send one request; the response's status, headers, body and reusability."""
        if self.closed or self._transport is None:
            raise httpx.RemoteProtocolError("The upstream closed the connection.")
        self._parser = httptools.HttpResponseParser(self)
        self._answer = answer = self._loop.create_future()
        self._keep_alive = False
        self._heard = self._loop.time()
        self._transport.write(data)
        if read_timeout is not None:
            self._timer = self._loop.call_at(
                self._heard + read_timeout, self._check_silence, read_timeout
            )
        try:
            status, headers, body = await answer
        finally:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._answer = None
        return status, headers, body, self._keep_alive and not self.closed

    def _check_silence(self, read_timeout: float) -> None:
        """Fail the exchange after ``read_timeout`` seconds without a byte from the server."""
        silent_until = self._heard + read_timeout
        if self._loop.time() < silent_until:
            self._timer = self._loop.call_at(silent_until, self._check_silence, read_timeout)
            return
        self._fail(httpx.ReadTimeout("The upstream did not answer in time."))


class PooledTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 keep-alive connections shared by every upstream call of the process."""

    def __init__(
        self,
        *,
        max_connections: int = 100,
        max_keepalive: int | None = None,
        keepalive_expiry: float = 5.0,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self._max = max(1, max_connections)
        self._max_idle = self._max if max_keepalive is None else max_keepalive
        self._expiry = keepalive_expiry
        self._verify = verify
        self._tls: ssl.SSLContext | None = None
        self._idle: dict[Origin, list[_Connection]] = {}
        self._idle_count = 0
        self._open = 0
        self._waiters: collections.deque[tuple[Origin, asyncio.Future[_Connection | None]]] = (
            collections.deque()
        )
        self._closing = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` on a pooled connection and read its whole response."""
        timeout: dict[str, float | None] = request.extensions.get("timeout", {})
        url = request.url
        origin = (url.raw_scheme, url.raw_host, url.port or DEFAULT_PORTS.get(url.raw_scheme, 80))
        data = _serialise(request, await request.aread())
        connection = await self._acquire(origin, timeout.get("connect"), timeout.get("pool"))
        reusable = False
        try:
            status, headers, body, reusable = await connection.exchange(data, timeout.get("read"))
        finally:
            self._release(connection, reusable)
        return httpx.Response(
            status,
            headers=headers,
            stream=httpx.ByteStream(body),
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        """Close every idle connection; connections in use close when their call ends."""
        self._closing = True
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
                self._open -= 1
        self._idle.clear()
        self._idle_count = 0

    async def _acquire(
        self, origin: Origin, connect_timeout: float | None, pool_timeout: float | None
    ) -> _Connection:
        """A live idle connection, a new one if the limit allows, or the next one freed.

        Callers that find the pool full queue in order: a released connection (or the
        slot of a closed one) goes straight to the first of them, never to a newcomer.
        """
        loop = asyncio.get_running_loop()
        idle = self._idle.get(origin)
        now = loop.time()
        while idle:
            connection = idle.pop()
            self._idle_count -= 1
            if (
                not connection.closed
                and now - connection.idle_since < self._expiry
                and not connection.has_news()
            ):
                return connection
            connection.close()
            self._free_slot()
        while self._open >= self._max and self._idle_count and not self._waiters:
            self._evict_one()
        if self._open < self._max and not self._waiters:
            self._open += 1
        else:
            handed = await self._wait_turn(origin, pool_timeout)
            if handed is not None:
                if not handed.closed:
                    return handed
                handed.close()
        try:
            return await self._connect(loop, origin, connect_timeout)
        except BaseException:
            self._free_slot()
            raise

    def _evict_one(self) -> None:
        """Close the oldest idle connection to another origin to make room."""
        for connections in self._idle.values():
            if connections:
                connections.pop(0).close()
                self._idle_count -= 1
                self._open -= 1
                return

    async def _wait_turn(self, origin: Origin, pool_timeout: float | None) -> _Connection | None:
        """Wait to be handed a connection (or, as None, the slot of a closed one)."""
        waiter: asyncio.Future[_Connection | None] = asyncio.get_running_loop().create_future()
        self._waiters.append((origin, waiter))
        try:
            async with asyncio.timeout(pool_timeout):
                return await waiter
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():
                handed = waiter.result()
                if handed is None:
                    self._free_slot()
                else:
                    self._release(handed, True)
            else:
                waiter.cancel()
            if isinstance(exc, TimeoutError):
                raise httpx.PoolTimeout("No upstream connection became free in time.") from None
            raise

    def _next_waiter(self) -> tuple[Origin, asyncio.Future[_Connection | None]] | None:
        while self._waiters:
            origin, waiter = self._waiters.popleft()
            if not waiter.done():
                return origin, waiter
        return None

    def _free_slot(self) -> None:
        """A connection closed: its slot goes to the first waiter, or back to the pool."""
        waiting = self._next_waiter()
        if waiting is None:
            self._open -= 1
        else:
            waiting[1].set_result(None)

    def _release(self, connection: _Connection, reusable: bool) -> None:
        if not reusable or connection.closed or self._closing:
            connection.close()
            self._free_slot()
            return
        waiting = self._next_waiter()
        if waiting is not None:
            origin, waiter = waiting
            if origin == connection.origin:
                waiter.set_result(connection)
            else:
                connection.close()
                waiter.set_result(None)
            return
        if self._idle_count >= self._max_idle:
            connection.close()
            self._open -= 1
            return
        connection.idle_since = asyncio.get_running_loop().time()
        self._idle.setdefault(connection.origin, []).append(connection)
        self._idle_count += 1

    async def _connect(
        self, loop: asyncio.AbstractEventLoop, origin: Origin, connect_timeout: float | None
    ) -> _Connection:
        scheme, host, port = origin
        tls = self._tls_context() if scheme == b"https" else None
        name = host.decode("ascii")
        try:
            async with asyncio.timeout(connect_timeout):
                _, connection = await loop.create_connection(
                    lambda: _Connection(loop, origin),
                    name,
                    port,
                    ssl=tls,
                    server_hostname=name if tls is not None else None,
                )
        except TimeoutError:
            raise httpx.ConnectTimeout("Connecting to the upstream timed out.") from None
        except OSError as exc:
            raise httpx.ConnectError(f"Cannot connect to the upstream: {exc}") from None
        return connection

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            verify = self._verify
            self._tls = (
                verify
                if isinstance(verify, ssl.SSLContext)
                else (httpx.create_ssl_context(verify=verify))
            )
            self._tls.set_alpn_protocols(["http/1.1"])
        return self._tls


def _serialise(request: httpx.Request, body: bytes) -> bytes:
    """The request as HTTP/1.1 bytes; header values that could split it are refused."""
    parts: list[bytes] = [
        request.method.encode("ascii"),
        b" ",
        request.url.raw_path,
        b" HTTP/1.1\r\n",
    ]
    for name, value in request.headers.raw:
        if b"\r" in value or b"\n" in value or b"\r" in name or b"\n" in name:
            raise httpx.LocalProtocolError("A header contains a line break.")
        parts += (name, b": ", value, b"\r\n")
    parts += (b"\r\n", body)
    return b"".join(parts)


def timeouts(connect: float, read: float) -> dict[str, Any]:
    """The ``timeout`` extension of a request, as httpx spells it."""
    return httpx.Timeout(connect=connect, read=read, write=read, pool=connect).as_dict()
