"""Fixtures of the billing tests: price files written by the test, and (for ``prices sync``
and the gateway that reads its file) the real fake upstream and gateway processes of the
end-to-end tests."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from gateway.billing.price_file import load_price_table
from gateway.billing.prices import PriceTable
from tests.e2e.conftest import start_gateway, upstream

__all__ = ["start_gateway", "upstream"]

PricesFrom = Callable[[str, str], PriceTable]


@pytest.fixture
def prices_from(tmp_path: Path) -> PricesFrom:
    """The price table with an operator file of the given text (suffix ``.toml``/``.json``)."""

    def load(text: str, suffix: str = ".toml") -> PriceTable:
        path = tmp_path / f"prices{suffix}"
        path.write_text(text)
        return load_price_table(path, Decimal("0.20"))

    return load
