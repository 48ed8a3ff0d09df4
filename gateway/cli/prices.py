"""``gateway prices ...``: the price table costs are estimated with, read where the gateway
reads it (the built-in table with GATEWAY_PRICES_FILE over it), and synced from the
upstream's live price list."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import httpx

from gateway.cli.common import emit, fail, json_option


@click.group()
def prices() -> None:
    """The price table costs are estimated with: list it, sync it from the upstream."""


def _price_settings() -> Any:
    from gateway.settings.errors import SettingsError
    from gateway.settings.loading import load_settings

    try:
        return load_settings()
    except SettingsError as exc:
        fail(str(exc), 2)


def _price_table() -> tuple[Any, Path | None]:
    from gateway.billing.price_file import load_price_table

    settings = _price_settings()
    try:
        table = load_price_table(settings.prices_file, settings.default_image_price_usd)
    except ValueError as exc:
        fail(str(exc), 2)
    return table, settings.prices_file


@prices.command("list")
@json_option
def prices_list(as_json: bool) -> None:
    """Every model's price: the built-in table with GATEWAY_PRICES_FILE over it."""
    from gateway.billing.price_file import price_table_json
    from gateway.cli.price_tables import prices_table

    table, path = _price_table()
    emit(price_table_json(table, path), as_json, prices_table(table, path))


@prices.command("show")
@click.argument("model")
@json_option
def prices_show(model: str, as_json: bool) -> None:
    """One model's price in full (by id or alias)."""
    from gateway.billing.money import format_usd
    from gateway.billing.price_file import price_json
    from gateway.cli.price_tables import price_detail

    table, _ = _price_table()
    price = table.get(model)
    if price is None:
        fail(
            f"no price for {model!r}: it is estimated at the default "
            f"${format_usd(table.default_image_nanos)} per image"
        )
    emit(price_json(price), as_json, price_detail(price))


@prices.command("sync")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The JSON price file to write (default: GATEWAY_PRICES_FILE).",
)
def prices_sync(out: Path | None) -> None:
    """Read the upstream's live prices (GET /v1/models?include=pricing) into the price file.

    The upstream is GATEWAY_UPSTREAM_URL (with GATEWAY_UPSTREAM_API_KEY). An unchanged list
    (ETag) leaves the file as it is; the gateway reads the file at its next start.
    """
    from datetime import UTC, datetime

    from gateway.billing.sync import SyncError, sync_prices
    from gateway.cli.price_tables import sync_text

    settings = _price_settings()
    path = out or settings.prices_file
    if path is None:
        fail("name the price file: --out PATH or GATEWAY_PRICES_FILE")
    keys = settings.upstream_keys
    with httpx.Client(timeout=30, trust_env=False) as client:
        try:
            report = sync_prices(
                client,
                settings.upstream_url,
                path,
                api_key=keys[0] if keys else None,
                now=datetime.now(UTC),
            )
        except (SyncError, ValueError) as exc:
            fail(str(exc))
    click.echo(sync_text(report, settings.upstream_url))
