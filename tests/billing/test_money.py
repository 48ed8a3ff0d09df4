"""Exact money: parsing the upstream's USD figures, formatting them, sums that stay exact."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.billing.money import (
    MAX_NANOS,
    InvalidAmount,
    _parse_decimal,
    format_usd,
    parse_usd,
    rate_nanos,
    to_decimal,
)

# Costs as the upstream reports them: up to nine decimals, well under a thousand dollars.
costs = st.decimals(min_value=0, max_value=1000, places=9, allow_nan=False, allow_infinity=False)


@pytest.mark.parametrize(
    ("value", "nanos"),
    [
        ("0.001240000", 1_240_000),
        ("0.0536705", 53_670_500),
        (0.0536705, 53_670_500),
        ("0.095225", 95_225_000),
        (2, 2_000_000_000),
        (0, 0),
        ("0", 0),
        (Decimal("0.05"), 50_000_000),
        (" 0.5 ", 500_000_000),
        ("0.0000000005", 1),
        ("0.00000000049", 0),
        ("1.0000000015", 1_000_000_002),
        ("9007199.254740991", MAX_NANOS),
    ],
)
def test_parse_usd_is_exact_to_the_nano_dollar(value: object, nanos: int) -> None:
    assert parse_usd(value) == nanos


@pytest.mark.parametrize(
    "value",
    [
        "-0.01",
        -1,
        "abc",
        "",
        "NaN",
        "nan",
        "Infinity",
        "1e3",
        "0x10",
        "1_000",
        "+1",
        "1.2.3",
        True,
        None,
        [],
        float("nan"),
        float("inf"),
        "9007199.254740992",
        10**30,
    ],
)
def test_parse_usd_refuses_what_is_not_a_usable_amount(value: object) -> None:
    with pytest.raises(InvalidAmount):
        parse_usd(value)


@pytest.mark.parametrize(
    ("nanos", "text"),
    [
        (0, "0"),
        (50_000_000, "0.05"),
        (1_000_000_000, "1"),
        (53_670_500, "0.0536705"),
        (1, "0.000000001"),
        (12_345_000_000_000, "12345"),
        (-50_000_000, "-0.05"),
    ],
)
def test_format_usd_is_a_plain_exact_decimal(nanos: int, text: str) -> None:
    assert format_usd(nanos) == text
    assert to_decimal(nanos) == Decimal(text)


@given(st.lists(costs, max_size=200))
def test_sum_of_parsed_costs_is_the_decimal_sum(values: list[Decimal]) -> None:
    """Strings (headers) and floats (JSON bodies read by orjson) alike."""
    exact = sum(values, Decimal(0)).quantize(Decimal("1e-9"))
    assert to_decimal(sum(parse_usd(f"{v:f}") for v in values)) == exact
    assert to_decimal(sum(parse_usd(float(v)) for v in values)) == exact
    micro = exact.quantize(Decimal("1e-6"), ROUND_HALF_UP)
    assert (
        Decimal(format_usd(sum(parse_usd(f"{v:f}") for v in values))).quantize(
            Decimal("1e-6"), ROUND_HALF_UP
        )
        == micro
    )


@given(st.decimals(min_value=0, max_value=1000, places=15, allow_nan=False))
def test_more_than_nine_decimals_round_half_up(value: Decimal) -> None:
    expected = int((value * 10**9).quantize(Decimal(1), ROUND_HALF_UP))
    assert parse_usd(f"{value:f}") == expected


@given(st.integers(min_value=0, max_value=MAX_NANOS))
def test_format_then_parse_gives_the_same_amount(nanos: int) -> None:
    assert parse_usd(format_usd(nanos)) == nanos


def test_rates_round_up_to_the_nano_dollar() -> None:
    assert rate_nanos(Decimal("0.025"), Decimal("0.786432"), Decimal(1)) == 19_660_800
    assert rate_nanos(Decimal(1), Decimal(1), Decimal(3)) == 333_333_334
    assert rate_nanos(Decimal("0.000000001"), Decimal("0.5"), Decimal(1)) == 1
    assert rate_nanos(Decimal(40), Decimal(4160), Decimal(1_000_000)) == 166_400_000


plain_decimals = st.builds(
    lambda space, whole, fraction, trail: f"{space}{whole}{fraction}{trail}",
    st.sampled_from(["", " ", "\t"]),
    st.from_regex(r"[0-9]{1,16}", fullmatch=True),
    st.one_of(st.just(""), st.from_regex(r"\.[0-9]{1,40}", fullmatch=True)),
    st.sampled_from(["", " ", "\n"]),
)


@given(plain_decimals)
def test_plain_decimal_strings_read_as_the_decimal_path_reads_them(text: str) -> None:
    """Headers take the integer fast path; it must give the Decimal path's nano-dollars (half-up
    past nine decimals) and refuse what it refuses (above the largest amount)."""
    try:
        expected: int | str = _parse_decimal(text)
    except InvalidAmount as exc:
        expected = str(exc)
    try:
        got: int | str = parse_usd(text)
    except InvalidAmount as exc:
        got = str(exc)
    assert got == expected


@given(st.text(alphabet="0123456789.-+eE ", max_size=24))
def test_any_numeric_looking_string_reads_as_the_decimal_path_reads_it(text: str) -> None:
    outcomes: list[int | str] = []
    for parse in (parse_usd, _parse_decimal):
        try:
            outcomes.append(parse(text))
        except InvalidAmount as exc:
            outcomes.append(str(exc))
    assert outcomes[0] == outcomes[1]
