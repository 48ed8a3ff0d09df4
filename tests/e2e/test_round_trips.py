"""What one request costs the Redis store, watched with MONITOR on a Redis of the test's own:
one admission round trip and one settlement round trip, for a key in a team with money
budgets exactly as for a plain key (the team and the money ride in the same scripts)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path

import pytest
import redis

from gateway.store.resp import Script
from gateway.testing.procs import Proc, start_redis
from tests.e2e.conftest import FakeUpstream, Gateway, GatewayStarter
from tests.e2e.test_journal import wait_logged
from tests.e2e.test_money import create_team, replicas

pytestmark = pytest.mark.e2e

END = "end of the watched requests"
BATCHED = {"journal_append"}
"""The request log's appends: batched off the request path, one per batch, not per request."""


@pytest.fixture
def own_redis() -> Iterator[Proc]:
    proc = start_redis()
    yield proc
    proc.stop()


def script_names() -> dict[str, str]:
    """The store's scripts by the SHA-1 the gateway calls them by."""
    found = {}
    for entry in resources.files("gateway.store").joinpath("lua").iterdir():
        if entry.name.endswith(".lua"):
            script = Script.of(entry.read_text(), entry.name.removesuffix(".lua"))
            found[script.sha] = script.name
    return found


def watched(url: str, requests: Callable[[], None]) -> list[tuple[str, str]]:
    """Every command the gateway sent Redis while ``requests`` ran, as (name, whole command),
    an ``EVALSHA`` named by its script; neither the commands the scripts run inside nor
    this watcher's own are counted."""
    names = script_names()
    seen: list[tuple[str, str, str]] = []
    mine: list[str] = []
    client = redis.Redis.from_url(url)
    with client.monitor() as monitor:  # type: ignore[no-untyped-call]

        def listen() -> None:
            while True:
                command = monitor.next_command()
                text = command["command"]
                if text == f"ECHO {END}":
                    mine.append(command["client_port"])
                    return
                if command["client_type"] == "lua":
                    continue
                name, *args = text.split(" ")
                if name.upper() == "EVALSHA":
                    name = names.get(args[0], args[0])
                seen.append((command["client_port"], name, text))

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        requests()
        client.echo(END)
        listener.join(15)
        assert not listener.is_alive()
    client.close()
    return [(name, text) for port, name, text in seen if port not in mine and name not in BATCHED]


def post(gw: Gateway, key: str, prompts: list[str]) -> None:
    for prompt in prompts:
        answer = gw.post({"model": "dall-e-2", "prompt": prompt}, key)
        assert answer.status_code == 201 and answer.headers["x-gateway-cost-usd"] == "0.05"


def test_a_key_in_a_team_with_budgets_costs_one_admission_and_one_settlement(
    start_gateway: GatewayStarter, upstream: FakeUpstream, tmp_path: Path, own_redis: Proc
) -> None:
    url = f"redis://127.0.0.1:{own_redis.port}/0"
    # Records are cached for a minute, as in production, so no lookup falls in the window.
    (gw,) = replicas(
        start_gateway, "redis", tmp_path, count=1, redis_url=url, GATEWAY_KEY_CACHE_SECONDS="60"
    )
    upstream.control(usd_per_image=0.05)
    team = create_team(gw, name="watched", usd_per_day=10, usd_per_month=100, images_per_day=100)
    teamed = gw.create_key(name="teamed", team_id=team["id"], usd_per_day=5, rpm=100)
    plain = gw.create_key(name="plain")
    for created in (teamed, plain):
        post(gw, created["key"], ["warm up"])
        # The request log's connection and script are ready once it holds the request.
        wait_logged(gw, created["id"], 1)

    in_team = watched(url, lambda: post(gw, teamed["key"], [f"team {i}" for i in range(5)]))
    alone = watched(url, lambda: post(gw, plain["key"], [f"plain {i}" for i in range(5)]))

    assert Counter(name for name, _ in in_team) == {"admit": 5, "settle": 5}
    assert Counter(name for name, _ in alone) == {"admit": 5, "settle": 5}
    # The team's counters are in the key's own admission and settlement, not beside them.
    subject = f"team:{team['id']}"
    assert all(subject in text and teamed["id"] in text for _, text in in_team)
    assert not [text for _, text in alone if "team:" in text]
