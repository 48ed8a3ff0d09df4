"""Windows, headers and refusals around the store's admission decision."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.errors import QuotaExceeded, RateLimited
from gateway.limits.admission import Calendar, go_duration, limit_headers, refusal
from gateway.store.types import Decision, LimitState, Outcome


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.012, "12ms"),
        (0.0, "0ms"),
        (1.0, "1s"),
        (1.2, "2s"),
        (59.5, "1m0s"),
        (360, "6m0s"),
        (3725, "1h2m5s"),
    ],
)
def test_go_duration(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text


def test_calendar_utc_day_and_month_ends() -> None:
    now = datetime(2026, 11, 30, 23, 59, 0, tzinfo=UTC).timestamp()
    window = Calendar(lambda: now).window()
    assert (window.day, window.month) == ("2026-11-30", "2026-11")
    assert window.day_ends_in == 60
    assert window.month_ends_in == 60


def test_calendar_other_time_zone() -> None:
    now = datetime(2026, 3, 1, 3, 0, tzinfo=UTC).timestamp()
    window = Calendar(lambda: now, "America/New_York").window()
    assert (window.day, window.month) == ("2026-02-28", "2026-02")
    assert window.day_ends_in == 2 * 3600


def test_one_calendar_rolls_over_as_its_clock_moves() -> None:
    times = [datetime(2026, 11, 30, 23, 59, 0, tzinfo=UTC).timestamp()]
    calendar = Calendar(lambda: times[-1])
    assert calendar.window().day == "2026-11-30"
    times.append(times[-1] + 59.5)
    assert calendar.window().day_ends_in == 0.5
    times.append(times[-1] + 0.5)
    rolled = calendar.window()
    assert (rolled.day, rolled.month) == ("2026-12-01", "2026-12")
    assert rolled.day_ends_in == 86400 and rolled.month_ends_in == 31 * 86400
    times.append(times[0])
    assert calendar.window().day == "2026-11-30"


def test_recent_days() -> None:
    now = datetime(2026, 1, 2, 12, tzinfo=UTC).timestamp()
    assert Calendar(lambda: now).recent_days(3) == ["2026-01-02", "2026-01-01", "2025-12-31"]


def test_headers_for_requests_and_images() -> None:
    decision = Decision(
        Outcome.ADMITTED, requests=LimitState(60, 59, 1.0), images=LimitState(100, 98, 360.0)
    )
    assert limit_headers(decision) == {
        "x-ratelimit-limit-requests": "60",
        "x-ratelimit-remaining-requests": "59",
        "x-ratelimit-reset-requests": "1s",
        "x-ratelimit-limit-images": "100",
        "x-ratelimit-remaining-images": "98",
        "x-ratelimit-reset-images": "6m0s",
    }


def test_rate_refusal_has_retry_after_in_whole_seconds_at_most_60() -> None:
    error = refusal(Decision(Outcome.RATE_LIMITED, "rpm", 0.2), {})
    assert isinstance(error, RateLimited)
    assert error.headers["retry-after"] == "1" and error.code == "rate_limit_exceeded"
    capped = refusal(Decision(Outcome.RATE_LIMITED, "rpm", 500), {})
    assert capped.headers["retry-after"] == "60"


def test_quota_refusal_tells_sdk_not_to_retry() -> None:
    error = refusal(Decision(Outcome.QUOTA_EXCEEDED, "images_per_day", 3600), {})
    assert isinstance(error, QuotaExceeded)
    assert error.headers["x-should-retry"] == "false"
    assert error.type == error.code == "insufficient_quota"


def test_request_larger_than_limit_is_not_retried() -> None:
    error = refusal(Decision(Outcome.RATE_LIMITED, "images_per_minute", None), {})
    assert error.headers["x-should-retry"] == "false" and error.param == "n"


@pytest.mark.parametrize(
    ("level", "limit", "left", "retry", "message"),
    [
        (
            "key",
            "usd_per_day",
            0,
            3600.0,
            "This key's USD budget for the day (usd_per_day) is spent.",
        ),
        (
            "key",
            "usd_per_day",
            24_000_000,
            3600.0,
            "This key's USD budget for the day (usd_per_day) has $0.024 left, less than this "
            "request's estimated $0.026.",
        ),
        (
            "team",
            "usd_per_month",
            10_000_000,
            None,
            "The USD budget of this key's team for the month (usd_per_month) has $0.01 left, "
            "less than this request's estimated $0.026.",
        ),
        (
            "team",
            "usd_per_month",
            0,
            None,
            "The USD budget of this key's team for the month (usd_per_month) is spent.",
        ),
    ],
)
def test_a_money_refusal_says_whether_the_budget_is_spent_or_too_small(
    level: str, limit: str, left: int, retry: float | None, message: str
) -> None:
    decision = Decision(Outcome.QUOTA_EXCEEDED, limit, retry, refused_level=level, budget_left=left)
    error = refusal(decision, {}, 26_000_000)
    assert isinstance(error, QuotaExceeded) and error.message == message
    assert error.status == 429 and error.code == "insufficient_quota"
    assert error.headers["x-should-retry"] == "false"
