"""Usage reports: daily counters and what is left of each limit, for one key."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

from gateway.limits.admission import Calendar
from gateway.store.base import Store
from gateway.store.types import KeyRecord

COUNTERS = (
    "requests",
    "images",
    "cache_hits",
    "cached_images",
    "cache_misses",
    "cache_bypasses",
    "refused",
)
MAX_DAYS = 90
READS_IN_FLIGHT = 64


async def usage_report(
    store: Store, calendar: Calendar, record: KeyRecord, days: int
) -> dict[str, Any]:
    """The ``/v1/usage`` body for ``record`` over the last ``days`` quota days."""
    days = max(1, min(MAX_DAYS, days))
    window = calendar.window()
    daily = await store.usage(record.id, calendar.recent_days(days))
    states = await store.limit_states(record.id, record.limits, window)
    totals = dict.fromkeys(COUNTERS, 0)
    rows = []
    for day in daily:
        row = {name: int(day.counters.get(name, 0)) for name in COUNTERS}
        for name, value in row.items():
            totals[name] += value
        rows.append({"day": day.day, **row})
    limits: dict[str, dict[str, Any] | None] = {}
    for name, limit in record.limits.as_dict().items():
        state = states.get(name)
        limits[name] = (
            None
            if limit is None
            else {
                "limit": limit,
                "remaining": state.remaining if state else limit,
                "reset_seconds": round(state.reset, 3) if state else 0.0,
            }
        )
    return {
        "object": "usage",
        "key_id": record.id,
        "name": record.name,
        "days": rows,
        "totals": totals,
        "limits": limits,
    }


async def day_usage(store: Store, key_ids: Sequence[str], day: str) -> dict[str, dict[str, int]]:
    """Each key's counters for one quota day (every counter of :data:`COUNTERS`, 0 when
    unused), with at most :data:`READS_IN_FLIGHT` store reads at a time; the first failed
    read stops the others and is raised."""
    found: dict[str, dict[str, int]] = {}
    pending = iter(key_ids)

    async def reader() -> None:
        for key_id in pending:
            (row,) = await store.usage(key_id, [day])
            found[key_id] = {name: int(row.counters.get(name, 0)) for name in COUNTERS}

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(min(READS_IN_FLIGHT, len(key_ids))):
                group.create_task(reader())
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return {key_id: found[key_id] for key_id in key_ids}


def sum_counters(rows: Iterable[dict[str, int]]) -> dict[str, int]:
    """Counters summed over keys."""
    summed = dict.fromkeys(COUNTERS, 0)
    for row in rows:
        for name in COUNTERS:
            summed[name] += row.get(name, 0)
    return summed
