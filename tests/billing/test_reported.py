"""Reading what a call cost from an upstream answer: header first, then the body."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from gateway.billing.reported import NOT_REPORTED, read_cost


def body(usd: Any = None, credits: Any = None) -> dict[str, Any]:
    usage: dict[str, Any] = {}
    if usd is not None:
        usage["usd_spent"] = usd
    if credits is not None:
        usage["credits_used"] = credits
    return {"data": [{"url": "https://x"}], "meta": {"usage": usage}}


def test_the_header_wins_over_the_body() -> None:
    headers = httpx.Headers(
        {
            "X-AIMLAPI-USD-SPENT": "0.053670500",
            "x-aimlapi-credits-used": "107341",
            "x-inference-id": "8d3c-41aa",
        }
    )
    cost = read_cost(headers, body(0.07, 140000))
    assert (cost.usd_nanos, cost.credits, cost.inference_id, cost.source) == (
        53_670_500,
        107_341,
        "8d3c-41aa",
        "header",
    )
    assert cost.reported


def test_the_body_is_read_when_the_header_is_absent() -> None:
    cost = read_cost({}, body(0.095225, 190450))
    assert (cost.usd_nanos, cost.credits, cost.source) == (95_225_000, 190_450, "body")
    assert cost.inference_id is None


@pytest.mark.parametrize("bad", ["abc", "-0.01", "NaN", "", "1e-3", "0,05"])
def test_an_unreadable_header_falls_back_to_the_body_and_is_logged(
    bad: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="gateway.billing"):
        cost = read_cost({"x-aimlapi-usd-spent": bad}, body("0.04"))
    assert (cost.usd_nanos, cost.source) == (40_000_000, "body")
    [record] = caplog.records
    assert record.fields["field"] == "x-aimlapi-usd-spent"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "answer",
    [
        None,
        "not json",
        [1, 2],
        {"data": []},
        {"meta": "x"},
        {"meta": {"usage": [1]}},
        body(True),
        body(-0.5),
        body("free"),
        body(float("inf")),
        body({"usd": 1}),
    ],
)
def test_nothing_readable_is_not_reported_and_never_raises(answer: Any) -> None:
    cost = read_cost({"x-aimlapi-usd-spent": "-1"}, answer)
    assert cost.usd_nanos is None
    assert cost.source is None
    assert not cost.reported


def test_no_cost_at_all() -> None:
    assert read_cost({}, {"data": []}) == NOT_REPORTED


@pytest.mark.parametrize(
    ("header", "in_body", "expected"),
    [
        ("12", None, 12),
        ("1.5", 7, 7),
        (None, 7.0, 7),
        (None, -3, None),
        (None, True, None),
        ("x", "12", 12),
    ],
)
def test_credits(header: str | None, in_body: Any, expected: int | None) -> None:
    headers = {"x-aimlapi-credits-used": header} if header is not None else {}
    assert read_cost(headers, body(credits=in_body)).credits == expected


@pytest.mark.parametrize("bad", ["has space", "new\nline", "x" * 257, ""])
def test_an_unusable_inference_id_is_dropped(bad: str) -> None:
    assert read_cost({"x-inference-id": bad}, None).inference_id is None
