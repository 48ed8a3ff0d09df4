"""Threshold events from settlements: each crossing claimed once, emitted by the claimer."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import Any

import pytest

from gateway.alerts.events import Subject
from gateway.alerts.monitor import AlertMonitor, crossings
from gateway.store.errors import StorageUnavailable

THRESHOLDS = (Decimal("0.8"), Decimal("1.0"))
WINDOWS = {"day": ("2027-01-15", 3600.0), "month": ("2027-01", 86400.0)}
TEAM = Subject("team", "team_1", "design")
LIMITS = {"usd_per_day": 1_000_000_000, "images_per_month": 10, "rpm": 5}


class Sink:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def emit(self, event: dict[str, Any]) -> None:
        self.events.append(event)


class Claims:
    """The store's set-if-absent, shared by several monitors (replicas)."""

    def __init__(self) -> None:
        self.taken: dict[str, float] = {}

    async def __call__(self, name: str, ttl: float) -> bool:
        if name in self.taken:
            return False
        self.taken[name] = ttl
        return True


def used(spend: int, images: int = 0) -> dict[str, int]:
    return {
        "images:day": images,
        "spend_nanos:day": spend,
        "images:month": images,
        "spend_nanos:month": spend,
    }


def test_crossings_of_day_and_month_limits_only() -> None:
    found = crossings(
        LIMITS, used(850_000_000, 8), {"spend_nanos": 100_000_000, "images": 2}, WINDOWS, THRESHOLDS
    )
    assert [(c.limit, c.threshold, c.window) for c in found] == [
        ("images_per_month", Decimal("0.8"), "2027-01"),
        ("usd_per_day", Decimal("0.8"), "2027-01-15"),
    ]
    assert found[1].ttl > 3600


async def test_two_replicas_emit_each_crossing_once_with_money_as_decimal_strings() -> None:
    sink, claims = Sink(), Claims()
    replicas = [AlertMonitor(sink, claims, THRESHOLDS, lambda: 0.0) for _ in range(2)]
    spend = 0
    for step in range(20):
        spend += 50_000_000
        replicas[step % 2].settled(TEAM, LIMITS, used(spend), {"spend_nanos": 50_000_000}, WINDOWS)
        # The same settlement heard twice (a retried reply) changes nothing.
        replicas[(step + 1) % 2].settled(
            TEAM, LIMITS, used(spend), {"spend_nanos": 50_000_000}, WINDOWS
        )
    for replica in replicas:
        await replica.drain()
    assert [(e["threshold"], e["used"], e["limit_value"]) for e in sink.events] == [
        (0.8, "0.8", "1"),
        (1.0, "1", "1"),
    ]
    assert sink.events[0]["subject"] == {"kind": "team", "id": "team_1", "name": "design"}


async def test_one_settlement_crossing_two_thresholds_emits_them_in_threshold_order() -> None:
    sink, claims = Sink(), Claims()
    answer_80 = asyncio.Event()

    async def claim(name: str, ttl: float) -> bool:
        # The store answers the 80% claim last, as a busier connection would.
        if ":0.8:" in name:
            await answer_80.wait()
        return await claims(name, ttl)

    monitor = AlertMonitor(sink, claim, THRESHOLDS, lambda: 0.0)
    monitor.settled(TEAM, LIMITS, used(1_000_000_000), {"spend_nanos": 400_000_000}, WINDOWS)
    asyncio.get_running_loop().call_soon(answer_80.set)
    await monitor.drain()
    assert [(e["limit"], e["threshold"]) for e in sink.events] == [
        ("usd_per_day", 0.8),
        ("usd_per_day", 1.0),
    ]


async def test_a_claim_the_store_cannot_make_is_logged_and_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def down(name: str, ttl: float) -> bool:
        raise StorageUnavailable()

    sink = Sink()
    monitor = AlertMonitor(sink, down, THRESHOLDS, lambda: 0.0)
    caplog.set_level(logging.WARNING, "gateway.alerts")
    monitor.settled(TEAM, LIMITS, used(1_000_000_000), {"spend_nanos": 1_000_000_000}, WINDOWS)
    await monitor.drain()
    assert sink.events == []
    assert any("dropped" in r.getMessage() for r in caplog.records)


async def test_shutdown_waits_for_a_claim_under_way_and_gives_up_on_a_stuck_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    answer = asyncio.Event()

    async def slow(name: str, ttl: float) -> bool:
        await answer.wait()
        return True

    sink = Sink()
    monitor = AlertMonitor(sink, slow, THRESHOLDS, lambda: 0.0)
    monitor.settled(TEAM, LIMITS, used(850_000_000), {"spend_nanos": 100_000_000}, WINDOWS)
    asyncio.get_running_loop().call_soon(answer.set)
    await monitor.drain(timeout=5.0)
    assert [e["threshold"] for e in sink.events] == [0.8]

    async def stuck(name: str, ttl: float) -> bool:
        await asyncio.Event().wait()
        return True

    monitor = AlertMonitor(sink, stuck, THRESHOLDS, lambda: 0.0)
    caplog.set_level(logging.WARNING, "gateway.alerts")
    monitor.settled(TEAM, LIMITS, used(1_000_000_000), {"spend_nanos": 100_000_000}, WINDOWS)
    await asyncio.wait_for(monitor.drain(timeout=0.05), 5)
    assert [e["threshold"] for e in sink.events] == [0.8]
    assert any("unclaimed" in r.getMessage() for r in caplog.records)
