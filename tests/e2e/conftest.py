"""End-to-end fixtures: the fake upstream, and real gateway processes in both store modes."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from openai import OpenAI

from gateway.testing.procs import Proc, free_port, spawn
from tests.conftest import UPSTREAM_KEY as UPSTREAM_KEY

ADMIN_TOKEN = "test-admin-token-0123456789abcdef"


@dataclass
class FakeUpstream:
    """Handle on the fake AIML upstream process."""

    proc: Proc

    @property
    def url(self) -> str:
        return self.proc.url

    def control(self, **settings: Any) -> None:
        httpx.post(f"{self.url}/_control", json=settings, timeout=5).raise_for_status()

    def stats(self) -> dict[str, Any]:
        data: dict[str, Any] = httpx.get(f"{self.url}/_stats", timeout=5).json()
        return data

    def calls(self) -> int:
        return int(self.stats()["calls"])

    def last_body(self) -> dict[str, Any]:
        bodies: list[dict[str, Any]] = self.stats()["bodies"]
        return bodies[-1]


@dataclass
class Gateway:
    """A running gateway process and helpers to drive it."""

    proc: Proc
    mode: str
    env: dict[str, str] = field(default_factory=dict)
    clients: list[OpenAI] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.proc.url

    def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(
            method,
            f"{self.url}{path}",
            timeout=10,
            headers={"authorization": f"Bearer {ADMIN_TOKEN}"},
            **kwargs,
        )

    def create_key(self, **body: Any) -> dict[str, Any]:
        body.setdefault("name", "test")
        response = self.admin("POST", "/admin/keys", json=body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def client(self, key: str, **kwargs: Any) -> OpenAI:
        kwargs.setdefault("max_retries", 0)
        client = OpenAI(base_url=f"{self.url}/v1", api_key=key, **kwargs)
        self.clients.append(client)
        return client

    def close_clients(self) -> None:
        while self.clients:
            self.clients.pop().close()

    def post(self, body: Any, key: str | None, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if key is not None:
            headers["authorization"] = f"Bearer {key}"
        kwargs.setdefault("timeout", 30)
        return httpx.post(f"{self.url}/v1/images/generations", json=body, headers=headers, **kwargs)


@pytest.fixture
def upstream(fake_proc: Proc) -> FakeUpstream:
    """The fake upstream, reset to normal service with zeroed counters."""
    fake = FakeUpstream(fake_proc)
    fake.control(reset=True)
    return fake


GatewayStarter = Callable[..., Gateway]


@pytest.fixture(scope="session")
def start_gateway(
    fake_proc: Proc, redis_proc: Proc, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayStarter]:
    """Start gateway processes (``gateway serve``), on the session's Redis or on
    ``redis_url`` (a Redis of the test's own); all are stopped at the end."""
    started: list[Proc] = []
    gateways: list[Gateway] = []

    def start(
        mode: str = "embedded",
        *,
        store_path: Path | None = None,
        port: int | None = None,
        redis_url: str | None = None,
        **env: str,
    ) -> Gateway:
        port = port or free_port()
        full_env = {
            "GATEWAY_UPSTREAM_URL": fake_proc.url,
            "GATEWAY_UPSTREAM_API_KEY": UPSTREAM_KEY,
            "GATEWAY_ADMIN_TOKEN": ADMIN_TOKEN,
            "GATEWAY_KEY_CACHE_SECONDS": "2",
            "GATEWAY_LOG_LEVEL": "warning",
            **env,
        }
        if mode == "redis":
            own = redis_url or f"redis://127.0.0.1:{redis_proc.port}/1"
            full_env["GATEWAY_REDIS_URL"] = own
        else:
            path = store_path or tmp_path_factory.mktemp("store") / "store.json"
            full_env["GATEWAY_STORE_PATH"] = str(path)
        argv = [sys.executable, "-m", "gateway", "serve", "--port", str(port)]

        def ready() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=0.5).is_success
            except httpx.HTTPError:
                return False

        proc = spawn(argv, port, ready, env=full_env)
        started.append(proc)
        gateways.append(Gateway(proc, mode, full_env))
        return gateways[-1]

    start.gateways = gateways  # type: ignore[attr-defined]
    yield start
    for proc in started:
        proc.stop()


@pytest.fixture(scope="session", params=["embedded", "redis"])
def gateway(request: pytest.FixtureRequest, start_gateway: GatewayStarter) -> Gateway:
    """One long-running gateway per store mode; tests create their own keys."""
    mode: str = request.param
    return start_gateway(mode)


@pytest.fixture(autouse=True)
def _close_sdk_clients(request: pytest.FixtureRequest) -> Iterator[None]:
    """Close every openai client a test opened, so no socket is left to the GC."""
    yield
    if "start_gateway" in request.fixturenames:
        starter = request.getfixturevalue("start_gateway")
        for gw in starter.gateways:
            gw.close_clients()
