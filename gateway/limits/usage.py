"""Usage reports: daily counters and what is left of each limit, for one key."""

from __future__ import annotations

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
