"""Which thresholds a change of use crosses, and the event that reports it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gateway.alerts.events import Subject, crossed, dedup_key, threshold_event
from gateway.settings.model import parse_thresholds

EIGHTY, FULL = Decimal("0.8"), Decimal("1.0")


def test_thresholds_parse_sorted_and_bad_ones_are_named() -> None:
    assert parse_thresholds("1.0, 0.8,0.8") == (EIGHTY, FULL)
    for bad in ("0", "1.5", "x", "nan"):
        with pytest.raises(ValueError, match=bad):
            parse_thresholds(bad)


def test_each_threshold_is_crossed_once_by_exact_integers() -> None:
    thresholds = (EIGHTY, FULL)
    assert crossed(0, 799_999, 1_000_000, thresholds) == []
    assert crossed(799_999, 800_000, 1_000_000, thresholds) == [EIGHTY]
    assert crossed(800_000, 900_000, 1_000_000, thresholds) == []
    assert crossed(700_000, 1_200_000, 1_000_000, thresholds) == [EIGHTY, FULL]
    assert crossed(5, 5, 10, thresholds) == []
    assert crossed(0, 10, 0, thresholds) == []


def test_the_event_has_the_documented_shape() -> None:
    team = Subject("team", "team_1", "design")
    event = threshold_event(team, "usd_per_day", EIGHTY, "0.80", "1.00", "2026-12-01", 0.0)
    assert event == {
        "event": "limit.threshold",
        "subject": {"kind": "team", "id": "team_1", "name": "design"},
        "limit": "usd_per_day",
        "threshold": 0.8,
        "used": "0.80",
        "limit_value": "1.00",
        "window": "2026-12-01",
        "at": "1970-01-01T00:00:00Z",
    }
    assert dedup_key(team, "usd_per_day", EIGHTY, "2026-12-01") != dedup_key(
        team, "usd_per_day", FULL, "2026-12-01"
    )
