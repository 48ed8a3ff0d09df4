"""Money in /metrics as an operator's dashboard reads it: spend by model, refusals by
budget level and limit, charged-to-estimated ratios, and never a key's or a team's id."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.e2e.conftest import FakeUpstream, Gateway, GatewayStarter
from tests.e2e.test_money import create_team, replicas

pytestmark = pytest.mark.e2e


def scrape(gw: Gateway) -> tuple[str, list[Sample]]:
    """The text of /metrics and every sample in it."""
    text = httpx.get(f"{gw.url}/metrics", timeout=5).text
    samples = [s for family in text_string_to_metric_families(text) for s in family.samples]
    return text, samples


def statuses(gw: Gateway, key: str, count: int, prompt: str) -> list[int]:
    return [
        gw.post({"model": "dall-e-2", "prompt": f"{prompt} {i}"}, key).status_code
        for i in range(count)
    ]


@pytest.mark.parametrize("mode", ["redis", "embedded"])
def test_metrics_count_spend_refusals_and_ratios_and_name_no_key_or_team(
    start_gateway: GatewayStarter, upstream: FakeUpstream, tmp_path: Path, mode: str
) -> None:
    (gw,) = replicas(start_gateway, mode, tmp_path, count=1)
    team = create_team(gw, name="metered-team", usd_per_day="0.20")
    small = gw.create_key(name="small-app", team_id=team["id"], usd_per_day="0.10")
    other = gw.create_key(name="other-app", team_id=team["id"])
    alone = gw.create_key(name="solo-app", usd_per_month="0.05")

    # Estimated at $0.05 each: the small key's own budget refuses its third call ...
    upstream.control(usd_per_image=0.05)
    assert statuses(gw, small["key"], 3, "small") == [201, 201, 429]
    # ... then, charged $0.025, the team's $0.10 left takes three calls of the other key
    # (the fourth's $0.05 estimate does not fit the $0.025 left) ...
    upstream.control(usd_per_image=0.025)
    assert statuses(gw, other["key"], 4, "other") == [201, 201, 201, 429]
    # ... and a key of no team is refused by its month budget after one call.
    assert statuses(gw, alone["key"], 2, "alone") == [201, 429]

    text, samples = scrape(gw)
    spend = [s for s in samples if s.name == "gateway_spend_usd_total"]
    assert [s.labels for s in spend] == [{"model": "dall-e-2"}]
    assert spend[0].value == pytest.approx(2 * 0.05 + 4 * 0.025)
    refused = {
        (s.labels["level"], s.labels["limit"]): s.value
        for s in samples
        if s.name == "gateway_budget_refusals_total"
    }
    assert refused == {
        ("key", "usd_per_day"): 1.0,
        ("team", "usd_per_day"): 1.0,
        ("key", "usd_per_month"): 1.0,
    }
    ratios = {
        s.labels["le"]: s.value
        for s in samples
        if s.name == "gateway_cost_to_estimate_ratio_bucket"
    }
    # Two calls charged their estimate (ratio 1), four half of it (0.5).
    assert (ratios["0.25"], ratios["0.5"], ratios["0.99"], ratios["1.0"]) == (0, 4, 4, 6)
    assert ratios["+Inf"] == 6
    by_name = {s.name: s.value for s in samples}
    assert by_name["gateway_cost_to_estimate_ratio_count"] == 6
    assert by_name["gateway_cost_to_estimate_ratio_sum"] == pytest.approx(2 * 1 + 4 * 0.5)
    assert not [s for s in samples if s.name == "gateway_cost_over_estimate_total"]

    secrets = [team["id"], team["name"]]
    for key in (small, other, alone):
        secrets += [key["id"], key["key"], key["name"]]
    assert [s for s in secrets if s in text] == []
    labels = {value for s in samples for value in s.labels.values()}
    assert not [v for v in labels if v.startswith(("key_", "team_", "gwk_"))]
