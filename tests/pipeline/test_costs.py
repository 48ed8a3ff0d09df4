"""What a request is charged: the upstream's figure, else the price table's; an upstream
charging more than the estimate is recorded as charged, counted and warned about once."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest
from prometheus_client import generate_latest

from gateway.billing.price_file import load_price_table
from gateway.billing.reported import NOT_REPORTED, ReportedCost
from gateway.observability.metrics import Metrics
from gateway.pipeline.costs import Costs


def costs(metrics: Metrics | None = None) -> Costs:
    return Costs(load_price_table(None, Decimal("0.20")), metrics)


def reported(nanos: int) -> ReportedCost:
    return ReportedCost(nanos, None, "inf-1", "header")


def test_the_reported_cost_is_charged_and_the_table_only_when_nothing_is_reported() -> None:
    costing = costs()
    estimate = costing.estimate("dall-e-2", {"size": "1024x1024"}, 2)
    assert estimate.nanos == 2 * estimate.per_image_nanos > 0
    assert costing.charge("dall-e-2", estimate, reported(1_234), 2) == 1_234
    assert costing.charge("dall-e-2", estimate, NOT_REPORTED, 1) == estimate.per_image_nanos
    assert costing.charge("dall-e-2", estimate, None, 0) == 0


def test_an_upstream_charging_more_than_estimated_is_recorded_counted_and_warned_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = Metrics()
    costing = costs(metrics)
    estimate = costing.estimate("dall-e-2", {"size": "1024x1024"}, 1)
    above = estimate.nanos + 500_000_000
    caplog.set_level(logging.WARNING, "gateway.billing")
    assert costing.charge("dall-e-2", estimate, reported(above), 1) == above
    assert costing.charge("dall-e-2", estimate, reported(above), 1) == above
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "dall-e-2" in warnings[0].getMessage()
    assert warnings[0].fields["difference_usd"] == "0.5"  # type: ignore[attr-defined]
    text = generate_latest(metrics.registry).decode()
    assert 'gateway_cost_over_estimate_total{model="dall-e-2"} 2.0' in text
    assert 'gateway_cost_over_estimate_usd_total{model="dall-e-2"} 1.0' in text
    assert 'gateway_spend_usd_total{model="dall-e-2"}' in text
