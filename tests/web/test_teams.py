"""Teams and money in process: the admin API's answers and refusals, what a key of a team may
do, and what every generation answer says it cost."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.web.admin_bodies import TeamList, TeamObject
from tests.web.conftest import InProcess, Starter


def team(gw: InProcess, **body: Any) -> dict[str, Any]:
    body.setdefault("name", "design")
    response = gw.admin("POST", "/admin/teams", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_a_team_answers_in_the_documented_shape_and_money_reads_exactly(start: Starter) -> None:
    gw = start()
    created = team(gw, usd_per_day=0.1, usd_per_month="12.345678900", images_per_day=10)
    TeamObject.model_validate(created)
    assert created["usd_per_day"] == "0.1" and created["usd_per_month"] == "12.3456789"
    assert created["images_per_day"] == 10 and created["models"] is None
    TeamList.model_validate(gw.admin("GET", "/admin/teams").json())
    changed = gw.admin(
        "PATCH", f"/admin/teams/{created['id']}", json={"usd_per_day": None, "name": "ops"}
    ).json()
    assert (changed["usd_per_day"], changed["name"]) == (None, "ops")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"name": "x", "usd_per_day": 0.0000000001}, "usd_per_day"),
        ({"name": "x", "usd_per_day": True}, "usd_per_day"),
        ({"name": "x", "usd_per_month": 10_000_000}, "usd_per_month"),
        ({"name": "x", "models": ["dall-e-9"]}, "models"),
        ({"name": "x", "colour": "red"}, "colour"),
        ({"name": None}, "name"),
    ],
)
def test_bad_team_bodies_are_400_naming_the_field(
    start: Starter, body: dict[str, Any], param: str
) -> None:
    answer = start().admin("POST", "/admin/teams", json=body)
    assert answer.status_code == 400 and answer.json()["error"]["param"] == param


def test_unknown_teams_are_404_and_a_key_cannot_join_one(start: Starter) -> None:
    gw = start()
    for method in ("GET", "PATCH", "DELETE"):
        answer = gw.admin(method, "/admin/teams/team_nope", json={})
        assert answer.status_code == 404
    assert gw.admin("GET", "/admin/teams/team_nope/usage").status_code == 404
    key = gw.create_key()
    moved = gw.admin("PATCH", f"/admin/keys/{key['id']}", json={"team_id": "team_nope"})
    assert moved.status_code == 400 and moved.json()["error"]["param"] == "team_id"


def test_every_answer_says_what_it_cost_and_hits_cost_nothing(start: Starter) -> None:
    gw = start()
    gw.upstream.headers = {"x-aimlapi-usd-spent": "0.031000000", "x-inference-id": "inf-9"}
    created = gw.create_key(usd_per_day=1)
    miss = gw.generate(created["key"])
    hit = gw.generate(created["key"])
    assert (miss.headers["x-cache"], miss.headers["x-gateway-cost-usd"]) == ("MISS", "0.031")
    assert (hit.headers["x-cache"], hit.headers["x-gateway-cost-usd"]) == ("HIT", "0")
    refused = gw.generate("gwk_" + "x" * 43)
    assert refused.status_code == 401 and refused.headers["x-gateway-cost-usd"] == "0"
    usage = gw.admin("GET", f"/admin/keys/{created['id']}/usage").json()
    assert usage["totals"]["spend_usd"] == "0.031"
    assert usage["limits"]["usd_per_day"] == {
        "limit": "1",
        "remaining": "0.969",
        "reset_seconds": usage["limits"]["usd_per_day"]["reset_seconds"],
    }


def test_a_disabled_team_refuses_its_keys_and_its_models_narrow_theirs(start: Starter) -> None:
    gw = start()
    created = team(gw, models=["dall-e-2", "dall-e-3"])
    key = gw.create_key(team_id=created["id"], models=["dall-e-3", "flux/schnell"])
    assert key["team_id"] == created["id"]
    narrowed = gw.generate(key["key"], model="flux/schnell")
    assert narrowed.status_code == 403 and "team" in narrowed.json()["error"]["message"]
    own = gw.generate(key["key"], model="dall-e-2")
    assert own.status_code == 403 and "This key may not" in own.json()["error"]["message"]
    listed = gw.client.get("/v1/models", headers={"authorization": f"Bearer {key['key']}"})
    assert [m["id"] for m in listed.json()["data"]] == ["dall-e-3"]
    assert gw.generate(key["key"], model="dall-e-3").status_code in (200, 201)
    gw.admin("PATCH", f"/admin/teams/{created['id']}", json={"disabled": True})
    refused = gw.generate(key["key"], model="dall-e-3", prompt="again")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_api_key"
    assert "disabled team" in refused.json()["error"]["message"]


def test_the_listing_with_usage_says_what_each_team_used_and_spent_today(start: Starter) -> None:
    gw = start()
    gw.upstream.headers = {"x-aimlapi-usd-spent": "0.031000000"}
    busy = team(gw, name="busy", usd_per_day=1)
    team(gw, name="idle")
    members = [gw.create_key(team_id=busy["id"]) for _ in range(3)]
    gw.admin("DELETE", f"/admin/keys/{members[2]['id']}")
    gw.create_key()
    assert gw.generate(members[0]["key"], prompt="one").status_code == 201
    assert gw.generate(members[1]["key"], prompt="two").status_code == 201
    assert gw.generate(members[1]["key"], prompt="two").headers["x-cache"] == "HIT"

    listing = gw.admin("GET", "/admin/teams", params={"include": "usage"}).json()
    TeamList.model_validate(listing)
    by_name = {t["name"]: t for t in listing["data"]}
    assert by_name["busy"]["keys"] == 2 and by_name["idle"]["keys"] == 0
    today = by_name["busy"]["usage_today"]
    assert (today["requests"], today["images"], today["cache_hits"]) == (3, 2, 1)
    assert today["spend_usd"] == "0.062" and "spend_nanos" not in today
    assert by_name["idle"]["usage_today"]["spend_usd"] == "0"
    plain = gw.admin("GET", "/admin/teams").json()["data"]
    assert all("usage_today" not in t and "keys" not in t for t in plain)
    refused = gw.admin("GET", "/admin/teams", params={"include": "secrets"})
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "include"

    overview = gw.admin("GET", "/admin/overview").json()
    assert overview["today"]["spend_usd"] == "0.062"
    usage = gw.admin("GET", f"/admin/teams/{busy['id']}/usage", params={"days": 30}).json()
    assert usage["team_id"] == busy["id"] and len(usage["days"]) == 30
    assert usage["totals"]["spend_usd"] == "0.062" and usage["totals"]["requests"] == 3
