"""Money given back as clients see it: a call that fails, times out or is abandoned by its
client charges nothing, and the budgets of the key and of its team are whole again."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from gateway.testing.procs import wait_until
from tests.e2e.conftest import FakeUpstream, Gateway, GatewayStarter
from tests.e2e.test_money import create_team, replicas, team_usage

pytestmark = pytest.mark.e2e


def test_a_failed_call_gives_its_money_back(gateway: Gateway, upstream: FakeUpstream) -> None:
    upstream.control(usd_per_image=0.026)
    created = gateway.create_key(usd_per_day="0.026")
    upstream.control(fail=[{"status": 500, "times": 1}])
    failed = gateway.post({"model": "dall-e-2", "prompt": "a"}, created["key"])
    assert failed.status_code == 502 and failed.headers["x-gateway-cost-usd"] == "0"
    usage = gateway.admin("GET", f"/admin/keys/{created['id']}/usage").json()
    assert usage["limits"]["usd_per_day"]["remaining"] == "0.026"
    again = gateway.post({"model": "dall-e-2", "prompt": "a"}, created["key"])
    assert again.status_code == 201 and again.headers["x-gateway-cost-usd"] == "0.026"
    spent = gateway.post({"model": "dall-e-2", "prompt": "b"}, created["key"])
    assert spent.status_code == 429
    assert spent.json()["error"]["message"] == (
        "This key's USD budget for the day (usd_per_day) is spent."
    )


@pytest.mark.parametrize("mode", ["redis", "embedded"])
def test_timeout_and_disconnect_give_the_money_back(
    start_gateway: GatewayStarter, upstream: FakeUpstream, tmp_path: Path, mode: str
) -> None:
    (gw,) = replicas(start_gateway, mode, tmp_path, count=1, GATEWAY_UPSTREAM_READ_TIMEOUT="0.5")
    team = create_team(gw, name="refunded", usd_per_day="0.05")
    created = gw.create_key(team_id=team["id"], usd_per_month="0.05")
    key = created["key"]

    def whole() -> bool:
        """Nothing spent, both budgets whole (nothing reserved either)."""
        own = gw.admin("GET", f"/admin/keys/{created['id']}/usage").json()
        shared = team_usage(gw, team["id"])
        return bool(
            own["totals"]["spend_usd"] == shared["totals"]["spend_usd"] == "0"
            and own["limits"]["usd_per_month"]["remaining"] == "0.05"
            and shared["limits"]["usd_per_day"]["remaining"] == "0.05"
        )

    upstream.control(usd_per_image=0.05, latency=2)
    timed_out = gw.post({"model": "dall-e-2", "prompt": "slow"}, key)
    assert timed_out.status_code == 504 and timed_out.headers["x-gateway-cost-usd"] == "0"
    assert whole()

    upstream.control(latency=0.4)
    with pytest.raises(httpx.ReadTimeout):
        gw.post({"model": "dall-e-2", "prompt": "abandoned"}, key, timeout=0.1)
    # Once the call is upstream its money is reserved; the disconnect gives it back.
    wait_until(lambda: upstream.calls() == 2, 5, "the abandoned request's upstream call")
    wait_until(whole, 5, "the abandoned request's money back")

    upstream.control(latency=0)
    paid = gw.post({"model": "dall-e-2", "prompt": "paid"}, key)
    assert paid.status_code == 201 and paid.headers["x-gateway-cost-usd"] == "0.05"
    refused = gw.post({"model": "dall-e-2", "prompt": "over"}, key)
    assert refused.status_code == 429
    assert refused.json()["error"]["message"] == (
        "This key's USD budget for the month (usd_per_month) is spent."
    )
    assert team_usage(gw, team["id"])["totals"]["spend_usd"] == "0.05"
