"""What ``gateway prices`` prints: the price table, one model's price, a sync's report."""

from __future__ import annotations

from pathlib import Path

from gateway.billing.money import format_usd
from gateway.billing.prices import ModelPrice, PriceTable
from gateway.billing.sync import SyncReport
from gateway.cli.tables import table


def prices_table(prices: PriceTable, prices_file: Path | None) -> str:
    """Every model's price, then the default price and the operator file in use."""
    rows = [
        [p.model, ", ".join(p.aliases) or "-", p.summary(), p.source or "-"]
        for p in prices.models()
    ]
    return "\n".join(
        [
            table(["MODEL", "ALIASES", "PRICE", "SOURCE"], rows),
            "",
            f"default (models without a price): ${format_usd(prices.default_image_nanos)}/image",
            f"operator file: {prices_file or '(none: the built-in table only)'}",
        ]
    )


def price_detail(price: ModelPrice) -> str:
    """One model's price in full: every unit, or every variant with its conditions."""
    lines = [
        f"model:   {price.model}",
        f"aliases: {', '.join(price.aliases) or '-'}",
        f"kind:    {price.kind}",
        f"source:  {price.source or '-'}",
    ]
    if price.kind == "fixed":
        rows = [[u.name or "-", u.measure, u.text()] for u in price.units]
        lines += ["", table(["UNIT", "MEASURE", "PRICE"], rows)]
    elif price.kind == "variants":
        dimensions = list(price.dimensions) or sorted(
            {name for v in price.variants for name, _ in v.when}
        )
        rows = [
            [*(dict(v.when).get(d, "*") for d in dimensions), v.rate.text()] for v in price.variants
        ]
        lines += ["", table([*(d.upper() for d in dimensions), "PRICE"], rows)]
    else:
        lines += ["", "not quotable ahead: estimated at the default per-image price"]
    return "\n".join(lines)


def sync_text(report: SyncReport, upstream: str) -> str:
    """What a sync changed, in lines a person reads."""
    if report.status == "not_modified":
        return (
            f"prices unchanged at {upstream} (ETag {report.etag}): "
            f"{report.path} left as it is ({report.models} models)"
        )
    lines = [f"{report.models} models written to {report.path} from {upstream}"]
    lines += [f"  added    {model}" for model in report.added]
    lines += [f"  changed  {model}: {old} -> {new}" for model, old, new in report.changed]
    lines += [f"  removed  {model}" for model in report.removed]
    lines += [f"  skipped  {model}: {why}" for model, why in report.skipped]
    if not (report.added or report.changed or report.removed):
        lines.append("  no price changed")
    lines.append("The gateway reads it at its next start (GATEWAY_PRICES_FILE).")
    return "\n".join(lines)
