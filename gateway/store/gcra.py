"""GCRA arithmetic for the per-minute limits (the Redis store does the same in Lua)."""

from __future__ import annotations

import math

PERIOD = 60.0
EPSILON = 1e-6


def interval(limit: int) -> float:
    """Seconds one unit takes to replenish."""
    return PERIOD / limit


def try_take(tat: float, now: float, units: int, limit: int) -> tuple[bool, float, float | None]:
    """(allowed, new tat, retry_after). retry_after is None when waiting cannot help."""
    if limit <= 0 or units > limit:
        return False, tat, None
    base = max(tat, now)
    new_tat = base + units * interval(limit)
    if new_tat - now <= PERIOD + EPSILON:
        return True, new_tat, 0.0
    return False, tat, new_tat - PERIOD - now


def give_back(tat: float, now: float, units: int, limit: int) -> float:
    """Return ``units`` to the limit."""
    if limit <= 0:
        return tat
    return max(now, tat - units * interval(limit))


def remaining(tat: float, now: float, limit: int) -> tuple[int, float]:
    """(units left, seconds until fully replenished)."""
    if limit <= 0:
        return 0, 0.0
    used = max(0.0, tat - now)
    left = math.floor((PERIOD - used) / interval(limit) + EPSILON)
    return max(0, min(limit, left)), used
