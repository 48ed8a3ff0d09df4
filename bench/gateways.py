"""The gateways a bench loads, and the client keys it loads them with.

Shared by ``python -m bench``, ``bench.compare`` and ``bench.keys``: each starts real
``gateway serve`` processes on loopback in front of the fake upstream, with one admin
token, and creates its keys through the admin API as an operator would.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx

from gateway.testing.procs import Proc, free_port, spawn

UPSTREAM_KEY = "test-upstream-key"
ADMIN = "bench-admin-token-0123456789abcdef"
GENERATIONS = "/v1/images/generations"


def start_gateway(
    upstream: Proc, env: dict[str, str], checkout: Path | None = None
) -> tuple[Proc, float]:
    """``gateway serve`` and the seconds until /readyz answers 200: this checkout's, or
    that of another ``checkout`` (run by its own ``.venv``, from its own directory, so its
    own code is imported: ``python -m bench.compare`` measures an older commit so)."""
    port = free_port()
    started = time.perf_counter()

    def ready() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=0.5).is_success
        except httpx.HTTPError:
            return False

    python = sys.executable if checkout is None else str(checkout / ".venv" / "bin" / "python")
    proc = spawn(
        [python, "-m", "gateway", "serve", "--port", str(port)],
        port,
        ready,
        cwd=checkout,
        env={
            "GATEWAY_UPSTREAM_URL": upstream.url,
            "GATEWAY_UPSTREAM_API_KEY": UPSTREAM_KEY,
            "GATEWAY_ADMIN_TOKEN": ADMIN,
            "GATEWAY_LOG_LEVEL": "warning",
            **env,
        },
    )
    return proc, time.perf_counter() - started


def create_key(gateway: Proc, **limits: int | str) -> str:
    """A client key with the given limits (and ``team_id``)."""
    response = httpx.post(
        f"{gateway.url}/admin/keys",
        json={"name": "bench", **limits},
        headers={"authorization": f"Bearer {ADMIN}"},
        timeout=10,
    )
    response.raise_for_status()
    key: str = response.json()["key"]
    return key


def create_team_key(gateway: Proc) -> str:
    """A key with USD budgets in a team with budgets and quotas: every request is admitted
    against both (large enough never to refuse during the run)."""
    budgets = {"rpm": 1_000_000_000, "images_per_day": 1_000_000_000}
    response = httpx.post(
        f"{gateway.url}/admin/teams",
        json={"name": "bench", "usd_per_day": 9_000_000, "usd_per_month": 9_000_000, **budgets},
        headers={"authorization": f"Bearer {ADMIN}"},
        timeout=10,
    )
    response.raise_for_status()
    return create_key(gateway, team_id=response.json()["id"], usd_per_day=9_000_000, **budgets)
