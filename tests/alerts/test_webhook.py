"""Webhook delivery to real receivers on loopback: signed, in order, retried with back-off,
never blocking the caller, every attempt bounded, and an outage logged once."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging

import orjson
import pytest

from gateway.alerts.webhook import Delivery, WebhookSink, sign
from gateway.testing.procs import free_port
from tests.alerts.conftest import Hook, StuckReceiver

SECRET = b'webhook-secret-with-quote"and\\slash'


async def no_sleep(_seconds: float) -> None:
    await asyncio.sleep(0)


def refused_url() -> str:
    """A loopback URL nothing listens on: every connection is refused."""
    return f"http://127.0.0.1:{free_port()}/hook"


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "gateway.alerts" and r.levelno == logging.WARNING
    ]


def test_signature_is_hmac_sha256_of_the_exact_body() -> None:
    body = b'{"event":"limit.threshold"}'
    expected = hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    assert sign(body, SECRET) == f"sha256={expected}"


async def test_a_real_receiver_gets_signed_events_in_order(hook: Hook) -> None:
    sink = WebhookSink(hook.url, SECRET, sleep=no_sleep)
    sink.start()
    try:
        for n in range(3):
            sink.emit({"event": "limit.threshold", "n": n})
        await asyncio.wait_for(sink.drain(), 10)
    finally:
        await sink.aclose()
    assert [orjson.loads(body)["n"] for body, _ in hook.received] == [0, 1, 2]
    for body, signature in hook.received:
        assert signature == sign(body, SECRET)


async def test_failures_are_retried_with_back_off_and_logged_once_per_outage(
    hook: Hook, caplog: pytest.LogCaptureFixture
) -> None:
    hook.statuses[:] = [503, 503, 500, 200, 200]
    delays: list[float] = []

    async def record(seconds: float) -> None:
        delays.append(seconds)

    sink = WebhookSink(
        f"{hook.url}?token=hidden",
        sleep=record,
        delivery=Delivery(first_delay=0.5, max_delay=1.5),
    )
    sink.start()
    with caplog.at_level(logging.INFO, logger="gateway.alerts"):
        sink.emit({"n": 1})
        sink.emit({"n": 2})
        await asyncio.wait_for(sink.drain(), 10)
    await sink.aclose()
    assert delays == [0.5, 1.0, 1.5]
    assert [orjson.loads(body)["n"] for body, _ in hook.received] == [1, 1, 1, 1, 2]
    (warning,) = warnings(caplog)
    assert "status 503" in warning and "hidden" not in warning
    assert any("working again" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("behaviour", ["silent", "drip"])
async def test_a_receiver_that_never_finishes_answering_fails_each_attempt_in_time(
    caplog: pytest.LogCaptureFixture, behaviour: str
) -> None:
    failed: list[int] = []
    with StuckReceiver(behaviour) as stuck:
        sink = WebhookSink(
            stuck.url,
            sleep=no_sleep,
            delivery=Delivery(attempts=3, timeout=0.3),
            on_failed=lambda: failed.append(1),
        )
        sink.start()
        with caplog.at_level(logging.INFO, logger="gateway.alerts"):
            sink.emit({"n": 1})
            sink.emit({"n": 2})
            await asyncio.wait_for(sink.drain(), 20)
        await sink.aclose()
        assert stuck.requests == 6
    assert failed == [1, 1]
    (warning,) = warnings(caplog)
    assert "is failing" in warning


async def test_a_dead_webhook_never_blocks_and_a_full_queue_drops_and_counts() -> None:
    dropped: list[int] = []
    failed: list[int] = []
    gate = asyncio.Event()

    async def hold(_seconds: float) -> None:
        await gate.wait()

    sink = WebhookSink(
        refused_url(),
        sleep=hold,
        delivery=Delivery(attempts=2, queue_size=2),
        on_dropped=lambda: dropped.append(1),
        on_failed=lambda: failed.append(1),
    )
    sink.start()
    for n in range(6):
        sink.emit({"n": n})
    assert len(dropped) >= 3
    gate.set()
    await asyncio.wait_for(sink.drain(), 10)
    await sink.aclose()
    assert len(failed) + len(dropped) == 6


async def test_closing_delivers_what_is_queued_within_the_drain_time(hook: Hook) -> None:
    sink = WebhookSink(hook.url)
    sink.start()
    for n in range(3):
        sink.emit({"n": n})
    await sink.aclose(drain=5.0)
    assert [orjson.loads(body)["n"] for body, _ in hook.received] == [0, 1, 2]


async def test_closing_drops_and_counts_what_a_dead_webhook_left_queued() -> None:
    dropped: list[int] = []

    async def hold(_seconds: float) -> None:
        await asyncio.Event().wait()

    sink = WebhookSink(refused_url(), sleep=hold, on_dropped=lambda: dropped.append(1))
    sink.start()
    for n in range(3):
        sink.emit({"n": n})
    await asyncio.wait_for(sink.aclose(drain=0.05), 5)
    assert len(dropped) == 2
