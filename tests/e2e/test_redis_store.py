"""The Redis store as an operator meets it: Redis down at start-up, a script that fails,
and many followers of a leader on another replica."""

from __future__ import annotations

import json
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from gateway.keys.material import generate_key, hash_key
from gateway.testing.procs import Proc, free_port, spawn, start_redis, wait_until
from tests.e2e.conftest import ADMIN_TOKEN, UPSTREAM_KEY, FakeUpstream, GatewayStarter
from tests.store.conftest import other_clients

pytestmark = pytest.mark.e2e

KEY_SECRET = "a-key-secret-of-at-least-32-bytes-for-tests"


@dataclass
class LateRedis:
    """A port for a Redis that the test starts only when it wants to."""

    port: int
    proc: Proc | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = start_redis(port=self.port)


@pytest.fixture
def late_redis() -> Iterator[LateRedis]:
    late = LateRedis(free_port())
    yield late
    if late.proc is not None:
        late.proc.stop()


@pytest.fixture
def live_gateway(fake_proc: Proc) -> Iterator[Callable[..., Proc]]:
    """Start gateway processes waited for until alive (``/healthz``), not until ready."""
    started: list[Proc] = []

    def start(**env: str) -> Proc:
        port = free_port()

        def alive() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).is_success
            except httpx.HTTPError:
                return False

        started.append(
            spawn(
                [sys.executable, "-m", "gateway", "serve", "--port", str(port)],
                port,
                alive,
                env={
                    "GATEWAY_UPSTREAM_URL": fake_proc.url,
                    "GATEWAY_UPSTREAM_API_KEY": UPSTREAM_KEY,
                    "GATEWAY_ADMIN_TOKEN": ADMIN_TOKEN,
                    "GATEWAY_LOG_LEVEL": "warning",
                    "GATEWAY_REDIS_SOCKET_TIMEOUT": "0.3",
                    "GATEWAY_REDIS_CONNECT_TIMEOUT": "0.3",
                    **env,
                },
            )
        )
        return started[-1]

    yield start
    for proc in started:
        proc.stop()


def log_lines(proc: Proc) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    for line in proc.log().splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def generate(proc: Proc, key: str, prompt: str = "a lighthouse") -> httpx.Response:
    return httpx.post(
        f"{proc.url}/v1/images/generations",
        json={"model": "dall-e-2", "prompt": prompt},
        headers={"authorization": f"Bearer {key}"},
        timeout=15,
    )


