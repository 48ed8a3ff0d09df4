"""Delivering alert events to the operator's webhook, off the request path.

``emit`` only puts the event on a bounded queue: a request never waits for the webhook. One
worker task posts the events in order, each retried with exponential back-off; a webhook that
is down is logged once when the outage starts and once when it ends, not per event. An
attempt has a deadline for the whole exchange, not only per read: a receiver that accepts and
never answers, or drips its answer a byte at a time, fails the attempt like one that refuses
the connection (httpx's timeouts bound each read, so a drip alone would hold the worker, and
every event behind it, for as long as the receiver likes). Past the
queue's size, new events are dropped and counted (an outage must not grow memory without
bound). Each body is signed with HMAC-SHA256 under the operator's secret, the way GitHub and
Stripe sign theirs, so the receiver can tell it came from this gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from gateway.observability.outage import Outage

log = logging.getLogger("gateway.alerts")

SIGNATURE_HEADER = "x-gateway-signature"


def sign(body: bytes, secret: bytes) -> str:
    """The signature header's value for ``body``: ``sha256=<hex>``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Delivery:
    """How hard to try: attempts per event, the back-off between them, the deadline of one
    (connecting, sending and reading the whole answer)."""

    attempts: int = 8
    first_delay: float = 0.5
    max_delay: float = 30.0
    timeout: float = 5.0
    queue_size: int = 10_000


Sleep = Callable[[float], Awaitable[None]]


class WebhookSink:
    """Posts events to one URL; ``start`` in the lifespan, ``aclose`` at shutdown."""

    def __init__(
        self,
        url: str,
        secret: bytes | None = None,
        *,
        delivery: Delivery | None = None,
        sleep: Sleep = asyncio.sleep,
        on_dropped: Callable[[], None] | None = None,
        on_failed: Callable[[], None] | None = None,
    ) -> None:
        self._url = url
        self._secret = secret
        self._delivery = delivery or Delivery()
        self._client = httpx.AsyncClient(timeout=self._delivery.timeout)
        self._sleep = sleep
        self._on_dropped = on_dropped
        self._on_failed = on_failed
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(self._delivery.queue_size)
        self._worker: asyncio.Task[None] | None = None
        parts = urlsplit(url)
        where = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        self._outage = Outage(log, f"alert webhook {where}")

    def start(self) -> None:
        if self._worker is None:
            self._worker = asyncio.create_task(self._run())

    def emit(self, event: dict[str, Any]) -> None:
        """Queue ``event`` for delivery; never blocks, never raises."""
        try:
            self._queue.put_nowait(orjson.dumps(event))
        except asyncio.QueueFull:
            if self._on_dropped is not None:
                self._on_dropped()

    async def drain(self) -> None:
        """Wait until every queued event was delivered or given up (for shutdown and tests)."""
        await self._queue.join()

    async def aclose(self, drain: float = 0.0) -> None:
        """Stop delivering, after up to ``drain`` seconds spent delivering what is queued
        (events still queued then are dropped and counted like a full queue's)."""
        if drain > 0 and self._worker is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), drain)
            left = self._queue.qsize()
            if left and self._on_dropped is not None:
                for _ in range(left):
                    self._on_dropped()
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        await self._client.aclose()

    async def _run(self) -> None:
        while True:
            body = await self._queue.get()
            try:
                await self._deliver(body)
            finally:
                self._queue.task_done()

    async def _deliver(self, body: bytes) -> None:
        headers = {"content-type": "application/json", "user-agent": "imagegw-alerts"}
        if self._secret is not None:
            headers[SIGNATURE_HEADER] = sign(body, self._secret)
        delay = self._delivery.first_delay
        for attempt in range(1, self._delivery.attempts + 1):
            problem = await self._post(body, headers)
            if problem is None:
                self._outage.recovered()
                return
            self._outage.failed(problem)
            if attempt < self._delivery.attempts:
                await self._sleep(delay)
                delay = min(self._delivery.max_delay, delay * 2)
        if self._on_failed is not None:
            self._on_failed()

    async def _post(self, body: bytes, headers: dict[str, str]) -> str | None:
        """None when delivered (any 2xx), else what went wrong."""
        deadline = self._delivery.timeout
        try:
            async with asyncio.timeout(deadline):
                response = await self._client.post(self._url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return type(exc).__name__
        except TimeoutError:
            return f"no whole answer within {deadline:g} s"
        if 200 <= response.status_code < 300:
            return None
        return f"status {response.status_code}"
