"""Reusing kept-alive connections: a request the server never saw goes out once more on a new
connection; one it may have seen never does (a generation is paid for)."""

from __future__ import annotations

import asyncio
import select
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
import trustme

from gateway.upstream.connection import Connection, Origin, RequestNotSent
from gateway.upstream.transport import PooledTransport
from tests.upstream.conftest import OK, request, send


class Peer:
    """One accepted connection, and what the test asks its thread to do with it."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.ending: str | None = None
        self.ended = threading.Event()


class RawServer:
    """A server on plain sockets in threads (so a test can reset a connection at an exact
    moment); it answers every whole request with ``OK``."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.tls = tls
        self.peers: list[Peer] = []
        self.requests: list[bytes] = []
        self.connections = 0
        self.answer_next = True
        self._lock = threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        host = "localhost" if self.tls else "127.0.0.1"
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}/v1/x"

    def _serve(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._connection, args=(sock,), daemon=True).start()

    def _connection(self, sock: socket.socket) -> None:
        peer = None
        try:
            if self.tls is not None:
                sock = self.tls.wrap_socket(sock, server_side=True)
            peer = Peer(sock)
            with self._lock:
                self.connections += 1
                self.peers.append(peer)
            data = b""
            while peer.ending is None:
                pending = isinstance(sock, ssl.SSLSocket) and sock.pending()
                if not pending and not select.select([sock], [], [], 0.002)[0]:
                    continue
                chunk = sock.recv(65536)
                if not chunk:
                    return
                data += chunk
                while b"\r\n\r\n{}" in data:
                    head, _, data = data.partition(b"\r\n\r\n{}")
                    self.requests.append(head)
                    if self.answer_next:
                        sock.sendall(OK)
            if peer.ending == "reset":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                sock.shutdown(socket.SHUT_RDWR)
        except (OSError, ValueError):
            return
        finally:
            sock.close()
            if peer is not None:
                peer.ended.set()

    def _end_all(self, how: str) -> None:
        with self._lock:
            peers, self.peers = self.peers, []
        for peer in peers:
            peer.ending = how
        for peer in peers:
            peer.ended.wait(5)

    def reset_all(self) -> None:
        """Reset every connection (RST, not FIN); returns once the resets have left."""
        self._end_all("reset")

    def close_all(self) -> None:
        """Close every connection cleanly (FIN)."""
        self._end_all("close")

    def stop(self) -> None:
        self.listener.close()
        self.reset_all()


@pytest.fixture
def raw_server() -> Iterator[Callable[..., RawServer]]:
    servers: list[RawServer] = []

    def start(tls: ssl.SSLContext | None = None) -> RawServer:
        servers.append(RawServer(tls))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def reset_after_the_check(monkeypatch: pytest.MonkeyPatch) -> Callable[[RawServer], None]:
    """The race the pool cannot see: the server resets an idle connection right after the
    pool checked that it was still open, before the request is written."""

    def arm(server: RawServer) -> None:
        checked = Connection.has_news

        def has_news(self: Connection) -> bool:
            news = checked(self)
            server.reset_all()
            deadline = time.monotonic() + 5
            while not checked(self) and time.monotonic() < deadline:
                time.sleep(0.001)
            return news

        monkeypatch.setattr(Connection, "has_news", has_news)

    return arm


async def wait_for(check: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not check():
            await asyncio.sleep(0.001)


async def test_a_request_the_server_never_saw_is_sent_again(
    raw_server: Callable[..., RawServer], reset_after_the_check: Callable[[RawServer], None]
) -> None:
    server = raw_server()
    transport = PooledTransport(max_connections=1)
    assert (await send(transport, request(server.url))).status_code == 201
    reset_after_the_check(server)
    assert (await send(transport, request(server.url))).status_code == 201
    assert server.connections == 2 and len(server.requests) == 2
    await transport.aclose()


async def test_over_tls_too(
    raw_server: Callable[..., RawServer], reset_after_the_check: Callable[[RawServer], None]
) -> None:
    authority = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(server_tls)
    client_tls = ssl.create_default_context()
    authority.configure_trust(client_tls)
    server = raw_server(server_tls)
    transport = PooledTransport(max_connections=1, verify=client_tls)
    assert (await send(transport, request(server.url))).status_code == 201
    reset_after_the_check(server)
    assert (await send(transport, request(server.url))).status_code == 201
    assert server.connections == 2 and len(server.requests) == 2
    await transport.aclose()


async def test_it_is_sent_again_only_once(
    raw_server: Callable[..., RawServer],
    reset_after_the_check: Callable[[RawServer], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = raw_server()
    transport = PooledTransport(max_connections=1)
    assert (await send(transport, request(server.url))).status_code == 201
    reset_after_the_check(server)
    connect = PooledTransport._connect

    async def connect_then_reset(
        self: PooledTransport, origin: Origin, timeout: float | None
    ) -> Connection:
        connection = await connect(self, origin, timeout)
        await wait_for(lambda: bool(server.peers))
        server.reset_all()
        return connection

    monkeypatch.setattr(PooledTransport, "_connect", connect_then_reset)
    with pytest.raises(RequestNotSent):
        await send(transport, request(server.url))
    assert server.connections == 2 and len(server.requests) == 1
    monkeypatch.undo()
    assert (await send(transport, request(server.url))).status_code == 201
    await transport.aclose()


async def test_a_request_that_may_have_reached_the_server_is_not_sent_again(
    raw_server: Callable[..., RawServer],
) -> None:
    server = raw_server()
    transport = PooledTransport(max_connections=1)
    assert (await send(transport, request(server.url))).status_code == 201
    server.answer_next = False
    call = asyncio.ensure_future(send(transport, request(server.url)))
    await wait_for(lambda: len(server.requests) == 2)
    server.close_all()
    with pytest.raises(httpx.RemoteProtocolError):
        await call
    assert server.connections == 1 and len(server.requests) == 2
    await transport.aclose()


async def test_a_connection_closed_while_idle_is_not_used(
    raw_server: Callable[..., RawServer],
) -> None:
    server = raw_server()
    transport = PooledTransport(max_connections=1)
    assert (await send(transport, request(server.url))).status_code == 201
    server.reset_all()
    assert (await send(transport, request(server.url))).status_code == 201
    assert server.connections == 2 and len(server.requests) == 2
    await transport.aclose()
