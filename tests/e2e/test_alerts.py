"""Budget alerts as the operator's webhook receives them: once per threshold across every
replica, signed; a webhook that is down, or never finishes answering, changes no answer and
no answer's latency."""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.alerts.webhook import Delivery
from gateway.testing.procs import free_port, wait_until
from tests.alerts.conftest import StuckReceiver
from tests.e2e.conftest import FakeUpstream, Gateway, GatewayStarter
from tests.e2e.test_money import create_team, fire, replicas

pytestmark = pytest.mark.e2e

SECRET = "webhook-secret-0123456789"
DEADLINE = Delivery().timeout / 3
"""What no request may take while the webhook holds a delivery: well below the time the
gateway gives one attempt, so a request that waited for the webhook would show."""


class Receiver:
    """A webhook endpoint on loopback that keeps what it is sent."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, dict[str, str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                outer.received.append((body, {k.lower(): v for k, v in self.headers.items()}))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/gateway"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for body, _ in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    yield hook
    hook.close()


@pytest.mark.parametrize("mode", ["redis", "embedded"])
def test_one_signed_event_at_80_and_at_100_percent_across_replicas(
    start_gateway: GatewayStarter,
    upstream: FakeUpstream,
    tmp_path: Path,
    receiver: Receiver,
    mode: str,
) -> None:
    gateways = replicas(
        start_gateway,
        mode,
        tmp_path,
        GATEWAY_ALERT_WEBHOOK_URL=receiver.url,
        GATEWAY_ALERT_WEBHOOK_SECRET=SECRET,
    )
    upstream.control(usd_per_image=0.05)
    team = create_team(gateways[0], name="alerted", usd_per_day=1)
    keys = [gateways[0].create_key(team_id=team["id"])["key"] for _ in range(2)]

    answers = fire(gateways, keys, 30)
    assert [a.status_code for a in answers].count(201) == 20

    wait_until(lambda: len(receiver.received) >= 2, 15, "two threshold events")
    events = sorted(receiver.events(), key=lambda e: e["threshold"])
    assert [(e["threshold"], e["used"], e["limit_value"]) for e in events] == [
        (0.8, "0.8", "1"),
        (1.0, "1", "1"),
    ]
    for event in events:
        assert event["event"] == "limit.threshold" and event["limit"] == "usd_per_day"
        assert event["subject"] == {"kind": "team", "id": team["id"], "name": "alerted"}
    for body, headers in receiver.received:
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["x-gateway-signature"], expected)
    # Every crossing is settled by now: another round of refusals settles nothing new.
    assert all(a.status_code == 429 for a in fire(gateways, keys, 8, "more"))
    assert len(receiver.received) == 2


@pytest.mark.parametrize("mode", ["redis", "embedded"])
def test_one_request_crossing_80_and_100_percent_is_told_in_that_order(
    start_gateway: GatewayStarter,
    upstream: FakeUpstream,
    tmp_path: Path,
    receiver: Receiver,
    mode: str,
) -> None:
    (gw,) = replicas(start_gateway, mode, tmp_path, count=1, GATEWAY_ALERT_WEBHOOK_URL=receiver.url)
    upstream.control(usd_per_image=0.05)
    # Each key's one $0.05 call spends its whole $0.05 budget: 80% and 100% at once.
    keys = [gw.create_key(name=f"one-shot-{i}", usd_per_day=0.05) for i in range(6)]
    for created in keys:
        answer = gw.post({"model": "dall-e-2", "prompt": "all at once"}, created["key"])
        assert answer.status_code == 201
    wait_until(lambda: len(receiver.received) >= 12, 15, "two threshold events per key")
    for created in keys:
        told = [e["threshold"] for e in receiver.events() if e["subject"]["id"] == created["id"]]
        assert told == [0.8, 1.0]


def test_a_dead_webhook_changes_no_answer_and_is_logged_once(
    start_gateway: GatewayStarter, upstream: FakeUpstream, tmp_path: Path
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/nobody"
    (gw,) = replicas(start_gateway, "embedded", tmp_path, GATEWAY_ALERT_WEBHOOK_URL=dead)
    upstream.control(usd_per_image=0.05)
    created = gw.create_key(usd_per_day=0.5)
    answers = fire([gw], [created["key"]], 15)
    assert [a.status_code for a in answers].count(201) == 10
    assert all(a.headers["x-gateway-cost-usd"] in ("0.05", "0") for a in answers)

    def failing_logged() -> bool:
        return "is failing" in gw.proc.log()

    wait_until(failing_logged, 15, "the webhook outage in the log")
    gw.proc.stop()
    assert gw.proc.log().count("is failing") == 1


def timed(gw: Gateway, key: str, prompt: str) -> tuple[httpx.Response, float]:
    """One generation and how long it took, from sending to the whole answer."""
    started = time.perf_counter()
    answer = gw.post({"model": "dall-e-2", "prompt": prompt}, key, timeout=30)
    return answer, time.perf_counter() - started


@pytest.mark.parametrize("behaviour", ["silent", "drip"])
def test_a_webhook_that_never_finishes_answering_changes_no_answer_or_its_latency(
    start_gateway: GatewayStarter, upstream: FakeUpstream, tmp_path: Path, behaviour: str
) -> None:
    with StuckReceiver(behaviour) as hook:
        (gw,) = replicas(start_gateway, "embedded", tmp_path, GATEWAY_ALERT_WEBHOOK_URL=hook.url)
        upstream.control(usd_per_image=0.05)
        key = gw.create_key(usd_per_day=0.5)["key"]
        # The 8th answer crosses 80% of the budget and the 10th 100%: each queues an event.
        answers = [timed(gw, key, f"stuck {i}") for i in range(10)]
        wait_until(lambda: hook.requests >= 1, 15, "the first event to reach the webhook")
        answers += [timed(gw, key, f"stuck {i}") for i in range(10, 14)]

        assert [a.status_code for a, _ in answers] == [201] * 10 + [429] * 4
        assert [a.headers["x-gateway-cost-usd"] for a, _ in answers] == ["0.05"] * 10 + ["0"] * 4
        assert all(a.json()["error"]["code"] == "insufficient_quota" for a, _ in answers[10:])
        slowest = max(seconds for _, seconds in answers)
        assert slowest < DEADLINE, f"a request took {slowest:.2f} s"

        # Two attempts given up (each after its deadline) and a third under way: one line.
        wait_until(lambda: hook.requests >= 3, 40, "two failed attempts and a retry")
        outage = f"alert webhook http://127.0.0.1:{hook.port} is failing"
        assert gw.proc.log().count(outage) == 1
        assert gw.proc.log().count("is failing") == 1
        # Its shutdown would spend its drain time on this webhook; nothing here needs it.
        gw.proc.stop(signal.SIGKILL)
