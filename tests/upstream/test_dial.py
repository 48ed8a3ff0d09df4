"""Opening connections: racing a host's addresses, and TLS contexts left as they were given."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import trustme

from gateway.upstream.dial import AddrInfo, Resolver, interleave, resolve
from gateway.upstream.transport import PooledTransport
from tests.upstream.conftest import OK, request, send


def info(host: str, port: int) -> AddrInfo:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return (family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (host, port))


@contextlib.contextmanager
def black_hole() -> Iterator[int]:
    """A port on 127.0.0.2 that drops every new SYN: a listener with a full backlog. It
    stands for a black-holed IPv6 address (the resolver's first answer, never answering)."""
    listener = socket.socket()
    listener.bind(("127.0.0.2", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    filler = socket.create_connection(("127.0.0.2", port))
    try:
        yield port
    finally:
        filler.close()
        listener.close()


@pytest.fixture
async def server_on() -> AsyncIterator[list[asyncio.Server]]:
    started: list[asyncio.Server] = []
    yield started
    for server in started:
        server.close()
        await server.wait_closed()


async def answer_ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n{}")
    writer.write(OK)
    await writer.drain()
    writer.close()


def static(*infos: AddrInfo) -> Resolver:
    async def resolver(host: str, port: int) -> list[AddrInfo]:
        return list(infos)

    return resolver


async def test_a_black_holed_first_address_costs_only_the_delay(
    server_on: list[asyncio.Server],
) -> None:
    with black_hole() as port:
        server_on.append(await asyncio.start_server(answer_ok, "127.0.0.1", port))
        transport = PooledTransport(
            max_connections=1,
            resolver=static(info("127.0.0.2", port), info("127.0.0.1", port)),
            happy_eyeballs_delay=0.05,
        )
        response = await send(transport, request(f"http://upstream.test:{port}/"))
        assert response.status_code == 201
        await transport.aclose()


async def test_a_refused_address_hands_over_at_once(server_on: list[asyncio.Server]) -> None:
    server_on.append(await asyncio.start_server(answer_ok, "127.0.0.1", 0))
    port = server_on[0].sockets[0].getsockname()[1]
    transport = PooledTransport(
        max_connections=1,
        resolver=static(info("127.0.0.3", port), info("127.0.0.1", port)),
        happy_eyeballs_delay=60,
    )
    async with asyncio.timeout(30):
        response = await send(transport, request(f"http://upstream.test:{port}/"))
    assert response.status_code == 201
    await transport.aclose()


async def test_every_address_failing_is_a_connect_error() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()
    transport = PooledTransport(
        max_connections=1,
        resolver=static(info("127.0.0.1", port), info("127.0.0.3", port)),
    )
    with pytest.raises(httpx.ConnectError, match="all 2 addresses failed"):
        await send(transport, request(f"http://upstream.test:{port}/"))
    await transport.aclose()


async def test_a_name_without_addresses_is_a_connect_error() -> None:
    transport = PooledTransport(max_connections=1, resolver=static())
    with pytest.raises(httpx.ConnectError, match="no address"):
        await send(transport, request("http://upstream.test:1/"))
    await transport.aclose()


def test_address_families_are_interleaved_in_the_resolvers_order() -> None:
    six = [info(f"2001:db8::{i}", 443) for i in range(3)]
    four = [info(f"192.0.2.{i}", 443) for i in range(2)]
    ordered = interleave([six[0], six[1], four[0], six[2], four[1]])
    assert [i[4][0] for i in ordered] == [
        "2001:db8::0",
        "192.0.2.0",
        "2001:db8::1",
        "192.0.2.1",
        "2001:db8::2",
    ]


async def test_resolving_a_literal_and_a_name() -> None:
    assert [i[4][:2] for i in await resolve("127.0.0.1", 8080)] == [("127.0.0.1", 8080)]
    assert {i[4][1] for i in await resolve("localhost", 8080)} == {8080}


@pytest.fixture
def authority() -> trustme.CA:
    return trustme.CA()


def server_tls(authority: trustme.CA, protocols: list[str]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(context)
    context.set_alpn_protocols(protocols)
    return context


async def alpn_server(
    context: ssl.SSLContext, chosen: list[str | None]
) -> tuple[str, asyncio.Server]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        chosen.append(writer.get_extra_info("ssl_object").selected_alpn_protocol())
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await reader.readuntil(b"\r\n\r\n{}")
            writer.write(OK)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    return f"https://localhost:{port}/", server


async def test_a_callers_ssl_context_is_used_as_it_is(
    authority: trustme.CA, server_on: list[asyncio.Server]
) -> None:
    chosen: list[str | None] = []
    url, server = await alpn_server(server_tls(authority, ["h2", "http/1.1"]), chosen)
    server_on.append(server)
    mine = ssl.create_default_context()
    authority.configure_trust(mine)
    transport = PooledTransport(max_connections=1, verify=mine)
    assert (await send(transport, request(url))).status_code == 201
    assert chosen == [None]
    await transport.aclose()


async def test_a_server_choosing_another_protocol_is_refused(
    authority: trustme.CA, server_on: list[asyncio.Server]
) -> None:
    chosen: list[str | None] = []
    url, server = await alpn_server(server_tls(authority, ["h2"]), chosen)
    server_on.append(server)
    mine = ssl.create_default_context()
    authority.configure_trust(mine)
    mine.set_alpn_protocols(["h2", "http/1.1"])
    transport = PooledTransport(max_connections=1, verify=mine)
    with pytest.raises(httpx.ConnectError, match="'h2' by ALPN"):
        await send(transport, request(url))
    await transport.aclose()


async def test_the_transports_own_context_offers_http_1_1(
    authority: trustme.CA,
    server_on: list[asyncio.Server],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    chosen: list[str | None] = []
    url, server = await alpn_server(server_tls(authority, ["h2", "http/1.1"]), chosen)
    server_on.append(server)
    transport = PooledTransport(max_connections=1)
    assert (await send(transport, request(url))).status_code == 201
    assert chosen == ["http/1.1"]
    await transport.aclose()
