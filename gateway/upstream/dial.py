"""Opening an upstream connection: happy-eyeballs connecting, a proxy tunnel, TLS.

Addresses are tried as RFC 8305 says: in the resolver's order with the address families
interleaved, the next attempt starting when the previous one fails or after
``happy_eyeballs_delay`` seconds, the first to connect winning. A black-holed IPv6 address
then costs that delay instead of the whole connect timeout. asyncio's own
``create_connection(happy_eyeballs_delay=...)`` would do it, but uvloop (the loop the
gateway runs on) does not take the argument, so the race is run here on plain sockets and
the winner handed to the loop.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import ssl
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx

from gateway.upstream.connection import Connection
from gateway.upstream.proxy import Proxy

AddrInfo = tuple[int, int, int, str, tuple[Any, ...]]
Resolver = Callable[[str, int], Awaitable[Sequence[AddrInfo]]]
HAPPY_EYEBALLS_DELAY = 0.25


async def resolve(host: str, port: int) -> Sequence[AddrInfo]:
    """The host's TCP addresses; an IP literal is taken as it is, without a lookup."""
    try:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    except socket.gaierror:
        loop = asyncio.get_running_loop()
        return await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)


def interleave(infos: Sequence[AddrInfo]) -> list[AddrInfo]:
    """Addresses in the resolver's order, alternating between address families."""
    by_family: dict[int, list[AddrInfo]] = {}
    for info in infos:
        by_family.setdefault(info[0], []).append(info)
    return [
        info
        for group in itertools.zip_longest(*by_family.values())
        for info in group
        if info is not None
    ]


async def _attempt(loop: asyncio.AbstractEventLoop, info: AddrInfo) -> socket.socket:
    family, kind, proto, _, address = info
    sock = socket.socket(family, kind, proto)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await loop.sock_connect(sock, address)
    except BaseException:
        sock.close()
        raise
    return sock


async def _settle(
    pending: set[asyncio.Task[socket.socket]], errors: list[OSError], delay: float | None
) -> socket.socket | None:
    """Wait up to ``delay`` for an attempt to end; the first socket connected, if any."""
    done, _ = await asyncio.wait(pending, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
    winner = None
    for task in done:
        pending.discard(task)
        error = task.exception()
        if error is None:
            if winner is None:
                winner = task.result()
            else:
                task.result().close()
        elif isinstance(error, OSError):
            errors.append(error)
        else:
            raise error
    return winner


async def connect_socket(
    host: str, port: int, *, resolver: Resolver = resolve, delay: float = HAPPY_EYEBALLS_DELAY
) -> socket.socket:
    """A connected TCP socket to ``host:port``, raced over its addresses (RFC 8305)."""
    loop = asyncio.get_running_loop()
    infos = interleave(await resolver(host, port))
    if not infos:
        raise OSError(f"{host} has no address")
    pending: set[asyncio.Task[socket.socket]] = set()
    errors: list[OSError] = []
    try:
        for info in infos:
            pending.add(loop.create_task(_attempt(loop, info)))
            winner = await _settle(pending, errors, delay)
            if winner is not None:
                return winner
        while pending:
            winner = await _settle(pending, errors, None)
            if winner is not None:
                return winner
    finally:
        for task in pending:
            if task.done() and not task.cancelled() and task.exception() is None:
                task.result().close()
            task.cancel()
    if len(errors) == 1:
        raise errors[0]
    raise OSError(f"all {len(errors)} addresses failed: {'; '.join(map(str, errors))}")


async def open_connection(
    loop: asyncio.AbstractEventLoop,
    factory: Callable[[], Connection],
    host: str,
    port: int,
    *,
    tls: ssl.SSLContext | None,
    proxy: Proxy | None,
    resolver: Resolver = resolve,
    delay: float = HAPPY_EYEBALLS_DELAY,
) -> Connection:
    """A connection to ``host:port``: through ``proxy`` if given (a CONNECT tunnel when
    ``tls`` is set), then TLS when ``tls`` is set."""
    target = (proxy.host, proxy.port) if proxy is not None else (host, port)
    sock = await connect_socket(*target, resolver=resolver, delay=delay)
    try:
        _, connection = await loop.create_connection(factory, sock=sock)
    except BaseException:
        sock.close()
        raise
    try:
        if proxy is not None and tls is not None:
            await _tunnel(connection, host, port, proxy)
        if tls is not None:
            await connection.start_tls(tls, host)
    except BaseException:
        connection.close()
        raise
    return connection


async def _tunnel(connection: Connection, host: str, port: int, proxy: Proxy) -> None:
    """Ask the proxy for a tunnel to ``host:port`` (CONNECT); its refusal is a ProxyError."""
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
    request = ("\r\n".join(lines) + "\r\n").encode("ascii")
    if proxy.authorization is not None:
        request += b"Proxy-Authorization: " + proxy.authorization + b"\r\n"
    try:
        status, _, _, _ = await connection.exchange(request + b"\r\n", None, bodiless=True)
    except httpx.TransportError as exc:
        raise httpx.ProxyError(f"The proxy failed to open a tunnel: {exc}") from None
    if not 200 <= status < 300:
        raise httpx.ProxyError(f"The proxy refused a tunnel to the upstream: status {status}.")
