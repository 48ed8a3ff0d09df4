"""Money and teams as clients and operators see them: budgets held exactly across replicas,
the cost of every answer, refunds, truthful records of an upstream charging more."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import FakeUpstream, Gateway, GatewayStarter

pytestmark = pytest.mark.e2e

PRICE = """
[models."dall-e-2"]
kind = "fixed"
units = [{{ name = "image", measure = "image", price = {price}, per = 1 }}]
source = "test"
"""


def price_file(tmp_path: Path, price: str) -> str:
    """A price file estimating dall-e-2 at ``price`` USD an image."""
    path = tmp_path / f"prices-{price}.toml"
    path.write_text(PRICE.format(price=price))
    return str(path)


def replicas(
    start_gateway: GatewayStarter,
    mode: str,
    tmp_path: Path,
    price: str = "0.05",
    count: int | None = None,
    **env: str,
) -> list[Gateway]:
    """Gateways estimating dall-e-2 at ``price``: four processes on one Redis (``count``
    of them), or the one embedded gateway."""
    env = {"GATEWAY_PRICES_FILE": price_file(tmp_path, price), **env}
    count = count or (4 if mode == "redis" else 1)
    return [start_gateway(mode, **env) for _ in range(count)]


def create_team(gw: Gateway, **body: Any) -> dict[str, Any]:
    body.setdefault("name", "design")
    response = gw.admin("POST", "/admin/teams", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def team_usage(gw: Gateway, team_id: str) -> dict[str, Any]:
    found: dict[str, Any] = gw.admin("GET", f"/admin/teams/{team_id}/usage").json()
    return found


def fire(
    gateways: list[Gateway], keys: list[str], count: int, prompt: str = "money"
) -> list[httpx.Response]:
    """``count`` concurrent requests with unique prompts, spread over gateways and keys."""

    def one(i: int) -> httpx.Response:
        return gateways[i % len(gateways)].post(
            {"model": "dall-e-2", "prompt": f"{prompt} {i}"}, keys[i % len(keys)], timeout=60
        )

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


@pytest.mark.parametrize("mode", ["redis", "embedded"])
def test_a_team_budget_admits_exactly_what_it_can_pay_for(
    start_gateway: GatewayStarter, upstream: FakeUpstream, tmp_path: Path, mode: str
) -> None:
    gateways = replicas(start_gateway, mode, tmp_path)
    upstream.control(usd_per_image=0.05, latency=0.2)
    team = create_team(gateways[0], usd_per_day=1.00)
    keys = [gateways[0].create_key(name=f"app-{i}", team_id=team["id"]) for i in range(2)]
    assert all(k["team_id"] == team["id"] for k in keys)

    answers = fire(gateways, [k["key"] for k in keys], 200)

    admitted = [a for a in answers if a.status_code == 201]
    refused = [a for a in answers if a.status_code == 429]
    assert len(admitted) == 20 and len(refused) == 180
    assert all(a.headers["x-gateway-cost-usd"] == "0.05" for a in admitted)
    for answer in refused:
        error = answer.json()["error"]
        assert error["code"] == "insufficient_quota"
        assert "team" in error["message"] and "usd_per_day" in error["message"]
        assert answer.headers["x-should-retry"] == "false"
        assert answer.headers["x-gateway-cost-usd"] == "0"
    assert upstream.calls() == 20
    billing = httpx.get(f"{upstream.url}/_billing", timeout=5).json()
    assert billing["usd_spent"] == "1"
    usage = team_usage(gateways[-1], team["id"])
    assert usage["totals"]["spend_usd"] == "1" and usage["totals"]["images"] == 20
    assert usage["limits"]["usd_per_day"]["limit"] == "1"
    assert usage["limits"]["usd_per_day"]["remaining"] == "0"
    spent = [
        gateways[0].admin("GET", f"/admin/keys/{k['id']}/usage").json()["totals"]["spend_usd"]
        for k in keys
    ]
    assert sum(float(s) for s in spent) == pytest.approx(1.0)


def refusals(answers: list[httpx.Response]) -> set[str]:
    """The messages of the 429s among ``answers``."""
    return {a.json()["error"]["message"] for a in answers if a.status_code == 429}


@pytest.mark.parametrize("mode", ["redis", "embedded"])
def test_a_key_budget_inside_a_team_binds_first(
    upstream: FakeUpstream, start_gateway: GatewayStarter, tmp_path: Path, mode: str
) -> None:
    gateways = replicas(start_gateway, mode, tmp_path)
    gw = gateways[0]
    upstream.control(usd_per_image=0.05)
    team = create_team(gw, usd_per_day="1.00")
    small = gw.create_key(name="small", team_id=team["id"], usd_per_day=0.30)
    other = gw.create_key(name="other", team_id=team["id"])
    assert small["usd_per_day"] == "0.3" and other["usd_per_day"] is None

    first = fire(gateways, [small["key"]], 10)
    assert [a.status_code for a in first].count(201) == 6
    assert refusals(first) == {"This key's USD budget for the day (usd_per_day) is spent."}
    second = fire(gateways, [other["key"]], 20, "other")
    assert [a.status_code for a in second].count(201) == 14
    assert refusals(second) == {
        "The USD budget of this key's team for the day (usd_per_day) is spent."
    }
    assert upstream.calls() == 20
    own = httpx.get(
        f"{gw.url}/v1/usage", headers={"authorization": f"Bearer {small['key']}"}, timeout=5
    ).json()
    assert own["totals"]["spend_usd"] == "0.3"
    budget = own["limits"]["usd_per_day"]
    assert (budget["limit"], budget["remaining"]) == ("0.3", "0")
    assert own["team"]["limits"]["usd_per_day"]["remaining"] == "0"


@pytest.mark.parametrize("mode", ["redis", "embedded"])
def test_an_upstream_charging_more_than_the_estimate_is_recorded_and_warned_about_once(
    start_gateway: GatewayStarter, upstream: FakeUpstream, tmp_path: Path, mode: str
) -> None:
    (gw,) = replicas(start_gateway, mode, tmp_path, count=1)
    upstream.control(usd_per_image=0.08)
    created = gw.create_key(usd_per_day=0.50)
    # Estimated at $0.05, charged $0.08: six calls fit ($0.48), the seventh would not.
    answers = [
        gw.post({"model": "dall-e-2", "prompt": f"dear {i}"}, created["key"]) for i in range(7)
    ]
    assert [a.status_code for a in answers] == [201] * 6 + [429]
    assert all(a.headers["x-gateway-cost-usd"] == "0.08" for a in answers[:6])
    assert refusals(answers) == {
        "This key's USD budget for the day (usd_per_day) has $0.02 left, less than this "
        "request's estimated $0.05."
    }
    usage = gw.admin("GET", f"/admin/keys/{created['id']}/usage").json()
    assert usage["totals"]["spend_usd"] == "0.48"
    assert usage["limits"]["usd_per_day"]["remaining"] == "0.02"
    metrics = httpx.get(f"{gw.url}/metrics", timeout=5).text
    assert 'gateway_cost_over_estimate_total{model="dall-e-2"} 6.0' in metrics
    over = next(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith('gateway_cost_over_estimate_usd_total{model="dall-e-2"}')
    )
    assert over == pytest.approx(0.18)
    gw.proc.stop()
    warnings = [
        json.loads(line)
        for line in gw.proc.log().splitlines()
        if line.startswith("{") and "charged more" in line
    ]
    assert len(warnings) == 1 and warnings[0]["model"] == "dall-e-2"
    assert warnings[0]["difference_usd"] == "0.03"


def test_a_budget_too_small_for_the_estimate_says_what_it_has_left(
    gateway: Gateway, upstream: FakeUpstream
) -> None:
    # dall-e-2 at 1024x1024 (its default size) is $0.026 in the built-in table and the
    # upstream's list: one call fits a $0.05 budget, and $0.024 is left.
    team = create_team(gateway, name="monthly", usd_per_month="0.05")
    key = gateway.create_key(team_id=team["id"])["key"]
    first = gateway.post({"model": "dall-e-2", "prompt": "left over"}, key)
    assert first.status_code == 201 and first.headers["x-gateway-cost-usd"] == "0.026"
    refused = gateway.post({"model": "dall-e-2", "prompt": "one more"}, key)
    assert refused.status_code == 429 and refused.headers["x-should-retry"] == "false"
    assert refused.json()["error"] == {
        "message": "The USD budget of this key's team for the month (usd_per_month) has "
        "$0.024 left, less than this request's estimated $0.026.",
        "type": "insufficient_quota",
        "param": None,
        "code": "insufficient_quota",
    }
    assert team_usage(gateway, team["id"])["limits"]["usd_per_month"]["remaining"] == "0.024"


def test_cache_hits_cost_nothing_and_every_answer_says_what_it_cost(
    gateway: Gateway, upstream: FakeUpstream
) -> None:
    upstream.control(usd_per_image=0.05)
    created = gateway.create_key(usd_per_month=5)
    body = {"model": "dall-e-2", "prompt": "the same picture"}
    miss = gateway.post(body, created["key"])
    hit = gateway.post(body, created["key"])
    assert (miss.headers["x-cache"], miss.headers["x-gateway-cost-usd"]) == ("MISS", "0.05")
    assert (hit.headers["x-cache"], hit.headers["x-gateway-cost-usd"]) == ("HIT", "0")
    assert gateway.post(body, "gwk_wrong").headers["x-gateway-cost-usd"] == "0"
    bad = gateway.post({"model": "dall-e-2"}, created["key"])
    assert bad.status_code == 400 and bad.headers["x-gateway-cost-usd"] == "0"
    usage = gateway.admin("GET", f"/admin/keys/{created['id']}/usage").json()
    assert usage["totals"]["spend_usd"] == "0.05"
    assert upstream.stats()["headers"][-1]["x-client-request-id"] == miss.headers["x-request-id"]


def test_disabling_a_team_refuses_its_keys_at_once_on_every_replica(
    start_gateway: GatewayStarter, upstream: FakeUpstream
) -> None:
    gateways = [start_gateway("redis", GATEWAY_KEY_CACHE_SECONDS="60") for _ in range(2)]
    team = create_team(gateways[0], models=["dall-e-2"])
    key = gateways[0].create_key(team_id=team["id"])["key"]
    assert gateways[1].post({"model": "dall-e-2", "prompt": "a"}, key).status_code == 201
    narrowed = gateways[1].post({"model": "dall-e-3", "prompt": "a"}, key)
    assert narrowed.status_code == 403 and "team" in narrowed.json()["error"]["message"]
    listed = httpx.get(
        f"{gateways[1].url}/v1/models", headers={"authorization": f"Bearer {key}"}, timeout=5
    ).json()
    assert [m["id"] for m in listed["data"]] == ["dall-e-2"]
    changed = gateways[0].admin("PATCH", f"/admin/teams/{team['id']}", json={"disabled": True})
    assert changed.status_code == 200 and changed.json()["disabled"] is True
    refused = gateways[1].post({"model": "dall-e-2", "prompt": "b"}, key)
    assert refused.status_code == 401 and "disabled team" in refused.json()["error"]["message"]


def test_teams_through_the_admin_api(gateway: Gateway) -> None:
    team = create_team(gateway, name="ops", rpm=100, usd_per_month="12.5", metadata={"cc": "42"})
    assert team["id"].startswith("team_") and team["usd_per_month"] == "12.5"
    assert team["rpm"] == 100 and team["usd_per_day"] is None and team["disabled"] is False
    listed = gateway.admin("GET", "/admin/teams").json()["data"]
    assert team["id"] in [t["id"] for t in listed]
    assert gateway.admin("GET", f"/admin/teams/{team['id']}").json() == team
    key = gateway.create_key(team_id=team["id"])
    refused = gateway.admin("DELETE", f"/admin/teams/{team['id']}")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "conflict"
    moved = gateway.admin("PATCH", f"/admin/keys/{key['id']}", json={"team_id": None})
    assert moved.json()["team_id"] is None
    deleted = gateway.admin("DELETE", f"/admin/teams/{team['id']}")
    assert deleted.status_code == 200
    assert gateway.admin("GET", f"/admin/teams/{team['id']}").status_code == 404
    missing = gateway.admin("POST", "/admin/keys", json={"name": "x", "team_id": team["id"]})
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "team_id"
    for bad in ({"name": "x", "usd_per_day": -1}, {"name": "x", "usd_per_day": "lots"}):
        answer = gateway.admin("POST", "/admin/teams", json=bad)
        assert answer.status_code == 400 and answer.json()["error"]["param"] == "usd_per_day"
