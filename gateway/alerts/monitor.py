"""Which thresholds a settlement made a key or a team cross, told once across every replica.

After each settlement the store answers with the settled use of the day and the month
(images and spend, counted only when settled: reservations in flight are not use yet), so
a threshold is crossed by exactly one settlement in the store's order, whichever replica
made it. The crossing is then claimed in the store under :func:`dedup_key` (an atomic
set-if-absent that lives until the window ends), and only the replica that claims it emits
the event: a settlement retried after a lost reply, or two replicas racing, still make one
event. Claims and deliveries run in background tasks, never on the request path; a claim
the store cannot make is logged and dropped (an alert is not worth failing a request).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from gateway.alerts.events import Subject, crossed, dedup_key, threshold_event
from gateway.billing.money import format_usd
from gateway.observability.clock import Clock
from gateway.store.errors import StorageError
from gateway.store.types import MONEY_LIMITS, WINDOW_LIMITS

log = logging.getLogger("gateway.alerts")

CLAIM_GRACE = 86400.0
MAX_PENDING = 1000

Claim = Callable[[str, float], Awaitable[bool]]
"""Claims a name for some seconds in the store: True for the first caller only."""


class Sink(Protocol):
    """Where events go (:class:`gateway.alerts.webhook.WebhookSink`)."""

    def emit(self, event: dict[str, Any]) -> None: ...


@dataclass(frozen=True, slots=True)
class Crossing:
    """One threshold of one limit a settlement crossed."""

    limit: str
    threshold: Decimal
    used: int
    limit_value: int
    window: str
    ttl: float


def crossings(
    limits: Mapping[str, int | None],
    used: Mapping[str, int],
    added: Mapping[str, int],
    windows: Mapping[str, tuple[str, float]],
    thresholds: tuple[Decimal, ...],
) -> list[Crossing]:
    """The thresholds of the day and month ``limits`` that adding ``added`` (images,
    spend_nanos) crossed, ``used`` being the settled use after it by window (``day`` and
    ``month`` of ``images`` and ``spend_nanos``, as ``"images:day"``). ``windows`` names
    each window and says how long it has left."""
    found = []
    for name, (counter, period) in WINDOW_LIMITS.items():
        limit = limits.get(name)
        if limit is None or limit <= 0:
            continue
        after = used.get(f"{counter}:{period}")
        if after is None:
            continue
        window, ends_in = windows[period]
        for threshold in crossed(after - added.get(counter, 0), after, limit, thresholds):
            found.append(Crossing(name, threshold, after, limit, window, ends_in + CLAIM_GRACE))
    return found


class AlertMonitor:
    """Turns settlements into threshold events for the sink."""

    def __init__(
        self, sink: Sink, claim: Claim, thresholds: tuple[Decimal, ...], clock: Clock
    ) -> None:
        self._sink = sink
        self._claim = claim
        self._thresholds = thresholds
        self._clock = clock
        self._pending: set[asyncio.Task[None]] = set()

    def settled(
        self,
        subject: Subject,
        limits: Mapping[str, int | None],
        used: Mapping[str, int],
        added: Mapping[str, int],
        windows: Mapping[str, tuple[str, float]],
    ) -> None:
        """Look at one subject's settlement; claim and emit what it crossed, in the
        background. Never raises, never waits.

        What one settlement crossed is claimed and emitted in threshold order, one claim
        after the other in a single task: claims in parallel may be answered in any order
        (over different store connections), and a receiver told of 100% before 80% of the
        same budget would read the 80% event as news."""
        found = crossings(limits, used, added, windows, self._thresholds)
        if not found:
            return
        if len(self._pending) >= MAX_PENDING:
            log.warning("too many alert claims pending: a threshold event was dropped")
            return
        found.sort(key=lambda crossing: crossing.threshold)
        task = asyncio.create_task(self._announce_all(subject, found))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _announce_all(self, subject: Subject, found: list[Crossing]) -> None:
        for crossing in found:
            await self._announce(subject, crossing)

    async def _announce(self, subject: Subject, crossing: Crossing) -> None:
        key = dedup_key(subject, crossing.limit, crossing.threshold, crossing.window)
        try:
            first = await self._claim(key, crossing.ttl)
        except StorageError as exc:
            log.warning(
                "could not claim a threshold event in the store; it is dropped",
                extra={"fields": {"limit": crossing.limit, "error": type(exc).__name__}},
            )
            return
        if not first:
            return
        money = crossing.limit in MONEY_LIMITS
        self._sink.emit(
            threshold_event(
                subject,
                crossing.limit,
                crossing.threshold,
                format_usd(crossing.used) if money else crossing.used,
                format_usd(crossing.limit_value) if money else crossing.limit_value,
                crossing.window,
                self._clock(),
            )
        )

    async def drain(self, timeout: float | None = None) -> None:
        """Wait for the claims under way: at shutdown, so that a threshold crossed by one of
        the last settlements still reaches the sink, for at most ``timeout`` seconds; claims
        still unanswered then are cancelled and their events dropped (logged)."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while self._pending:
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                log.warning(
                    "shutting down with threshold events unclaimed: they are dropped",
                    extra={"fields": {"dropped": len(self._pending)}},
                )
                for task in list(self._pending):
                    task.cancel()
                await asyncio.gather(*list(self._pending), return_exceptions=True)
                return
            await asyncio.wait(list(self._pending), timeout=left)
