"""Time as an injectable dependency, so limits and expiry can be tested without sleeping."""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]


def system_clock() -> float:
    """Wall-clock seconds since the epoch (the default clock)."""
    return time.time()
