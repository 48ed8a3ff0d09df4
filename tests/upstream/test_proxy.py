"""HTTP_PROXY / HTTPS_PROXY / ALL_PROXY / NO_PROXY, against a small proxy on loopback."""

from __future__ import annotations

import base64
import ssl
from collections.abc import AsyncIterator

import httpx
import pytest
import trustme

from gateway.testing.http_proxy import ProxyLog, start
from gateway.upstream.client import Upstream, UpstreamCallError
from gateway.upstream.proxy import environment_proxies
from gateway.upstream.transport import PooledTransport
from tests.upstream.conftest import OK, Serve, Server, replies, request, send

VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "request_method")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture
async def proxy() -> AsyncIterator[tuple[ProxyLog, str]]:
    proxy = await start()
    yield proxy.log, f"127.0.0.1:{proxy.port}"
    await proxy.close()


@pytest.fixture
def tls_pair() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    authority = trustme.CA()
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(server_side)
    client_side = ssl.create_default_context()
    authority.configure_trust(client_side)
    return server_side, client_side


async def tls_upstream(
    serve: Serve, tls_pair: tuple[ssl.SSLContext, ssl.SSLContext]
) -> tuple[Server, str, PooledTransport]:
    """An https upstream on loopback, and a transport trusting it with the environment's
    proxies."""
    server, url = await serve(replies(OK), tls=tls_pair[0])
    transport = PooledTransport(
        max_connections=1, verify=tls_pair[1], proxies=environment_proxies()
    )
    return server, url, transport


def basic(credentials: str) -> str:
    return "Basic " + base64.b64encode(credentials.encode()).decode()


async def test_https_goes_through_a_connect_tunnel_with_credentials(
    serve: Serve,
    proxy: tuple[ProxyLog, str],
    tls_pair: tuple[ssl.SSLContext, ssl.SSLContext],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log, address = proxy
    log.require = basic("gw@corp:s3cr:t")
    monkeypatch.setenv("HTTPS_PROXY", f"http://gw%40corp:s3cr%3At@{address}")
    server, url, transport = await tls_upstream(serve, tls_pair)
    assert (await send(transport, request(url))).json() == {"ok": True}
    assert (await send(transport, request(url))).status_code == 201
    authority = url.split("/")[2]
    assert log.seen == [(authority, log.require)]
    assert server.connections == 1
    assert all(b"proxy-authorization" not in r.lower() for r in server.requests)
    await transport.aclose()


async def test_http_is_forwarded_in_absolute_form(
    serve: Serve, proxy: tuple[ProxyLog, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    log, address = proxy
    monkeypatch.setenv("http_proxy", f"http://u:p@{address}")
    server, url = await serve(replies(OK))
    transport = PooledTransport(max_connections=1, proxies=environment_proxies())
    assert (await send(transport, request(url))).json() == {"ok": True}
    assert log.seen == [(url, basic("u:p"))]
    assert server.requests[0].startswith(b"POST /v1/x?y=1 HTTP/1.1")
    await transport.aclose()


async def test_all_proxy_covers_both_schemes(
    serve: Serve, proxy: tuple[ProxyLog, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    log, address = proxy
    monkeypatch.setenv("ALL_PROXY", address)
    _, url = await serve(replies(OK))
    transport = PooledTransport(max_connections=1, proxies=environment_proxies())
    assert (await send(transport, request(url))).status_code == 201
    assert [target for target, _ in log.seen] == [url]
    await transport.aclose()


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "localhost,127.0.0.1:1,127.0.0.1", "*"])
async def test_no_proxy_goes_direct(
    serve: Serve, proxy: tuple[ProxyLog, str], monkeypatch: pytest.MonkeyPatch, no_proxy: str
) -> None:
    log, address = proxy
    monkeypatch.setenv("HTTP_PROXY", address)
    monkeypatch.setenv("NO_PROXY", no_proxy)
    _, url = await serve(replies(OK))
    transport = PooledTransport(max_connections=1, proxies=environment_proxies())
    assert (await send(transport, request(url))).status_code == 201
    assert log.seen == []
    await transport.aclose()


@pytest.mark.parametrize(
    ("scheme", "host", "port", "proxied"),
    [
        ("https", "api.aimlapi.com", 443, True),
        ("https", "internal.corp", 443, False),
        ("https", "deep.internal.corp", 443, False),
        ("https", "notinternal.corp", 443, True),
        ("https", "www.example.com", 443, False),
        ("https", "example.com", 443, True),
        ("https", "a.wild.test", 443, False),
        ("https", "api.test", 8443, False),
        ("https", "api.test", 443, True),
        ("https", "10.1.2.3", 443, False),
        ("https", "11.1.2.3", 443, True),
        ("https", "::1", 443, False),
        ("https", "localhost", 443, False),
        ("https", "only.http", 443, True),
        ("http", "only.http", 80, False),
        ("http", "api.aimlapi.com", 80, False),
    ],
)
def test_no_proxy_entries_as_httpx_reads_them(
    monkeypatch: pytest.MonkeyPatch, scheme: str, host: str, port: int, proxied: bool
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "proxy.corp:3128")
    monkeypatch.setenv(
        "NO_PROXY",
        "internal.corp, .example.com,*.wild.test,api.test:8443,10.0.0.0/8,[::1],localhost,"
        "http://only.http",
    )
    rules = environment_proxies()
    assert rules is not None
    assert (rules.proxy_for(scheme, host, port) is not None) is proxied


def test_no_variables_no_rules() -> None:
    assert environment_proxies() is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HTTPS_PROXY", "socks5://user:hunter2@proxy:1080"),
        ("HTTPS_PROXY", "https://user:hunter2@proxy:443"),
        ("HTTP_PROXY", "http://user:hunter2@:3128"),
        ("ALL_PROXY", "http://user:hunter2@[::1"),
    ],
)
def test_a_proxy_that_cannot_be_used_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name) as refused:
        environment_proxies()
    assert "hunter2" not in str(refused.value)


async def test_a_refused_tunnel_is_an_unreachable_upstream(
    serve: Serve,
    proxy: tuple[ProxyLog, str],
    tls_pair: tuple[ssl.SSLContext, ssl.SSLContext],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log, address = proxy
    log.refuse = True
    monkeypatch.setenv("HTTPS_PROXY", address)
    server, url, transport = await tls_upstream(serve, tls_pair)
    with pytest.raises(httpx.ProxyError, match="403"):
        await send(transport, request(url))
    upstream = Upstream(transport, url, "sk-upstream")
    with pytest.raises(UpstreamCallError) as failed:
        await upstream.generate({"prompt": "p"}, "rid")
    assert failed.value.error.status == 502
    assert failed.value.error.code == "upstream_unreachable"
    assert server.connections == 0
    await transport.aclose()
