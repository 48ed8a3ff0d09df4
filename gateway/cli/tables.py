"""Human-readable tables for the CLI."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any


def _when(value: Any) -> str:
    if value is None:
        return "-"
    return datetime.fromtimestamp(float(value), UTC).strftime("%Y-%m-%d %H:%M")


def _limit(value: Any) -> str:
    return "-" if value is None else str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces."""
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)


def _status(key: dict[str, Any]) -> str:
    if key.get("revoked"):
        return "revoked"
    if key.get("disabled"):
        return "disabled"
    return "active"


def key_table(keys: Sequence[dict[str, Any]], *, wide: bool = False) -> str:
    """Keys as a table; ``wide`` adds expiry and models."""
    headers = [
        "ID",
        "NAME",
        "STATUS",
        "PREFIX",
        "CREATED",
        "RPM",
        "IMG/MIN",
        "IMG/DAY",
        "IMG/MONTH",
    ]
    if wide:
        headers += ["EXPIRES", "MODELS"]
    rows = []
    for key in keys:
        row = [
            key["id"],
            key["name"],
            _status(key),
            key.get("prefix", ""),
            _when(key.get("created_at")),
            _limit(key.get("rpm")),
            _limit(key.get("images_per_minute")),
            _limit(key.get("images_per_day")),
            _limit(key.get("images_per_month")),
        ]
        if wide:
            models = key.get("models")
            row += [_when(key.get("expires_at")), ",".join(models) if models else "all"]
        rows.append(row)
    return table(headers, rows)


def usage_table(report: dict[str, Any]) -> str:
    """A usage report: limits, then one row per day."""
    lines = [f"key {report['key_id']} ({report['name']})", ""]
    limit_rows = []
    for name, state in report["limits"].items():
        if state is None:
            limit_rows.append([name, "unlimited", "-", "-"])
        else:
            limit_rows.append(
                [name, str(state["limit"]), str(state["remaining"]), f"{state['reset_seconds']}s"]
            )
    lines.append(table(["LIMIT", "VALUE", "REMAINING", "RESETS IN"], limit_rows))
    lines.append("")
    day_rows = [
        [
            d["day"],
            str(d["requests"]),
            str(d["images"]),
            str(d["cache_hits"]),
            str(d["cached_images"]),
            str(d["refused"]),
        ]
        for d in report["days"]
    ]
    lines.append(
        table(["DAY", "REQUESTS", "IMAGES", "CACHE HITS", "CACHED IMAGES", "REFUSED"], day_rows)
    )
    return "\n".join(lines)
