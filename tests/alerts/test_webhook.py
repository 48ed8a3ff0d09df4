"""Webhook delivery: signed, in order, retried with back-off, never blocking the caller, and
an outage logged once."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging

import httpx
import orjson
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.alerts.webhook import SIGNATURE_HEADER, Delivery, WebhookSink, sign
from gateway.testing.procs import free_port

SECRET = b'webhook-secret-with-quote"and\\slash'


async def no_sleep(_seconds: float) -> None:
    await asyncio.sleep(0)


def refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("refused")


def test_signature_is_hmac_sha256_of_the_exact_body() -> None:
    body = b'{"event":"limit.threshold"}'
    expected = hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    assert sign(body, SECRET) == f"sha256={expected}"


async def test_a_real_receiver_gets_signed_events_in_order() -> None:
    received: list[tuple[bytes, str | None]] = []

    async def hook(request: Request) -> Response:
        received.append((await request.body(), request.headers.get(SIGNATURE_HEADER)))
        return Response(status_code=204)

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            Starlette(routes=[Route("/hook", hook, methods=["POST"])]),
            host="127.0.0.1",
            port=port,
            log_level="error",
            lifespan="off",
        )
    )
    serving = asyncio.create_task(server.serve())
    sink = WebhookSink(f"http://127.0.0.1:{port}/hook", SECRET, sleep=no_sleep)
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        sink.start()
        for n in range(3):
            sink.emit({"event": "limit.threshold", "n": n})
        await asyncio.wait_for(sink.drain(), 10)
    finally:
        await sink.aclose()
        server.should_exit = True
        await serving
    assert [orjson.loads(body)["n"] for body, _ in received] == [0, 1, 2]
    for body, signature in received:
        assert signature == sign(body, SECRET)


async def test_failures_are_retried_with_back_off_and_logged_once_per_outage(
    caplog: pytest.LogCaptureFixture,
) -> None:
    answers = iter([503, 503, 500, 200, 200])
    delays: list[float] = []

    async def record(seconds: float) -> None:
        delays.append(seconds)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(next(answers))

    sink = WebhookSink(
        "https://hooks.example.test/a?token=hidden",
        transport=httpx.MockTransport(handler),
        sleep=record,
        delivery=Delivery(first_delay=0.5, max_delay=1.5),
    )
    sink.start()
    with caplog.at_level(logging.INFO, logger="gateway.alerts"):
        sink.emit({"n": 1})
        sink.emit({"n": 2})
        await asyncio.wait_for(sink.drain(), 5)
    await sink.aclose()
    assert delays == [0.5, 1.0, 1.5]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "hidden" not in warnings[0].getMessage()
    assert any("working again" in r.getMessage() for r in caplog.records)


async def test_a_dead_webhook_never_blocks_and_a_full_queue_drops_and_counts() -> None:
    dropped: list[int] = []
    failed: list[int] = []
    gate = asyncio.Event()

    async def hold(_seconds: float) -> None:
        await gate.wait()

    sink = WebhookSink(
        "http://127.0.0.1:9/hook",
        transport=httpx.MockTransport(refuse),
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
    await asyncio.wait_for(sink.drain(), 5)
    await sink.aclose()
    assert len(failed) + len(dropped) == 6


async def test_closing_delivers_what_is_queued_within_the_drain_time() -> None:
    received: list[bytes] = []

    def accept(request: httpx.Request) -> httpx.Response:
        received.append(request.content)
        return httpx.Response(204)

    sink = WebhookSink("http://127.0.0.1:9/hook", transport=httpx.MockTransport(accept))
    sink.start()
    for n in range(3):
        sink.emit({"n": n})
    await sink.aclose(drain=5.0)
    assert [orjson.loads(body)["n"] for body in received] == [0, 1, 2]


async def test_closing_drops_and_counts_what_a_dead_webhook_left_queued() -> None:
    dropped: list[int] = []

    async def hold(_seconds: float) -> None:
        await asyncio.Event().wait()

    sink = WebhookSink(
        "http://127.0.0.1:9/hook",
        transport=httpx.MockTransport(refuse),
        sleep=hold,
        on_dropped=lambda: dropped.append(1),
    )
    sink.start()
    for n in range(3):
        sink.emit({"n": n})
    await asyncio.wait_for(sink.aclose(drain=0.05), 5)
    assert len(dropped) == 2
