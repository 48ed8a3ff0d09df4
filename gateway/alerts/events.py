"""Threshold crossings and the events that report them (pure: no I/O)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class Subject:
    """Who crossed a threshold: a key or a team."""

    kind: str
    id: str
    name: str


def crossed(before: int, after: int, limit: int, thresholds: tuple[Decimal, ...]) -> list[Decimal]:
    """The thresholds that ``before -> after`` (used amounts, exact integers) reached or
    passed under ``limit``. A threshold is reached when used >= threshold * limit."""
    if limit <= 0 or after <= before:
        return []
    return [t for t in thresholds if before < t * limit <= after]


def dedup_key(subject: Subject, limit: str, threshold: Decimal, window: str) -> str:
    """The store key that makes each event happen once across every replica."""
    return f"alert:{subject.kind}:{subject.id}:{limit}:{threshold}:{window}"


def threshold_event(
    subject: Subject,
    limit: str,
    threshold: Decimal,
    used: int | str,
    limit_value: int | str,
    window: str,
    at: float,
) -> dict[str, Any]:
    """The webhook body of one crossing. Money amounts are decimal strings in USD (exact);
    image and request counts are integers."""
    return {
        "event": "limit.threshold",
        "subject": {"kind": subject.kind, "id": subject.id, "name": subject.name},
        "limit": limit,
        "threshold": float(threshold),
        "used": used,
        "limit_value": limit_value,
        "window": window,
        "at": datetime.datetime.fromtimestamp(at, datetime.UTC).isoformat().replace("+00:00", "Z"),
    }
