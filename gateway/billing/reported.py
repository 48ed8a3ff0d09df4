"""What an upstream answer says the call cost: USD, credits and the id the charge is under.

The AIML API reports the cost of every answer in ``x-aimlapi-usd-spent`` (USD),
``x-aimlapi-credits-used`` (integer credits) and ``x-inference-id``, and the same figures in
the body's ``meta.usage.{usd_spent, credits_used}``. The header wins; the body is read when
the header is absent or unreadable. A value that is not a non-negative number is "not
reported" (and logged, naming the field): it never fails the request.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from gateway.billing.money import InvalidAmount, parse_usd

USD_HEADER = "x-aimlapi-usd-spent"
CREDITS_HEADER = "x-aimlapi-credits-used"
INFERENCE_HEADER = "x-inference-id"
_CREDITS = re.compile(r"[0-9]{1,18}")
_INFERENCE_ID = re.compile(r"[!-~]{1,256}")

log = logging.getLogger("gateway.billing")


@dataclass(frozen=True, slots=True)
class ReportedCost:
    """The upstream's own account of one call; ``None`` fields were not reported (or could
    not be read)."""

    usd_nanos: int | None
    credits: int | None
    inference_id: str | None
    source: Literal["header", "body"] | None

    @property
    def reported(self) -> bool:
        """True when the upstream said what the call cost in USD."""
        return self.usd_nanos is not None


NOT_REPORTED = ReportedCost(None, None, None, None)


def _unreadable(field: str, value: object, why: str) -> None:
    log.warning(
        "the upstream reported a cost the gateway cannot read; treated as not reported",
        extra={"fields": {"field": field, "value": repr(value)[:64], "reason": why}},
    )


def _usd(field: str, value: object) -> int | None:
    if value is None:
        return None
    try:
        return parse_usd(value)
    except InvalidAmount as exc:
        _unreadable(field, value, str(exc))
        return None


def _credits(field: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and _CREDITS.fullmatch(value.strip()):
        return int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    _unreadable(field, value, "not a non-negative integer")
    return None


def _usage(body: Any) -> Mapping[str, Any]:
    meta = body.get("meta") if isinstance(body, dict) else None
    usage = meta.get("usage") if isinstance(meta, dict) else None
    return usage if isinstance(usage, dict) else {}


def read_cost(headers: Mapping[str, str], body: Any) -> ReportedCost:
    """The cost an upstream answer reports.

    ``headers`` is the answer's headers, looked up by lower-case name (``httpx.Headers``
    is case-insensitive as it is); ``body`` is the parsed JSON body as the upstream sent it
    (not normalised), or anything else when it is not JSON.
    """
    usd = _usd(USD_HEADER, headers.get(USD_HEADER))
    source: Literal["header", "body"] | None = "header" if usd is not None else None
    credits = _credits(CREDITS_HEADER, headers.get(CREDITS_HEADER))
    if usd is None or credits is None:
        # The body is looked at only for what the headers did not say.
        usage = _usage(body)
        if usd is None:
            usd = _usd("meta.usage.usd_spent", usage.get("usd_spent"))
            source = "body" if usd is not None else None
        if credits is None:
            credits = _credits("meta.usage.credits_used", usage.get("credits_used"))
    inference_id = headers.get(INFERENCE_HEADER)
    if inference_id is not None and not _INFERENCE_ID.fullmatch(inference_id):
        _unreadable(INFERENCE_HEADER, inference_id, "not 1-256 visible ASCII characters")
        inference_id = None
    return ReportedCost(usd, credits, inference_id, source)
