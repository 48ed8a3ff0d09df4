"""A hostile upstream behind a real gateway: every bad answer is a 502 or 504 in OpenAI's shape,
nothing is cached, nothing is counted, and memory stays bounded."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.testing.hostile_upstream import MODES
from gateway.testing.procs import Proc, free_port, port_open, spawn
from tests.e2e.conftest import FakeUpstream, Gateway, GatewayStarter

pytestmark = pytest.mark.e2e

TIMES_OUT = {"slow-drip", "interim-then-silence"}
HOSTILE = sorted(set(MODES) - {"ok"})
FAST = sorted(set(HOSTILE) - TIMES_OUT)
MAX_RESPONSE_BYTES = 1_048_576


@pytest.fixture(scope="module")
def hostile_proc() -> Iterator[Proc]:
    port = free_port()
    argv = [sys.executable, "-m", "gateway.testing.hostile_upstream", "--port", str(port)]
    proc = spawn(argv, port, lambda: port_open(port))
    yield proc
    proc.stop()


def calls(hostile: Proc) -> dict[str, int]:
    answer: dict[str, int] = httpx.get(f"{hostile.url}/_stats", timeout=5).json()["calls"]
    return answer


def start_hostile(
    start_gateway: GatewayStarter, hostile: Proc, mode: str, read_timeout: float
) -> Gateway:
    return start_gateway(
        mode,
        GATEWAY_UPSTREAM_URL=hostile.url,
        GATEWAY_UPSTREAM_READ_TIMEOUT=str(read_timeout),
        GATEWAY_UPSTREAM_MAX_RESPONSE_BYTES=str(MAX_RESPONSE_BYTES),
        GATEWAY_UPSTREAM_BREAKER_THRESHOLD="1000000",
    )


def usage(gateway: Gateway, key_id: str) -> dict[str, Any]:
    totals: dict[str, Any] = gateway.admin("GET", f"/admin/keys/{key_id}/usage").json()["totals"]
    return totals


def assert_openai_error(response: httpx.Response, mode: str) -> None:
    expected = 504 if mode in TIMES_OUT else 502
    assert response.status_code == expected, (mode, response.status_code, response.text)
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "upstream_error"
    assert error["code"] == ("upstream_timeout" if mode in TIMES_OUT else "upstream_error")
    assert response.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize("store", ["embedded", "redis"])
def test_every_hostile_answer_is_an_openai_error_and_costs_nothing(
    start_gateway: GatewayStarter, hostile_proc: Proc, store: str
) -> None:
    gateway = start_hostile(start_gateway, hostile_proc, store, read_timeout=1.0)
    created = gateway.create_key(images_per_day=1)
    before = calls(hostile_proc)
    for mode in HOSTILE:
        body = {"model": "dall-e-2", "prompt": f"{mode} {store}", "response_format": "b64_json"}
        for _ in range(2):
            assert_openai_error(gateway.post(body, created["key"]), mode)
    after = calls(hostile_proc)
    assert {mode: after.get(mode, 0) - before.get(mode, 0) for mode in HOSTILE} == dict.fromkeys(
        HOSTILE, 2
    ), "each hostile answer reached the upstream once per request: no retry, no cache"
    assert usage(gateway, created["id"])["images"] == 0
    ok = {"model": "dall-e-2", "prompt": f"ok {store}", "response_format": "b64_json"}
    answered = gateway.post(ok, created["key"])
    assert answered.status_code == 201 and len(answered.json()["data"]) == 1
    assert usage(gateway, created["id"])["images"] == 1


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_memory_stays_bounded_over_a_thousand_hostile_answers(
    start_gateway: GatewayStarter, hostile_proc: Proc
) -> None:
    gateway = start_hostile(start_gateway, hostile_proc, "embedded", read_timeout=10.0)
    created = gateway.create_key()
    statuses: list[int] = []

    def hostile_call(index: int) -> None:
        mode = FAST[index % len(FAST)]
        body = {"model": "dall-e-2", "prompt": f"{mode} {index}"}
        response = client.post(
            f"{gateway.url}/v1/images/generations",
            json=body,
            headers={"authorization": f"Bearer {created['key']}"},
        )
        statuses.append(response.status_code)

    with httpx.Client(timeout=30) as client, ThreadPoolExecutor(8) as pool:
        list(pool.map(hostile_call, range(200)))
        baseline = rss_bytes(gateway.proc.popen.pid)
        list(pool.map(hostile_call, range(200, 1200)))
        grown = rss_bytes(gateway.proc.popen.pid) - baseline
    assert statuses == [502] * 1200
    assert grown < 50 * 1024 * 1024, f"RSS grew by {grown / 1048576:.1f} MiB"
    assert usage(gateway, created["id"])["images"] == 0
    stats = gateway.admin("GET", "/admin/cache").json()
    assert stats["entries"] == 0, stats


def test_the_response_limit_is_the_setting(
    start_gateway: GatewayStarter, upstream: FakeUpstream
) -> None:
    gateway = start_gateway("embedded", GATEWAY_UPSTREAM_MAX_RESPONSE_BYTES="1024")
    created = gateway.create_key()
    small = {"model": "dall-e-2", "prompt": "small", "response_format": "b64_json"}
    assert gateway.post(small, created["key"]).status_code == 201
    large = {**small, "prompt": "large", "n": 10}
    refused = gateway.post(large, created["key"])
    assert refused.status_code == 502
    assert refused.json()["error"]["type"] == "upstream_error"
    assert "larger than the gateway accepts" in refused.json()["error"]["message"]
    assert upstream.calls() == 2
    assert usage(gateway, created["id"])["images"] == 1
