"""The fake upstream's price list and the cost it reports with every answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from gateway.billing.reported import read_cost
from gateway.testing.fake_answers import tiny_png
from gateway.testing.fake_upstream import create_fake_upstream

KEY = {"authorization": "Bearer test-upstream-key"}


@pytest.fixture
async def fake() -> AsyncIterator[httpx.AsyncClient]:
    app = create_fake_upstream()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app), base_url="http://fake"
    ) as client:
        yield client


async def generate(fake: httpx.AsyncClient, body: dict[str, Any], **headers: str) -> httpx.Response:
    return await fake.post(
        "/v1/images/generations", json={"prompt": "a fox", **body}, headers={**KEY, **headers}
    )


async def test_answers_report_the_list_price(fake: httpx.AsyncClient) -> None:
    body = {"model": "flux/schnell", "num_images": 2, "image_size": {"width": 1024, "height": 768}}
    response = await generate(fake, body)
    assert response.status_code == 201
    # $0.003 per megapixel, 0.786432 MP, two images; 1 credit = $0.0000005.
    assert response.headers["x-aimlapi-usd-spent"] == "0.004718592"
    assert response.headers["x-aimlapi-credits-used"] == "9437"
    assert response.json()["meta"]["usage"] == {"credits_used": 9437, "usd_spent": 0.004718592}
    assert len(response.json()["data"]) == 2
    cost = read_cost(response.headers, response.json())
    assert (cost.usd_nanos, cost.credits) == (4_718_592, 9437)
    assert cost.inference_id == response.headers["x-inference-id"]


async def test_a_set_cost_per_image_and_what_was_charged(fake: httpx.AsyncClient) -> None:
    await fake.post("/_control", json={"usd_per_image": 0.05})
    for n in (3, 2):
        response = await generate(
            fake, {"model": "dall-e-2", "n": n}, **{"x-client-request-id": f"req-{n}"}
        )
        assert response.headers["x-aimlapi-usd-spent"] == f"0.{5 * n:02d}0000000"
        assert response.headers["x-client-request-id"] == f"req-{n}"
        assert response.json()["meta"]["usage"]["credits_used"] == 100_000 * n
    report = (await fake.get("/_billing")).json()
    assert report["usd_spent"] == "0.25"
    assert [(c["images"], c["usd"], c["client_request_id"]) for c in report["charges"]] == [
        (3, "0.15", "req-3"),
        (2, "0.1", "req-2"),
    ]
    await fake.post("/_control", json={"reset": True})
    assert (await fake.get("/_billing")).json()["usd_spent"] == "0"
    response = await generate(fake, {"model": "dall-e-2", "n": 1, "size": "256x256"})
    assert response.headers["x-aimlapi-usd-spent"] == "0.020800000"


@pytest.mark.parametrize(
    ("report", "in_header", "in_body"),
    [("header", True, False), ("body", False, True), ("none", False, False)],
)
async def test_what_the_cost_report_carries(
    fake: httpx.AsyncClient, report: str, in_header: bool, in_body: bool
) -> None:
    await fake.post("/_control", json={"cost_report": report, "usd_per_image": "0.05"})
    response = await generate(fake, {"model": "dall-e-2"})
    assert ("x-aimlapi-usd-spent" in response.headers) is in_header
    assert ("meta" in response.json()) is in_body
    assert "x-inference-id" in response.headers
    assert read_cost(response.headers, response.json()).reported is (in_header or in_body)


async def test_failures_and_broken_answers_are_left_alone(fake: httpx.AsyncClient) -> None:
    refused = await fake.post("/v1/images/generations", json={"model": "dall-e-2", "prompt": "x"})
    assert refused.status_code == 401
    assert "x-aimlapi-usd-spent" not in refused.headers
    await fake.post("/_control", json={"mode": "malformed"})
    broken = await generate(fake, {"model": "dall-e-2"})
    assert broken.content == b'{"created": 1, "data": ['
    assert "x-aimlapi-usd-spent" not in broken.headers
    assert (await fake.get("/_billing")).json()["charges"] == []


async def test_an_unusable_client_request_id_is_dropped(fake: httpx.AsyncClient) -> None:
    response = await generate(fake, {"model": "dall-e-2"}, **{"x-client-request-id": "a b"})
    assert "x-client-request-id" not in response.headers


async def test_the_price_list_has_an_etag_and_honours_if_none_match(
    fake: httpx.AsyncClient,
) -> None:
    first = await fake.get("/v1/models", params={"include": "pricing"})
    assert first.status_code == 200
    etag = first.headers["etag"]
    items = {item["id"]: item for item in first.json()["data"]}
    assert items["flux/schnell"]["pricing"]["units"][0]["per"] == 1
    assert items["gpt-4o"]["type"] == "chat-completion"
    again = await fake.get(
        "/v1/models", params={"include": "pricing"}, headers={"if-none-match": f"W/{etag}"}
    )
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag)
    await fake.post("/_control", json={"pricing": {"flux/schnell": {"kind": "variable"}}})
    changed = await fake.get(
        "/v1/models", params={"include": "pricing"}, headers={"if-none-match": etag}
    )
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    report = (await fake.get("/_billing")).json()
    assert (report["pricing_requests"], report["pricing_not_modified"]) == (2, 1)


async def test_control_still_reaches_the_fake(fake: httpx.AsyncClient) -> None:
    await fake.post("/_control", json={"usd_per_image": 0.01, "fail": [{"status": 503}]})
    response = await generate(fake, {"model": "dall-e-2"})
    assert response.status_code == 503


@pytest.mark.parametrize(
    ("body", "usd"),
    [
        # gpt-image-1 defaults to quality medium and size 1024x1024: $0.0546, not the
        # dearest variant ($0.325, high at 1536x1024) a request naming neither could be.
        ({"model": "openai/gpt-image-1"}, "0.054600000"),
        ({"model": "openai/gpt-image-1", "quality": "high"}, "0.217100000"),
        ({"model": "openai/gpt-image-1", "size": "1536x1024"}, "0.081900000"),
        ({"model": "dall-e-3"}, "0.052000000"),
        ({"model": "dall-e-3", "quality": "hd"}, "0.104000000"),
        ({"model": "dall-e-2"}, "0.026000000"),
        # flux/schnell's default image_size is landscape_4_3 (1024x768): $0.003 a megapixel.
        ({"model": "flux/schnell"}, "0.002359296"),
    ],
)
async def test_fields_left_out_are_charged_at_the_models_defaults(
    fake: httpx.AsyncClient, body: dict[str, Any], usd: str
) -> None:
    response = await generate(fake, body)
    assert response.status_code in (200, 201), response.text
    assert response.headers["x-aimlapi-usd-spent"] == usd


async def test_an_edit_leaving_out_its_quality_is_charged_as_a_medium_one(
    fake: httpx.AsyncClient,
) -> None:
    response = await fake.post(
        "/v1/images/edits",
        data={"model": "openai/gpt-image-1", "prompt": "add a hat", "n": "2"},
        files={"image": ("cat.png", tiny_png(1), "image/png")},
        headers=KEY,
    )
    assert response.status_code in (200, 201), response.text
    assert response.headers["x-aimlapi-usd-spent"] == "0.109200000"
