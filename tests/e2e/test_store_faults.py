"""A Redis that stops answering: prompt 503s, no hangs, recovery without a restart."""

from __future__ import annotations

import signal

import httpx
import pytest

from tests.e2e.conftest import FakeUpstream, GatewayStarter
from tests.e2e.test_lifecycle import cli
from tests.procs import start_redis, wait_until

pytestmark = pytest.mark.e2e


def test_frozen_redis_fails_closed_then_recovers(
    start_gateway: GatewayStarter, upstream: FakeUpstream
) -> None:
    redis = start_redis()
    try:
        gw = start_gateway("embedded", GATEWAY_REDIS_URL=f"redis://127.0.0.1:{redis.port}/0",
                           GATEWAY_REDIS_SOCKET_TIMEOUT="0.3",
                           GATEWAY_REDIS_CONNECT_TIMEOUT="0.3")
        key = gw.create_key(images_per_day=10)["key"]
        assert gw.post({"model": "dall-e-2", "prompt": "before"}, key).status_code == 201
        redis.popen.send_signal(signal.SIGSTOP)
        try:
            response = gw.post({"model": "dall-e-2", "prompt": "during"}, key, timeout=10)
            assert response.status_code == 503
            assert response.json()["error"]["code"] == "store_unavailable"
            assert int(response.headers["retry-after"]) >= 1
            assert httpx.get(f"{gw.url}/readyz", timeout=10).status_code == 503
        finally:
            redis.popen.send_signal(signal.SIGCONT)

        def recovered() -> bool:
            return gw.post({"model": "dall-e-2", "prompt": "after"}, key).status_code == 201

        wait_until(recovered, 10, "the gateway to recover")
        assert upstream.calls() == 2
    finally:
        redis.stop()


def test_cli_cache_purge(start_gateway: GatewayStarter, upstream: FakeUpstream) -> None:
    gw = start_gateway("embedded")
    created = gw.create_key()
    gw.post({"model": "dall-e-2", "prompt": "to purge"}, created["key"])
    stats = cli("cache", "stats", url=gw.url)
    assert "entries: 1" in stats.stdout
    purged = cli("cache", "purge", "--key", created["id"], url=gw.url)
    assert purged.returncode == 0 and "deleted 1" in purged.stdout
