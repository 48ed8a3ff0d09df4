"""Keys and teams by name on the CLI against a running gateway: lookups that leave no 404 in
the gateway's books, the request log filtered by name, and a key's usage with its team's
budgets."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.keys.material import generate_key, hash_key
from tests.e2e.conftest import FakeUpstream, Gateway, GatewayStarter
from tests.e2e.test_journal import wait_logged
from tests.e2e.test_lifecycle import cli

pytestmark = pytest.mark.e2e
KEY_SECRET = "k" * 32


def not_found(gateway: Gateway) -> float:
    """How many requests the gateway has answered 404, by its own metrics."""
    text = httpx.get(f"{gateway.url}/metrics", timeout=5).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "gateway_requests_total" and sample.labels["status"] == "404"
    )


def team_and_key(gateway: Gateway, **team: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A new team and a new key in it, each with a name no other test uses."""
    name = f"names-{uuid.uuid4().hex[:8]}"
    made = gateway.admin("POST", "/admin/teams", json={"name": f"{name}-team", **team})
    assert made.status_code == 201, made.text
    return made.json(), gateway.create_key(name=name, team_id=made.json()["id"])


def test_lookups_by_name_leave_no_404_behind(gateway: Gateway, upstream: FakeUpstream) -> None:
    team, key = team_and_key(gateway)
    before = not_found(gateway)
    for args in (
        ["keys", "show", key["name"]],
        ["keys", "update", key["name"], "--rpm", "30"],
        ["usage", key["name"]],
        ["teams", "show", team["name"]],
        ["usage", "--team", team["name"]],
        ["requests", "--key", key["name"], "--team", team["name"]],
        ["keys", "show", key["id"]],
        ["teams", "show", team["id"]],
    ):
        done = cli(*args, url=gateway.url)
        assert done.returncode == 0, (args, done.stderr)
    assert not_found(gateway) == before


def test_the_request_log_is_filtered_by_key_and_team_name(
    gateway: Gateway, upstream: FakeUpstream
) -> None:
    team, key = team_and_key(gateway)
    other = gateway.create_key(name=f"{key['name']}-other")
    answers = [gateway.post({"model": "dall-e-2", "prompt": key["name"]}, key["key"])]
    gateway.post({"model": "dall-e-2", "prompt": other["name"]}, other["key"])
    wait_logged(gateway, key["id"], 1)
    wait_logged(gateway, other["id"], 1)
    ids = [answer.headers["x-request-id"] for answer in answers]
    for option, ref in (("--key", key["name"]), ("--team", team["name"])):
        shown = cli("requests", option, ref, url=gateway.url)
        assert shown.returncode == 0, shown.stderr
        assert [row.split()[-1] for row in shown.stdout.splitlines()[1:]] == ids
    for option, kind in (("--key", "key"), ("--team", "team")):
        missing = cli("requests", option, f"{key['name']}-nobody", url=gateway.url)
        assert missing.returncode == 1 and missing.stdout == ""
        assert missing.stderr == (f"gateway: no {kind} has the id or name '{key['name']}-nobody'\n")


def test_a_keys_usage_shows_its_teams_budgets(gateway: Gateway, upstream: FakeUpstream) -> None:
    upstream.control(usd_per_image=0.25)
    team, key = team_and_key(gateway, usd_per_day="1", images_per_day=10)
    assert gateway.post({"model": "dall-e-2", "prompt": key["name"]}, key["key"]).status_code == 201
    shown = cli("usage", key["name"], url=gateway.url)
    assert shown.returncode == 0, shown.stderr
    title, header, *rows = shown.stdout.split("\n\n")[2].splitlines()
    assert title == f"team {team['id']} ({team['name']}): its limits bind this key too"
    assert header.split()[:2] == ["TEAM", "LIMIT"]
    left = {row.split()[0]: row.split()[1:3] for row in rows}
    assert left["usd_per_day"] == ["$1", "$0.75"] and left["images_per_day"] == ["10", "9"]


def test_a_declared_keys_id_is_found_after_the_names(
    start_gateway: GatewayStarter, upstream: FakeUpstream, tmp_path: Path
) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(
        "[[keys]]\n"
        'id = "ci-bot"\n'
        'name = "the CI"\n'
        f'key_hash = "{hash_key(KEY_SECRET.encode(), generate_key())}"\n'
    )
    gateway = start_gateway("embedded", GATEWAY_CONFIG=str(config), GATEWAY_KEY_SECRET=KEY_SECRET)
    named = gateway.create_key(name="ci-bot")
    by_name = cli("keys", "show", "ci-bot", "--json", url=gateway.url)
    assert by_name.returncode == 0, by_name.stderr
    assert f'"id": "{named["id"]}"' in by_name.stdout
    assert cli("keys", "update", "ci-bot", "--name", "renamed", url=gateway.url).returncode == 0
    declared = cli("keys", "show", "ci-bot", "--json", url=gateway.url)
    assert declared.returncode == 0, declared.stderr
    assert '"id": "ci-bot"' in declared.stdout and '"declared": true' in declared.stdout