def admin_create(proc: Proc) -> httpx.Response:
    return httpx.post(
        f"{proc.url}/admin/keys",
        json={"name": "after the outage"},
        headers={"authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=15,
    )


def assert_store_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "store_unavailable"
    assert int(response.headers["retry-after"]) >= 1


def request_log_failures(proc: Proc) -> float:
    """Request-log entries the log store refused so far (the metric)."""
    metrics = httpx.get(f"{proc.url}/metrics", timeout=5).text
    for line in metrics.splitlines():
        if line.startswith('gateway_request_log_dropped_total{reason="failed"}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def assert_one_warning_about(proc: Proc, place: str) -> None:
    """One warning line in all, about the store: the request log, on the same Redis, fails
    too (the requests answered 503 are logged there, and refused) but does not say it
    again."""
    wait_until(lambda: request_log_failures(proc) >= 1, 10, "the request log to fail")
    loud = [line for line in log_lines(proc) if line["level"] in ("warning", "error", "critical")]
    assert len(loud) == 1, loud
    assert loud[0]["level"] == "warning"
    assert "unavailable" in loud[0]["message"] and place in loud[0]["message"]
    assert "Traceback" not in proc.log()


def test_a_gateway_started_before_its_redis_serves_once_redis_answers(
    live_gateway: Callable[..., Proc], late_redis: LateRedis, upstream: FakeUpstream
) -> None:
    gateway = live_gateway(GATEWAY_REDIS_URL=late_redis.url)
    assert httpx.get(f"{gateway.url}/readyz", timeout=5).status_code == 503
    assert_store_unavailable(generate(gateway, generate_key()))
    assert_store_unavailable(admin_create(gateway))
    assert_one_warning_about(gateway, f"127.0.0.1:{late_redis.port}")

    late_redis.start()
    wait_until(lambda: admin_create(gateway).status_code == 201, 20, "an admin call served")
    key = admin_create(gateway).json()["key"]
    assert generate(gateway, key).status_code == 201
    assert httpx.get(f"{gateway.url}/readyz", timeout=5).status_code == 200
    assert gateway.popen.poll() is None
    assert upstream.calls() == 1
    assert_one_warning_about(gateway, f"127.0.0.1:{late_redis.port}")


def test_declared_keys_are_written_once_redis_answers(
    live_gateway: Callable[..., Proc],
    late_redis: LateRedis,
    upstream: FakeUpstream,
    tmp_path: Path,
) -> None:
    key = generate_key()
    config = tmp_path / "gateway.toml"
    config.write_text(
        "[[keys]]\n"
        'id = "declared-app"\n'
        'name = "declared before Redis was up"\n'
        f'key_hash = "{hash_key(KEY_SECRET.encode(), key)}"\n'
        "images_per_day = 5\n"
    )
    gateway = live_gateway(
        GATEWAY_REDIS_URL=late_redis.url,
        GATEWAY_KEY_SECRET=KEY_SECRET,
        GATEWAY_CONFIG=str(config),
    )
    assert_store_unavailable(generate(gateway, key))
    assert_one_warning_about(gateway, f"127.0.0.1:{late_redis.port}")
    late_redis.start()
    wait_until(
        lambda: httpx.get(f"{gateway.url}/readyz", timeout=5).status_code == 200,
        20,
        "the gateway to be ready",
    )
    assert generate(gateway, key).status_code == 201
    usage = httpx.get(
        f"{gateway.url}/admin/keys/declared-app/usage",
        headers={"authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=5,
    ).json()
    assert usage["limits"]["images_per_day"]["remaining"] == 4


def test_a_failing_lua_script_is_a_500_logged_with_its_name(
    start_gateway: GatewayStarter, redis_proc: Proc, upstream: FakeUpstream
) -> None:
    gateway = start_gateway("redis")
    created = gateway.create_key()
    client = redis.Redis(port=redis_proc.port, db=1)
    client.set(f"gw:res:{created['id']}", "not a sorted set")
    try:
        response = gateway.post({"model": "dall-e-2", "prompt": "x"}, created["key"])
    finally:
        client.delete(f"gw:res:{created['id']}")
        client.close()
    assert response.status_code == 500
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "server_error"
    assert "Traceback" not in response.text and "WRONGTYPE" not in response.text
    assert upstream.calls() == 0
    wait_until(
        lambda: any(
            line["level"] == "error" and line.get("script") == "admit"
            for line in log_lines(gateway.proc)
        ),
        5,
        "the script error in the log",
    )
    assert "Traceback" not in gateway.proc.log()


def test_fifty_followers_on_another_replica_hold_a_few_redis_connections(
    start_gateway: GatewayStarter, redis_proc: Proc, upstream: FakeUpstream
) -> None:
    url = f"redis://127.0.0.1:{redis_proc.port}/1"
    leader_side = start_gateway("embedded", GATEWAY_REDIS_URL=f"{url}?client_name=replica-a")
    name = f"replica-b-{uuid.uuid4().hex[:8]}"
    follower_side = start_gateway("embedded", GATEWAY_REDIS_URL=f"{url}?client_name={name}")
    key = leader_side.create_key(images_per_day=100)["key"]
    upstream.control(latency=3)
    body = {"model": "dall-e-2", "prompt": "one call for fifty-one"}
    admin = redis.Redis(port=redis_proc.port)
    seen: list[int] = []
    with ThreadPoolExecutor(max_workers=51) as pool:
        leader = pool.submit(leader_side.post, body, key)
        wait_until(lambda: upstream.stats()["in_flight"] == 1, 10, "the leader's upstream call")
        followers = [pool.submit(follower_side.post, body, key) for _ in range(50)]
        done = threading.Event()

        def watched() -> bool:
            seen.append(len(other_clients(admin, name)))
            if all(f.done() for f in followers):
                done.set()
            return done.is_set()

        wait_until(watched, 30, "the followers' answers")
        answers = [leader.result(), *(f.result() for f in followers)]
    admin.close()
    assert [a.status_code for a in answers[1:]] == [answers[1].status_code] * 50
    assert all(a.status_code in (200, 201) for a in answers), [a.text for a in answers]
    assert all(a.json()["data"] == answers[0].json()["data"] for a in answers)
    assert upstream.calls() == 1
    assert max(seen) <= 5, f"replica B held up to {max(seen)} Redis connections"
