"""A key service on the embedded store, with a clock the tests move by hand."""

from __future__ import annotations

import pytest

from gateway.keys.service import KeyService
from gateway.store.memory import MemoryStore
from gateway.store.types import Limits


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def service(clock: Clock) -> KeyService:
    store = MemoryStore(None, cache_max_bytes=1000, clock=clock)
    await store.start()
    return KeyService(store, b"secret", clock, cache_seconds=2, default_limits=Limits(rpm=10))
