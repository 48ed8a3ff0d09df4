"""``gateway teams ...``, ``gateway keys ... --team`` and ``gateway usage --team`` against a
running gateway, by team name as an operator types them."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import FakeUpstream, Gateway
from tests.e2e.test_lifecycle import cli

pytestmark = pytest.mark.e2e


def test_an_operator_runs_a_team_from_the_cli(gateway: Gateway, upstream: FakeUpstream) -> None:
    upstream.control(usd_per_image=0.026)
    url = gateway.url
    name = f"cli-team-{gateway.mode}"
    made = cli("teams", "create", "--name", name, "--usd-per-day", "2.50", "--rpm", "60", url=url)
    assert made.returncode == 0, made.stderr
    assert name in made.stdout and "$2.5" in made.stdout and "USD/DAY" in made.stdout
    listed = json.loads(cli("teams", "list", "--json", url=url).stdout)
    team = next(t for t in listed["data"] if t["name"] == name)
    assert (team["usd_per_day"], team["rpm"]) == ("2.5", 60)

    key = cli(
        "keys",
        "create",
        "--name",
        f"{name}-app",
        "--team",
        name,
        "--usd-per-day",
        "0.3",
        "--json",
        url=url,
    )
    assert key.returncode == 0, key.stderr
    created = json.loads(key.stdout)
    assert created["team_id"] == team["id"] and created["usd_per_day"] == "0.3"
    assert gateway.post({"model": "dall-e-2", "prompt": name}, created["key"]).status_code == 201

    usage = cli("usage", "--team", name, url=url)
    assert usage.returncode == 0, usage.stderr
    assert usage.stdout.startswith(f"team {team['id']} ({name})")
    assert "usd_per_day" in usage.stdout and "$2.474" in usage.stdout and "$0.026" in usage.stdout
    as_json = json.loads(cli("usage", "--team", team["id"], "--json", url=url).stdout)
    assert as_json["totals"]["spend_usd"] == "0.026"

    updated = cli("teams", "update", name, "--disable", "--unlimited", "rpm", "--json", url=url)
    changed = json.loads(updated.stdout)
    assert changed["disabled"] is True and changed["rpm"] is None
    shown = cli("teams", "show", name, url=url)
    assert "disabled" in shown.stdout

    refused = cli("teams", "delete", name, url=url)
    assert refused.returncode == 1 and "409" in refused.stderr and "revoke" in refused.stderr
    moved = cli("keys", "update", created["id"], "--team", "none", "--json", url=url)
    assert json.loads(moved.stdout)["team_id"] is None
    deleted = cli("teams", "delete", name, url=url)
    assert deleted.returncode == 0 and f"deleted team {team['id']}" in deleted.stdout
    gone = cli("usage", "--team", name, url=url)
    assert gone.returncode == 1 and "no team has the id or name" in gone.stderr
    both = cli("usage", created["id"], "--team", "x", url=url)
    assert both.returncode == 1 and "name a KEY, or a team" in both.stderr
