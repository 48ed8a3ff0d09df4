"""Human-readable tables for the CLI."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from gateway.limits.admission import go_duration
from gateway.store.types import LIMIT_NAMES, MONEY_LIMITS


def _when(value: Any) -> str:
    if value is None:
        return "-"
    return datetime.fromtimestamp(float(value), UTC).strftime("%Y-%m-%d %H:%M")


def _amount(name: str, value: Any) -> str:
    """A limit's value (or what is left of it) as shown: money with a dollar sign."""
    return f"${value}" if name in MONEY_LIMITS else str(value)


def _limit(name: str, value: Any) -> str:
    return "-" if value is None else _amount(name, value)


def _models(models: Any) -> str:
    return "all" if models is None else ",".join(models) or "none"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces."""
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)


def limit_column(name: str) -> str:
    """A limit's column title: ``images_per_day`` is ``IMAGES/DAY``."""
    return name.upper().replace("_PER_", "/")


def key_table(keys: Sequence[dict[str, Any]]) -> str:
    """Keys as a table: status (``expired`` included), limits, expiry and allow-list."""
    headers = ["ID", "NAME", "TEAM", "STATUS", "PREFIX", "CREATED", "EXPIRES", "MODELS"]
    headers += [limit_column(name) for name in LIMIT_NAMES]
    rows = []
    for key in keys:
        row = [
            key["id"],
            key["name"],
            key.get("team_id") or "-",
            str(key.get("status", "")),
            key.get("prefix", ""),
            _when(key.get("created_at")),
            _when(key.get("expires_at")) if key.get("expires_at") is not None else "never",
            _models(key.get("models")),
        ]
        row += [_limit(name, key.get(name)) for name in LIMIT_NAMES]
        rows.append(row)
    return table(headers, rows)


def team_table(teams: Sequence[dict[str, Any]]) -> str:
    """Teams as a table: status, the models they narrow their keys to, every limit."""
    headers = ["ID", "NAME", "STATUS", "CREATED", "MODELS"]
    headers += [limit_column(name) for name in LIMIT_NAMES]
    rows = []
    for team in teams:
        row = [
            team["id"],
            team["name"],
            "disabled" if team.get("disabled") else "active",
            _when(team.get("created_at")),
            _models(team.get("models")),
        ]
        row += [_limit(name, team.get(name)) for name in LIMIT_NAMES]
        rows.append(row)
    return table(headers, rows)


def _limit_table(limits: dict[str, Any], title: str = "LIMIT") -> str:
    """Each limit's value, what is left of it and when it resets."""
    rows = []
    for name, state in limits.items():
        if state is None:
            rows.append([name, "unlimited", "-", "-"])
        else:
            rows.append(
                [
                    name,
                    _amount(name, state["limit"]),
                    _amount(name, state["remaining"]),
                    go_duration(float(state["reset_seconds"])),
                ]
            )
    return table([title, "VALUE", "REMAINING", "RESETS IN"], rows)


def usage_table(report: dict[str, Any]) -> str:
    """A usage report of a key or a team: limits and budgets, then one row per day. A key
    in a team also shows the team's limits and budgets, which bind the key too."""
    kind = "team" if "team_id" in report else "key"
    lines = [f"{kind} {report[f'{kind}_id']} ({report['name']})", ""]
    lines += [_limit_table(report["limits"]), ""]
    team = report.get("team")
    if team is not None:
        lines.append(f"team {team['team_id']} ({team['name']}): its limits bind this key too")
        lines += [_limit_table(team["limits"], "TEAM LIMIT"), ""]
    day_rows = [
        [
            d["day"],
            str(d["requests"]),
            str(d["images"]),
            f"${d.get('spend_usd', '0')}",
            str(d["cache_hits"]),
            str(d["cached_images"]),
            str(d["refused"]),
        ]
        for d in report["days"]
    ]
    lines.append(
        table(
            ["DAY", "REQUESTS", "IMAGES", "SPEND", "CACHE HITS", "CACHED IMAGES", "REFUSED"],
            day_rows,
        )
    )
    return "\n".join(lines)
