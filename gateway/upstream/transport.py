"""The upstream transport: HTTP/1.1 on pooled keep-alive connections, under httpx's API.

httpx stays the gateway's HTTP client: requests and responses are ``httpx.Request`` and
``httpx.Response``, and failures are httpx's exceptions. What is underneath is measured,
not assumed: httpx's default transport degrades under concurrency, and aiohttp under
httpx (``httpx-aiohttp``) spent most of a cache miss translating between two libraries'
request and response types. This transport does only what an upstream API call needs: one
request with its body known up front (or, for an edit's uploads, a
:class:`~gateway.upstream.payload.Payload` of known length written piece by piece as the
socket drains), one response read whole. Each connection is an
asyncio protocol whose response is parsed by httptools (the parser uvicorn already uses;
:mod:`gateway.upstream.connection`), so a call costs one write, the parser's callbacks and
one future.

Pool: at most ``max_connections`` open connections in all, idle ones reused newest first
and closed after ``keepalive_expiry`` seconds unused; callers beyond the limit wait in
order for ``pool`` seconds (``httpx.PoolTimeout``). Timeouts come from the request's
``timeout`` extension: ``connect`` for opening a connection (resolving, a proxy tunnel and
the TLS handshake included) and ``read`` for the whole answer, from the request being
written to its last byte. A connection is reused only after a complete response the server
did not mark ``Connection: close``; a call that is cancelled or fails closes its
connection. A request the server provably never saw (its reused connection turned out to
be closed when it was written) is sent once more on a new connection; one that may have
reached the server is never sent twice, since a generation is paid for.

Proxies come from the environment (:mod:`gateway.upstream.proxy`); connecting races the
host's addresses (:mod:`gateway.upstream.dial`).
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from typing import Any

import httpx

from gateway.upstream.connection import Connection, Origin, RequestNotSent
from gateway.upstream.dial import HAPPY_EYEBALLS_DELAY, Resolver, open_connection, resolve
from gateway.upstream.payload import Payload
from gateway.upstream.proxy import Proxy, ProxyRules

DEFAULT_PORTS = {b"http": 80, b"https": 443}
MAX_HEADER_BYTES = 65_536
MAX_BODY_BYTES = 134_217_728


class PooledTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 keep-alive connections shared by every upstream call of the process."""

    def __init__(
        self,
        *,
        max_connections: int = 100,
        max_keepalive: int | None = None,
        keepalive_expiry: float = 5.0,
        verify: ssl.SSLContext | bool = True,
        max_header_bytes: int = MAX_HEADER_BYTES,
        max_body_bytes: int = MAX_BODY_BYTES,
        proxies: ProxyRules | None = None,
        resolver: Resolver = resolve,
        happy_eyeballs_delay: float = HAPPY_EYEBALLS_DELAY,
    ) -> None:
        self._max = max(1, max_connections)
        self._max_idle = self._max if max_keepalive is None else max_keepalive
        self._expiry = keepalive_expiry
        self._verify = verify
        self._tls: ssl.SSLContext | None = None
        self._max_head = max_header_bytes
        self._max_body = max_body_bytes
        self._proxies = proxies
        self._routes: dict[Origin, Proxy | None] = {}
        self._resolver = resolver
        self._delay = happy_eyeballs_delay
        self._idle: dict[Origin, list[Connection]] = {}
        self._idle_count = 0
        self._open = 0
        self._waiters: collections.deque[tuple[Origin, asyncio.Future[Connection | None]]] = (
            collections.deque()
        )
        self._closing = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` on a pooled connection and read its whole response."""
        timeout: dict[str, float | None] = request.extensions.get("timeout", {})
        url = request.url
        origin = (url.raw_scheme, url.raw_host, url.port or DEFAULT_PORTS.get(url.raw_scheme, 80))
        proxy = None if self._proxies is None else self._route(origin)
        stream = request.stream
        rest = stream if isinstance(stream, Payload) else None
        content = b"" if rest is not None else await request.aread()
        if proxy is not None and origin[0] == b"http":
            target = url.raw_scheme + b"://" + url.netloc + url.raw_path
            data = _serialise(request, content, target, proxy.authorization, rest)
        else:
            data = _serialise(request, content, url.raw_path, None, rest)
        connect = timeout.get("connect")
        read = timeout.get("read")
        bodiless = request.method == "HEAD"
        connection = await self._acquire(origin, connect, timeout.get("pool"))
        reusable = False
        try:
            try:
                status, headers, body, reusable = await connection.exchange(
                    data, read, bodiless=bodiless, rest=rest
                )
            except RequestNotSent:
                # In the slot the closed connection held; if connecting fails, releasing
                # the closed one below frees that slot. A payload is read again from its
                # start.
                connection = await self._connect(origin, connect)
                status, headers, body, reusable = await connection.exchange(
                    data, read, bodiless=bodiless, rest=rest
                )
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
    ) -> Connection:
        """A live idle connection, a new one if the limit allows, or the next one freed.

        Callers that find the pool full queue in order: a released connection (or the
        slot of a closed one) goes straight to the first of them, never to a newcomer.
        """
        idle = self._idle.get(origin)
        now = asyncio.get_running_loop().time()
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
                if not handed.closed and not handed.has_news():
                    return handed
                handed.close()
        try:
            return await self._connect(origin, connect_timeout)
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

    async def _wait_turn(self, origin: Origin, pool_timeout: float | None) -> Connection | None:
        """Wait to be handed a connection (or, as None, the slot of a closed one)."""
        waiter: asyncio.Future[Connection | None] = asyncio.get_running_loop().create_future()
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

    def _next_waiter(self) -> tuple[Origin, asyncio.Future[Connection | None]] | None:
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

    def _release(self, connection: Connection, reusable: bool) -> None:
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

    def _route(self, origin: Origin) -> Proxy | None:
        """The proxy for ``origin`` (worked out once per origin)."""
        try:
            return self._routes[origin]
        except KeyError:
            assert self._proxies is not None
            scheme, host, port = origin
            found = self._proxies.proxy_for(scheme.decode(), host.decode(), port)
            self._routes[origin] = found
            return found

    async def _connect(self, origin: Origin, connect_timeout: float | None) -> Connection:
        loop = asyncio.get_running_loop()
        scheme, host, port = origin
        tls = self._tls_context() if scheme == b"https" else None
        proxy = None if self._proxies is None else self._route(origin)
        max_head, max_body = self._max_head, self._max_body
        try:
            async with asyncio.timeout(connect_timeout):
                return await open_connection(
                    loop,
                    lambda: Connection(loop, origin, max_head, max_body),
                    host.decode("ascii"),
                    port,
                    tls=tls,
                    proxy=proxy,
                    resolver=self._resolver,
                    delay=self._delay,
                )
        except TimeoutError:
            raise httpx.ConnectTimeout("Connecting to the upstream timed out.") from None
        except OSError as exc:
            raise httpx.ConnectError(f"Cannot connect to the upstream: {exc}") from None

    def _tls_context(self) -> ssl.SSLContext:
        """The caller's context as it is, or one of our own that offers only HTTP/1.1."""
        if self._tls is None:
            if isinstance(self._verify, ssl.SSLContext):
                self._tls = self._verify
            else:
                self._tls = httpx.create_ssl_context(verify=self._verify)
                self._tls.set_alpn_protocols(["http/1.1"])
        return self._tls


def _serialise(
    request: httpx.Request,
    body: bytes,
    target: bytes,
    proxy_authorization: bytes | None,
    payload: Payload | None = None,
) -> bytes:
    """The request as HTTP/1.1 bytes, its body framed as its headers say.

    Header values that could split the request are refused, as are framing headers that
    disagree with the body; a body sent without a length is encoded as chunked (one chunk,
    since it is read whole), and one without any framing header gets a length. With a
    ``payload`` (written after these bytes), only the head: its length must be declared.
    """
    parts: list[bytes] = [request.method.encode("ascii"), b" ", target, b" HTTP/1.1\r\n"]
    length = None
    chunked = False
    for name, value in request.headers.raw:
        if b"\r" in value or b"\n" in value or b"\r" in name or b"\n" in name:
            raise httpx.LocalProtocolError("A header contains a line break.")
        size = len(name)
        if size == 14 and name.lower() == b"content-length":
            length = value
        elif size == 17 and name.lower() == b"transfer-encoding":
            if value.strip().lower() != b"chunked":
                raise httpx.LocalProtocolError("Only the chunked transfer coding is supported.")
            chunked = True
        parts += (name, b": ", value, b"\r\n")
    if proxy_authorization is not None:
        parts += (b"Proxy-Authorization: ", proxy_authorization, b"\r\n")
    if payload is not None:
        if chunked or length is None or length.strip() != b"%d" % payload.length:
            raise httpx.LocalProtocolError("A payload is sent with its Content-Length.")
        parts.append(b"\r\n")
        return b"".join(parts)
    if chunked:
        if length is not None:
            raise httpx.LocalProtocolError("A request cannot have both a length and chunks.")
        if body:
            parts += (b"\r\n", b"%x\r\n" % len(body), body, b"\r\n0\r\n\r\n")
        else:
            parts.append(b"\r\n0\r\n\r\n")
        return b"".join(parts)
    if length is None:
        if body:
            parts += (b"content-length: ", b"%d" % len(body), b"\r\n")
    elif not length.strip().isdigit() or int(length) != len(body):
        raise httpx.LocalProtocolError("The request's Content-Length does not match its body.")
    parts += (b"\r\n", body)
    return b"".join(parts)


def timeouts(connect: float, read: float) -> dict[str, Any]:
    """The ``timeout`` extension of a request, as httpx spells it."""
    return httpx.Timeout(connect=connect, read=read, write=read, pool=connect).as_dict()
