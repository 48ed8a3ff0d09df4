"""The CLI's tables: what an operator reads in a terminal."""

from __future__ import annotations

from typing import Any

from gateway.cli.tables import key_table, team_table, usage_table
from gateway.store.types import KeyRecord, Limits, TeamRecord
from gateway.web.admin_bodies import render_key, render_team

NOW = 1_800_000_000.0


def shown(**fields: Any) -> dict[str, Any]:
    record = KeyRecord(
        id="key_1", name="mobile-app", key_hash="h", prefix="gwk_abcd****", created_at=NOW
    )
    for name, value in fields.items():
        object.__setattr__(record, name, value)
    return render_key(record, NOW)


def cells(text: str) -> dict[str, str]:
    header, row = text.splitlines()
    names = header.split()
    starts = [header.index(name) for name in names]
    ends = [*starts[1:], None]
    return {n: row[s:e].strip() for n, s, e in zip(names, starts, ends, strict=True)}


def test_the_key_list_shows_status_expiry_allow_list_and_every_limit() -> None:
    table = key_table(
        [shown(expires_at=NOW - 1, models=("dall-e-2", "flux/schnell"), limits=Limits(rpm=60))]
    )
    row = cells(table)
    assert row["STATUS"] == "expired"
    assert row["EXPIRES"] == "2027-01-15 07:59" and row["MODELS"] == "dall-e-2,flux/schnell"
    assert (row["RPM"], row["IMAGES/MINUTE"], row["IMAGES/DAY"], row["IMAGES/MONTH"]) == (
        "60",
        "-",
        "-",
        "-",
    )


def test_a_key_without_expiry_or_allow_list_says_so() -> None:
    row = cells(key_table([shown()]))
    assert (row["STATUS"], row["EXPIRES"], row["MODELS"]) == ("active", "never", "all")
    assert cells(key_table([shown(models=())]))["MODELS"] == "none"


def test_usage_resets_are_human_durations_like_the_headers() -> None:
    report = {
        "key_id": "key_1",
        "name": "mobile-app",
        "days": [],
        "limits": {
            "rpm": {"limit": 60, "remaining": 59, "reset_seconds": 0.5},
            "images_per_day": {"limit": 100, "remaining": 90, "reset_seconds": 59750.754},
            "images_per_month": None,
        },
    }
    text = usage_table(report)
    assert "16h35m51s" in text and "500ms" in text
    assert "59750" not in text


def test_money_limits_show_in_dollars_and_keys_their_team() -> None:
    row = cells(key_table([shown(limits=Limits(usd_per_day=1_500_000_000), team_id="team_1")]))
    assert (row["TEAM"], row["USD/DAY"], row["USD/MONTH"]) == ("team_1", "$1.5", "-")
    assert cells(key_table([shown()]))["TEAM"] == "-"


def test_the_team_list_shows_status_models_and_every_limit() -> None:
    team = TeamRecord(
        "team_1", "design", NOW, disabled=True, limits=Limits(usd_per_month=12_000_000_000)
    )
    row = cells(team_table([render_team(team)]))
    assert (row["ID"], row["NAME"], row["STATUS"], row["MODELS"]) == (
        "team_1",
        "design",
        "disabled",
        "all",
    )
    assert (row["USD/MONTH"], row["RPM"]) == ("$12", "-")


def test_a_team_usage_shows_spend_and_budgets() -> None:
    report = {
        "team_id": "team_1",
        "name": "design",
        "days": [
            {
                "day": "2027-01-15",
                "requests": 3,
                "images": 2,
                "spend_usd": "0.1",
                "cache_hits": 1,
                "cached_images": 1,
                "refused": 0,
            }
        ],
        "limits": {"usd_per_day": {"limit": "1", "remaining": "0.9", "reset_seconds": 60.0}},
    }
    text = usage_table(report)
    assert text.startswith("team team_1 (design)")
    assert "$0.9" in text and "$0.1" in text and "SPEND" in text


def test_a_key_in_a_team_shows_the_teams_limits_and_budgets_as_the_teams() -> None:
    report = {
        "key_id": "key_1",
        "name": "mobile-app",
        "days": [],
        "limits": {
            "usd_per_day": {"limit": "0.3", "remaining": "0.25", "reset_seconds": 60.0},
            "rpm": None,
        },
        "team": {
            "team_id": "team_1",
            "name": "design",
            "limits": {
                "usd_per_day": {"limit": "1", "remaining": "0.75", "reset_seconds": 60.0},
                "usd_per_month": {"limit": "20", "remaining": "19.5", "reset_seconds": 3600.0},
                "rpm": None,
            },
        },
    }
    blocks = usage_table(report).split("\n\n")
    assert blocks[0] == "key key_1 (mobile-app)"
    assert "$0.25" in blocks[1] and "$0.75" not in blocks[1]
    title, header, *rows = blocks[2].splitlines()
    assert title == "team team_1 (design): its limits bind this key too"
    assert header.split()[:2] == ["TEAM", "LIMIT"]
    assert [row.split() for row in rows] == [
        ["usd_per_day", "$1", "$0.75", "1m0s"],
        ["usd_per_month", "$20", "$19.5", "1h0m0s"],
        ["rpm", "unlimited", "-", "-"],
    ]
    assert blocks[3].startswith("DAY")


def test_a_key_without_a_team_shows_no_team_block() -> None:
    report = {"key_id": "key_1", "name": "mobile-app", "days": [], "limits": {"rpm": None}}
    assert "team" not in usage_table(report)
