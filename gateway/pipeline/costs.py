"""What a request costs: estimated before admission, charged from the upstream's own figure.

The estimate (the price table's figure for the model, size and quality, times the images
asked for) is what admission reserves against money budgets. The charge is what the upstream
reported the call cost; only when it reports nothing is it the price table's figure for the
images really returned. An upstream charging more than the estimate is recorded as charged
(the truth), counted in a metric every time and logged once per model and process, naming
the model, so the operator can fix the price table.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from gateway.billing.money import format_usd
from gateway.billing.prices import Estimate, PriceTable
from gateway.billing.reported import ReportedCost
from gateway.observability.metrics import Metrics

log = logging.getLogger("gateway.billing")


class Costs:
    """Estimates and charges for one gateway process."""

    def __init__(self, prices: PriceTable, metrics: Metrics | None = None) -> None:
        self._prices = prices
        self._metrics = metrics
        self._warned: set[str] = set()

    def estimate(self, model: str, fields: Mapping[str, Any], images: int) -> Estimate:
        """The estimated cost of a prepared request (what admission reserves)."""
        return self._prices.estimate(model, fields, images)

    def charge(
        self, model: str, estimate: Estimate, reported: ReportedCost | None, images: int
    ) -> int:
        """What a call that returned ``images`` images is charged, in nano-dollars."""
        if reported is None or reported.usd_nanos is None:
            charged = estimate.per_image_nanos * images
        else:
            charged = reported.usd_nanos
            if charged > estimate.nanos:
                self._over_estimate(model, estimate.nanos, charged)
        if self._metrics is not None:
            self._metrics.spent(model, charged, estimate.nanos)
        return charged

    def _over_estimate(self, model: str, estimated: int, charged: int) -> None:
        if self._metrics is not None:
            self._metrics.over_estimate(model, charged - estimated)
        if model in self._warned:
            return
        self._warned.add(model)
        log.warning(
            f"the upstream charged more for {model} than the price table estimated; the "
            "charge is recorded as reported (budgets may be exceeded by the difference): "
            "update the price (GATEWAY_PRICES_FILE or gateway prices sync)",
            extra={
                "fields": {
                    "model": model,
                    "estimated_usd": format_usd(estimated),
                    "charged_usd": format_usd(charged),
                    "difference_usd": format_usd(charged - estimated),
                }
            },
        )
