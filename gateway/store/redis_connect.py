"""The redis-py client of the Redis store and of the Redis journals.

Its own module so that the journals, which share only this with the store, connect the
same way without importing the store.
"""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff


def connect(url: str, *, socket_timeout: float, connect_timeout: float) -> aioredis.Redis:
    """A Redis client that fails fast: short timeouts, one quick retry, no long back-off.

    A dead Redis must turn into a prompt 503, never a hung request.
    """
    return aioredis.Redis.from_url(
        url,
        socket_timeout=socket_timeout,
        socket_connect_timeout=connect_timeout,
        retry=Retry(ExponentialBackoff(cap=0.05, base=0.01), 1),
        health_check_interval=30,
        max_connections=1024,
    )
