"""An in-process gateway (Starlette's TestClient) in front of a scripted upstream."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.testclient import TestClient

from gateway.settings.model import Settings
from gateway.store.memory import MemoryStore
from gateway.web.app import create_app

ADMIN = "admin-token-0123456789-abcdef"
ANSWER = {"created": 1, "data": [{"url": "https://x/1.png"}]}


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Upstream:
    """The upstream's next answers: a status (with ``ANSWER`` for 2xx) and headers, or an
    exception."""

    status: int = 201
    error: Exception | None = None
    calls: int = 0
    headers: dict[str, str] = field(default_factory=dict)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.error is not None:
            raise self.error
        body = ANSWER if self.status < 300 else {"message": "no"}
        return httpx.Response(self.status, json=body, headers=self.headers)


@dataclass
class InProcess:
    """A running in-process gateway and helpers to drive it (answers are the test client's
    responses)."""

    client: TestClient
    upstream: Upstream
    clock: Clock
    keys: list[dict[str, Any]] = field(default_factory=list)

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"authorization": f"Bearer {ADMIN}"}
        return self.client.request(method, path, headers=headers, **kwargs)

    def create_key(self, **body: Any) -> dict[str, Any]:
        body.setdefault("name", "test")
        response = self.admin("POST", "/admin/keys", json=body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def generate(self, key: str, **body: Any) -> Any:
        return self.client.post(
            "/v1/images/generations",
            json={"model": "dall-e-2", "prompt": "x", **body},
            headers={"authorization": f"Bearer {key}"},
        )


Starter = Callable[..., InProcess]


@pytest.fixture
def start() -> Iterator[Starter]:
    """Start in-process gateways with settings on top of the defaults; closed at the end."""
    opened: list[TestClient] = []

    def starter(**settings: Any) -> InProcess:
        settings.setdefault("admin_token", SecretStr(ADMIN))
        settings.setdefault("upstream_api_key", SecretStr("upstream-key"))
        clock, upstream = Clock(), Upstream()
        app = create_app(
            Settings(**settings),
            store=MemoryStore(None, cache_max_bytes=1_000_000, clock=clock),
            transport=httpx.MockTransport(upstream),
            clock=clock,
        )
        client = TestClient(app)
        client.__enter__()
        opened.append(client)
        return InProcess(client, upstream, clock)

    yield starter
    for client in opened:
        client.__exit__(None, None, None)


def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The fields of every access-log line captured so far."""
    return [dict(getattr(r, "fields", {})) for r in caplog.records if r.name == "gateway.access"]


def messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    """The messages logged at ``level`` by the gateway (access lines aside)."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == level and r.name.startswith("gateway") and r.name != "gateway.access"
    ]


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every gateway log record from info up."""
    caplog.set_level(logging.INFO)
    return caplog
