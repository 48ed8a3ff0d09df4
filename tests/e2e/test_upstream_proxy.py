"""A gateway that must egress through a proxy: it honours HTTP(S)_PROXY and NO_PROXY, and
one it cannot use stops the start-up with one line naming the variable."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from gateway.testing.http_proxy import HttpProxy, start
from tests.e2e.conftest import FakeUpstream, GatewayStarter

pytestmark = pytest.mark.e2e


@pytest.fixture
def proxy() -> Iterator[HttpProxy]:
    """The test's own proxy on loopback, on an event loop in a thread of the test process."""
    loop = asyncio.new_event_loop()
    started: list[HttpProxy] = []
    ready = threading.Event()

    def run() -> None:
        started.append(loop.run_until_complete(start()))
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10)
    yield started[0]
    asyncio.run_coroutine_threadsafe(started[0].close(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def test_upstream_calls_go_through_the_proxy(
    start_gateway: GatewayStarter, upstream: FakeUpstream, proxy: HttpProxy
) -> None:
    gateway = start_gateway(
        "embedded", HTTP_PROXY=f"http://gw:pw@127.0.0.1:{proxy.port}", NO_PROXY=""
    )
    key = gateway.create_key()["key"]
    response = gateway.post({"model": "dall-e-2", "prompt": "through the proxy"}, key)
    assert response.status_code == 201, response.text
    target = f"{upstream.url}/v1/images/generations"
    assert [seen for seen, _ in proxy.log.seen] == [target]
    assert upstream.stats()["headers"][-1].get("proxy-authorization") is None


def test_no_proxy_sends_the_upstream_direct(
    start_gateway: GatewayStarter, upstream: FakeUpstream, proxy: HttpProxy
) -> None:
    gateway = start_gateway(
        "embedded", HTTP_PROXY=f"http://127.0.0.1:{proxy.port}", NO_PROXY="localhost,127.0.0.1"
    )
    key = gateway.create_key()["key"]
    assert gateway.post({"model": "dall-e-2", "prompt": "direct"}, key).status_code == 201
    assert proxy.log.seen == []


def test_a_proxy_that_cannot_be_used_stops_the_start_up() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "serve"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HTTPS_PROXY": "socks5://gw:hunter2@proxy.corp:1080"},
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "HTTPS_PROXY" in lines[0], done.stderr
    assert "hunter2" not in done.stderr
