"""A Redis that stops answering: prompt 503s, no hangs, recovery without a restart."""

from __future__ import annotations

import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from gateway.testing.procs import start_redis, wait_until
from tests.e2e.conftest import FakeUpstream, GatewayStarter
from tests.e2e.test_lifecycle import cli

pytestmark = pytest.mark.e2e


def test_frozen_redis_fails_closed_then_recovers(
    start_gateway: GatewayStarter, upstream: FakeUpstream
) -> None:
    redis = start_redis()
    try:
        gw = start_gateway(
            "embedded",
            GATEWAY_REDIS_URL=f"redis://127.0.0.1:{redis.port}/0",
            GATEWAY_REDIS_SOCKET_TIMEOUT="0.3",
            GATEWAY_REDIS_CONNECT_TIMEOUT="0.3",
        )
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


def test_redis_restart_under_load_loses_and_doubles_nothing(
    start_gateway: GatewayStarter, upstream: FakeUpstream, tmp_path: Path
) -> None:
    redis = start_redis(workdir=tmp_path)
    port = redis.port
    try:
        gw = start_gateway(
            "embedded",
            GATEWAY_REDIS_URL=f"redis://127.0.0.1:{port}/0",
            GATEWAY_REDIS_SOCKET_TIMEOUT="0.3",
            GATEWAY_REDIS_CONNECT_TIMEOUT="0.3",
        )
        created = gw.create_key(images_per_day=10_000)
        upstream.control(latency=0.05)
        statuses: list[int] = []

        def fire(i: int) -> int:
            response = gw.post(
                {"model": "dall-e-2", "prompt": f"load {i}"},
                created["key"],
                headers={"cache-control": "no-store"},
                timeout=15,
            )
            statuses.append(response.status_code)
            return response.status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            futures = [pool.submit(fire, i) for i in range(300)]
            wait_until(lambda: len(statuses) >= 40, 20, "load to start")
            redis.stop()
            wait_until(lambda: 503 in statuses, 20, "requests refused while Redis is down")
            redis = start_redis(port=port, workdir=tmp_path)
            results = [f.result(timeout=60) for f in futures]
        assert set(results) <= {201, 503}
        assert results.count(201) >= 40

        def settled() -> bool:
            usage = gw.admin("GET", f"/admin/keys/{created['id']}/usage").json()
            return bool(usage["totals"]["images"] == upstream.calls() == results.count(201))

        wait_until(settled, 30, "every generated image to be counted exactly once")
        usage = gw.admin("GET", f"/admin/keys/{created['id']}/usage").json()
        assert usage["limits"]["images_per_day"]["remaining"] == 10_000 - results.count(201)
    finally:
        redis.stop()
