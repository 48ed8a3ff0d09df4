"""Upstream resilience: key rotation with cool-downs, safe retries, a circuit breaker.

Retries happen only where no image can have been generated: connection failures and
upstream 429/502/503 (honouring its ``retry-after``), with exponential back-off and
jitter under one overall deadline; never after a read timeout or a broken answer. A key
the upstream refuses (401, 403 out of credits, 429) is set aside for a cool-down and the
request is tried once on another key. Repeated failures open the breaker, which answers
503 at once for a short cool-down instead of piling requests onto a failing upstream.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

from gateway.errors import ServiceUnavailable
from gateway.upstream.client import Failure, Upstream, UpstreamAnswer, UpstreamCallError
from gateway.upstream.payload import Payload

log = logging.getLogger("gateway.upstream")
KEY_REFUSALS = (401, 403, 429)
RETRYABLE_STATUS = (429, 502, 503)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try before giving up."""

    max_retries: int = 2
    deadline: float = 30.0
    base_delay: float = 0.2
    max_delay: float = 5.0
    key_cooldown: float = 60.0
    breaker_threshold: int = 10
    breaker_cooldown: float = 10.0


class KeyPool:
    """Upstream keys used in turn, skipping those set aside."""

    def __init__(self, keys: tuple[str, ...]) -> None:
        self._keys = keys or ("",)
        self._next = 0
        self._resting: dict[str, float] = {}

    def pick(self, exclude: set[str]) -> str | None:
        """The next usable key not in ``exclude`` (a resting one only if nothing else)."""
        now = time.monotonic()
        candidates = [k for k in self._keys if k not in exclude]
        if not candidates:
            return None
        for _ in range(len(self._keys)):
            key = self._keys[self._next % len(self._keys)]
            self._next += 1
            if key in candidates and self._resting.get(key, 0.0) <= now:
                return key
        return min(candidates, key=lambda k: self._resting.get(k, 0.0))

    def rest(self, key: str, seconds: float) -> None:
        """Set ``key`` aside for ``seconds``."""
        self._resting[key] = time.monotonic() + seconds


class Breaker:
    """Opens after ``threshold`` consecutive failures, for ``cooldown`` seconds."""

    def __init__(self, threshold: int, cooldown: float) -> None:
        self._threshold = threshold
        self._cooldown = cooldown
        self._failures = 0
        self._open_until = 0.0

    def check(self) -> None:
        """Raise ServiceUnavailable while open."""
        left = self._open_until - time.monotonic()
        if left > 0:
            raise ServiceUnavailable(
                "The upstream is failing; the gateway is pausing calls to it briefly.",
                headers={"retry-after": str(max(1, round(left)))},
            )

    def record(self, ok: bool) -> None:
        """Count one call's outcome."""
        if ok:
            self._failures = 0
            return
        self._failures += 1
        if self._failures >= self._threshold:
            self._open_until = time.monotonic() + self._cooldown
            self._failures = 0
            log.warning("upstream circuit opened")


class ResilientUpstream:
    """Wraps :class:`Upstream` with the policy above; same ``generate`` signature."""

    def __init__(self, upstream: Upstream, keys: tuple[str, ...], policy: RetryPolicy) -> None:
        self._upstream = upstream
        self._pool = KeyPool(keys)
        self._policy = policy
        self._breaker = Breaker(policy.breaker_threshold, policy.breaker_cooldown)

    async def generate(self, body: dict[str, Any] | Payload, request_id: str) -> UpstreamAnswer:
        """One generation (or edit: a :class:`Payload`, read again for each try) with
        rotation, retries and the breaker."""
        self._breaker.check()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._policy.deadline
        tried: set[str] = set()
        retries = 0
        switched = False
        while True:
            key = self._pool.pick(tried) or self._pool.pick(set()) or ""
            try:
                answer = await self._upstream.generate(body, request_id, key or None)
            except UpstreamCallError as exc:
                self._breaker.record(
                    exc.status is not None and exc.status < 500 and exc.status != 429
                )
                delay = self._next_step(exc, key, tried, retries, switched)
                if delay is None:
                    raise
                if delay == 0.0:
                    switched = True
                else:
                    retries += 1
                if loop.time() + delay > deadline:
                    raise
                if delay:
                    await asyncio.sleep(delay)
                continue
            self._breaker.record(True)
            return answer

    def _next_step(
        self, exc: UpstreamCallError, key: str, tried: set[str], retries: int, switched: bool
    ) -> float | None:
        """Seconds to wait before the next try (0: another key now), None: give up."""
        if exc.status in KEY_REFUSALS and key:
            self._pool.rest(key, exc.retry_after or self._policy.key_cooldown)
            tried.add(key)
            if not switched and self._pool.pick(tried) is not None:
                return 0.0
        retryable = exc.failure is Failure.CONNECT or exc.status in RETRYABLE_STATUS
        if not retryable or retries >= self._policy.max_retries:
            return None
        backoff = min(self._policy.max_delay, self._policy.base_delay * 2**retries)
        wait = random.uniform(backoff / 2, backoff)
        if exc.retry_after:
            wait = max(wait, exc.retry_after)
        return wait
