"""Usage reports: daily counters, spend and what is left of each limit, for a key or a team.

Spend is counted in nano-dollars by the stores (``spend_nanos``, the reported cost of every
settled request) and shown as exact decimal strings of USD (``spend_usd``); money limits
likewise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from gateway.billing.money import format_usd
from gateway.limits.admission import Calendar
from gateway.store.base import Store
from gateway.store.types import MONEY_LIMITS, KeyRecord, Limits, TeamRecord, Window, team_subject

COUNTERS = (
    "requests",
    "images",
    "cache_hits",
    "cached_images",
    "cache_misses",
    "cache_bypasses",
    "refused",
)
SPEND = "spend_nanos"
MAX_DAYS = 90
READS_IN_FLIGHT = 64


@dataclass(frozen=True, slots=True)
class Owner:
    """Whose usage a report shows: a key or a team, under the name its counters are kept."""

    kind: Literal["key", "team"]
    id: str
    name: str
    limits: Limits

    @classmethod
    def of(cls, record: KeyRecord | TeamRecord) -> Owner:
        """The owner for a key record or a team record."""
        kind: Literal["key", "team"] = "team" if isinstance(record, TeamRecord) else "key"
        return cls(kind, record.id, record.name, record.limits)

    @property
    def subject(self) -> str:
        """The name the stores keep this owner's counters under."""
        return team_subject(self.id) if self.kind == "team" else self.id


def _amount(name: str, value: int) -> int | str:
    return format_usd(value) if name in MONEY_LIMITS else value


async def _left(store: Store, owner: Owner, window: Window) -> dict[str, dict[str, Any] | None]:
    """What is left of each of ``owner``'s limits (None for an unlimited one)."""
    states = await store.limit_states(owner.subject, owner.limits, window)
    limits: dict[str, dict[str, Any] | None] = {}
    for name, limit in owner.limits.as_dict().items():
        state = states.get(name)
        limits[name] = (
            None
            if limit is None
            else {
                "limit": _amount(name, limit),
                "remaining": _amount(name, state.remaining if state else limit),
                "reset_seconds": round(state.reset, 3) if state else 0.0,
            }
        )
    return limits


async def usage_report(
    store: Store,
    calendar: Calendar,
    record: KeyRecord | TeamRecord,
    days: int,
    team: TeamRecord | None = None,
) -> dict[str, Any]:
    """The ``/v1/usage`` body for a key (or a team) over the last ``days`` quota days:
    counters and ``spend_usd`` per day, their totals, and what is left of every limit.
    A key's ``team`` adds what is left of the team's limits, which bind the key too."""
    owner = Owner.of(record)
    days = max(1, min(MAX_DAYS, days))
    window = calendar.window()
    daily = await store.usage(owner.subject, calendar.recent_days(days))
    totals = dict.fromkeys(COUNTERS, 0)
    spent = 0
    rows = []
    for day in daily:
        row = {name: int(day.counters.get(name, 0)) for name in COUNTERS}
        for name, value in row.items():
            totals[name] += value
        spend = int(day.counters.get(SPEND, 0))
        spent += spend
        rows.append({"day": day.day, **row, "spend_usd": format_usd(spend)})
    report: dict[str, Any] = {
        "object": "usage",
        f"{owner.kind}_id": owner.id,
        "name": owner.name,
        "days": rows,
        "totals": {**totals, "spend_usd": format_usd(spent)},
        "limits": await _left(store, owner, window),
    }
    if team is not None:
        report["team"] = {
            "team_id": team.id,
            "name": team.name,
            "limits": await _left(store, Owner.of(team), window),
        }
    return report


async def day_usage(
    store: Store, key_ids: Sequence[str], day: str, names: Sequence[str] = COUNTERS
) -> dict[str, dict[str, int]]:
    """Each key's (or team subject's) counters ``names`` for one quota day (0 when unused),
    with at most :data:`READS_IN_FLIGHT` store reads at a time; the first failed read stops
    the others and is raised."""
    found: dict[str, dict[str, int]] = {}
    pending = iter(key_ids)

    async def reader() -> None:
        for key_id in pending:
            (row,) = await store.usage(key_id, [day])
            found[key_id] = {name: int(row.counters.get(name, 0)) for name in names}

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(min(READS_IN_FLIGHT, len(key_ids))):
                group.create_task(reader())
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return {key_id: found[key_id] for key_id in key_ids}


def sum_counters(rows: Iterable[dict[str, int]], names: Sequence[str] = COUNTERS) -> dict[str, int]:
    """Counters summed over keys."""
    summed = dict.fromkeys(names, 0)
    for row in rows:
        for name in names:
            summed[name] += row.get(name, 0)
    return summed


def with_spend(counters: dict[str, int]) -> dict[str, int | str]:
    """A day's counters as the admin API shows them: ``spend_nanos`` as ``spend_usd``, an
    exact decimal string of USD."""
    shown: dict[str, int | str] = {n: v for n, v in counters.items() if n != SPEND}
    shown["spend_usd"] = format_usd(counters.get(SPEND, 0))
    return shown
