"""Limits and quotas as the HTTP layer sees them: windows, headers, refusals.

The decision itself is one atomic store call (:meth:`Store.admit`); this module computes
the calendar window it needs from the injected clock, and turns its answer into the
``x-ratelimit-*`` headers and the OpenAI-shaped 429 errors.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from gateway.billing.money import format_usd
from gateway.errors import GatewayError, QuotaExceeded, RateLimited
from gateway.observability.clock import Clock
from gateway.store.types import MONEY_LIMITS, Decision, LimitState, Window

MAX_RETRY_AFTER = 60


def go_duration(seconds: float) -> str:
    """Format like Go's time.Duration, as OpenAI's reset headers do (``12ms``, ``6m0s``)."""
    if seconds < 1:
        return f"{max(0, math.ceil(seconds * 1000))}ms"
    total = math.ceil(seconds)
    if total < 60:
        return f"{total}s"
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


class Calendar:
    """Computes :class:`Window` values (quota day and month) in the configured time zone."""

    def __init__(self, clock: Clock, timezone: str = "UTC") -> None:
        self._clock = clock
        self._tz = ZoneInfo(timezone)
        self._day: tuple[float, float, str, str, float] = (0.0, 0.0, "", "", 0.0)

    def window(self) -> Window:
        """The window for the clock's current instant.

        The day's boundaries are worked out once per quota day, not once per request.
        """
        now = self._clock()
        start, end, day, month, month_end = self._day
        if not start <= now < end:
            self._day = start, end, day, month, month_end = self._boundaries(now)
        return Window(
            now=now, day=day, month=month, day_ends_in=end - now, month_ends_in=month_end - now
        )

    def _boundaries(self, now: float) -> tuple[float, float, str, str, float]:
        local = datetime.fromtimestamp(now, self._tz)
        day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
        next_day = (day_start + timedelta(days=1, hours=3)).replace(hour=0)
        month_start = day_start.replace(day=1)
        next_month = (month_start + timedelta(days=32)).replace(day=1)
        return (
            day_start.timestamp(),
            next_day.timestamp(),
            local.strftime("%Y-%m-%d"),
            local.strftime("%Y-%m"),
            next_month.timestamp(),
        )

    def recent_days(self, count: int) -> list[str]:
        """The last ``count`` quota days, newest first."""
        local = datetime.fromtimestamp(self._clock(), self._tz)
        return [(local - timedelta(days=i)).strftime("%Y-%m-%d") for i in range(count)]


def limit_headers(decision: Decision) -> dict[str, str]:
    """OpenAI's ``x-ratelimit-*`` headers for requests and images (only for set limits)."""
    headers: dict[str, str] = {}
    if decision.requests is not None:
        headers.update(state_headers("requests", decision.requests))
    if decision.images is not None:
        headers.update(state_headers("images", decision.images))
    return headers


def state_headers(suffix: str, state: LimitState) -> dict[str, str]:
    """The three headers of one limit."""
    return {
        "x-ratelimit-limit-" + suffix: str(state.limit),
        "x-ratelimit-remaining-" + suffix: str(state.remaining),
        "x-ratelimit-reset-" + suffix: go_duration(state.reset),
    }


def refusal(decision: Decision, headers: dict[str, str], estimate_nanos: int = 0) -> GatewayError:
    """The 429 a refused decision answers with, naming the limit and whose it is (the
    key's, or its team's). A USD budget that is not spent but has less left than the
    request's estimate (``estimate_nanos``) says so, with both amounts: "is spent" would
    send the operator looking for spending that did not happen."""
    limit = decision.refused_by or "limit"
    wait = decision.retry_after
    team = decision.refused_level == "team"
    if decision.outcome.value == "quota_exceeded":
        period = "month" if limit.endswith("_per_month") else "day"
        if limit in MONEY_LIMITS:
            whose = "The USD budget of this key's team" if team else "This key's USD budget"
            left = decision.budget_left
            state = "is spent"
            if left:
                state = (
                    f"has ${format_usd(left)} left, less than this request's estimated "
                    f"${format_usd(estimate_nanos)}"
                )
            return QuotaExceeded(f"{whose} for the {period} ({limit}) {state}.", headers=headers)
        whose = "The image quota of this key's team" if team else "This key's image quota"
        return QuotaExceeded(
            f"{whose} for the {period} ({limit}) is used up"
            + (" or smaller than the request." if wait is None else "."),
            headers=headers,
        )
    whose = "this key's team" if team else "this key"
    if wait is None:
        return RateLimited(
            f"The request asks for more than {whose}'s {limit} limit allows at once.",
            param="n" if limit == "images_per_minute" else None,
            headers={**headers, "x-should-retry": "false"},
        )
    retry = min(MAX_RETRY_AFTER, max(1, math.ceil(wait)))
    return RateLimited(
        f"Rate limit reached for {whose} ({limit}). Retry after {retry}s.",
        headers={
            **headers,
            "retry-after": str(retry),
            "retry-after-ms": str(max(1, math.ceil(wait * 1000))),
        },
    )
