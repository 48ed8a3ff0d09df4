"""What the operator reads: access-log lines, warnings about lasting trouble, metric labels."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from gateway.testing.procs import wait_until
from tests.web.conftest import InProcess, Starter, access_lines, messages

pytestmark = pytest.mark.usefixtures("logs")


def last_line(caplog: pytest.LogCaptureFixture) -> dict[str, object]:
    return access_lines(caplog)[-1]


@pytest.mark.parametrize("status", [201, 400, 401, 429, 500, 503])
def test_every_upstream_answer_is_logged_with_its_status_and_time(
    start: Starter, logs: pytest.LogCaptureFixture, status: int
) -> None:
    gw = start(upstream_max_retries=0)
    key = gw.create_key()["key"]
    gw.upstream.status = status
    gw.generate(key)
    line = last_line(logs)
    assert line["upstream_status"] == status
    assert isinstance(line["upstream_ms"], float) and line["upstream_ms"] > 0


def test_an_unreachable_upstream_is_logged_with_its_time_and_no_status(
    start: Starter, logs: pytest.LogCaptureFixture
) -> None:
    gw = start(upstream_max_retries=0)
    key = gw.create_key()["key"]
    gw.upstream.error = httpx.ConnectError("refused")
    assert gw.generate(key).status_code == 502
    line = last_line(logs)
    assert line["upstream_status"] is None and line["error_code"] == "upstream_unreachable"
    assert isinstance(line["upstream_ms"], float) and line["upstream_ms"] > 0


def test_a_request_that_made_no_upstream_call_says_so(
    start: Starter, logs: pytest.LogCaptureFixture
) -> None:
    gw = start()
    key = gw.create_key()["key"]
    gw.generate(key)
    assert gw.generate(key).headers["x-cache"] == "HIT"
    line = last_line(logs)
    assert line["upstream_status"] is None and line["upstream_ms"] is None


@pytest.mark.parametrize(
    ("status", "error", "warning"),
    [
        (401, None, "the upstream refused the gateway's credentials (HTTP 401)"),
        (403, None, "the upstream refused the gateway's credentials (HTTP 403)"),
        (201, httpx.ConnectError("refused"), "the upstream cannot be reached"),
    ],
)
def test_lasting_upstream_trouble_is_warned_once_and_its_end_told(
    start: Starter,
    logs: pytest.LogCaptureFixture,
    status: int,
    error: Exception | None,
    warning: str,
) -> None:
    gw = start(upstream_max_retries=0, upstream_breaker_threshold=100)
    key = gw.create_key()["key"]
    gw.upstream.status, gw.upstream.error = status, error
    for prompt in ("a", "b", "c"):
        assert gw.generate(key, prompt=prompt).status_code == 502
    warned = [m for m in messages(logs, logging.WARNING) if m.startswith(warning)]
    assert len(warned) == 1
    gw.upstream.status, gw.upstream.error = 201, None
    assert gw.generate(key, prompt="d").status_code == 201
    assert len([m for m in messages(logs, logging.INFO) if m.startswith("resolved: ")]) == 1
    gw.upstream.status, gw.upstream.error = status, error
    gw.generate(key, prompt="e")
    assert len([m for m in messages(logs, logging.WARNING) if m.startswith(warning)]) == 2


def test_an_opening_breaker_is_warned_once(start: Starter, logs: pytest.LogCaptureFixture) -> None:
    gw = start(upstream_max_retries=0, upstream_breaker_threshold=2)
    key = gw.create_key()["key"]
    gw.upstream.status = 500
    statuses = [gw.generate(key, prompt=p).status_code for p in "abcd"]
    assert statuses == [502, 502, 503, 503]
    assert messages(logs, logging.WARNING).count("upstream circuit opened") == 1


def test_a_disabled_key_is_logged_by_its_id(start: Starter, logs: pytest.LogCaptureFixture) -> None:
    gw = start()
    created = gw.create_key()
    gw.admin("PATCH", f"/admin/keys/{created['id']}", json={"disabled": True})
    assert gw.generate(created["key"]).status_code == 401
    assert last_line(logs)["key_id"] == created["id"]
    usage = gw.client.get("/v1/usage", headers={"authorization": f"Bearer {created['key']}"})
    assert usage.status_code == 401
    assert last_line(logs)["key_id"] == created["id"]


def request_log(gw: InProcess, count: int) -> list[dict[str, Any]]:
    """The request log's newest ``count`` entries, once it holds that many."""
    found: list[dict[str, Any]] = []

    def logged() -> bool:
        found[:] = gw.admin("GET", "/admin/requests").json()["data"]
        return len(found) >= count

    wait_until(logged, 10, f"{count} request-log entries")
    return found[:count]


def test_a_disabled_keys_refusal_is_logged_with_the_model_its_body_names(
    start: Starter, logs: pytest.LogCaptureFixture
) -> None:
    gw = start()
    created = gw.create_key()
    gw.admin("PATCH", f"/admin/keys/{created['id']}", json={"disabled": True})
    refused = gw.generate(created["key"], model="dall-e-3")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_api_key"
    line = last_line(logs)
    assert (line["key_id"], line["model"], line["status"]) == (created["id"], "dall-e-3", 401)
    (entry,) = request_log(gw, 1)
    assert (entry["key_id"], entry["model"], entry["status"]) == (created["id"], "dall-e-3", 401)
    assert any(
        line.startswith("gateway_requests_total{")
        and 'model="dall-e-3"' in line
        and 'status="401"' in line
        for line in gw.client.get("/metrics").text.splitlines()
    )


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[1, 2]", b'{"model": "dall-e-3", "prompt": "' + b"x" * 2_000_000 + b'"}'],
    ids=["malformed", "not-an-object", "too-large"],
)
def test_a_disabled_keys_unreadable_body_changes_nothing_in_its_refusal(
    start: Starter, logs: pytest.LogCaptureFixture, body: bytes
) -> None:
    gw = start()
    created = gw.create_key()
    gw.admin("PATCH", f"/admin/keys/{created['id']}", json={"disabled": True})
    refused = gw.client.post(
        "/v1/images/generations",
        content=body,
        headers={"authorization": f"Bearer {created['key']}", "content-type": "application/json"},
    )
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_api_key"
    line = last_line(logs)
    assert (line["key_id"], line["model"]) == (created["id"], None)


def test_an_unknown_key_or_a_refused_upload_is_not_read_for_the_log(
    start: Starter, logs: pytest.LogCaptureFixture
) -> None:
    gw = start()
    assert gw.generate("gwk_" + "x" * 40, model="dall-e-3").status_code == 401
    assert (last_line(logs)["key_id"], last_line(logs)["model"]) == (None, None)
    created = gw.create_key()
    gw.admin("PATCH", f"/admin/keys/{created['id']}", json={"disabled": True})
    edit = gw.client.post(
        "/v1/images/edits",
        data={"model": "dall-e-2", "prompt": "x"},
        files={"image": ("in.png", b"\x89PNG\r\n\x1a\n" + b"0" * 64, "image/png")},
        headers={"authorization": f"Bearer {created['key']}"},
    )
    assert edit.status_code == 401
    line = last_line(logs)
    assert (line["key_id"], line["model"], line["path"]) == (
        created["id"],
        None,
        "/v1/images/edits",
    )


def test_refusals_log_the_key_and_the_model_and_keep_the_model_label(
    start: Starter, logs: pytest.LogCaptureFixture
) -> None:
    gw = start()
    created = gw.create_key(models=["dall-e-2"], rpm=1)
    assert gw.generate(created["key"], model="dall-e-3").status_code == 403
    line = last_line(logs)
    assert (line["key_id"], line["model"], line["status"]) == (created["id"], "dall-e-3", 403)
    assert gw.generate(created["key"]).status_code == 201
    assert gw.generate(created["key"], prompt="y").status_code == 429
    line = last_line(logs)
    assert (line["key_id"], line["model"], line["status"]) == (created["id"], "dall-e-2", 429)
    metrics = gw.client.get("/metrics").text
    for status, model in (("403", "dall-e-3"), ("429", "dall-e-2")):
        assert any(
            line.startswith("gateway_requests_total{")
            and f'model="{model}"' in line
            and f'status="{status}"' in line
            for line in metrics.splitlines()
        ), metrics


def test_an_unknown_model_never_becomes_a_label(start: Starter) -> None:
    gw = start()
    key = gw.create_key()["key"]
    assert gw.generate(key, model="dall-e-9").status_code == 400
    assert "dall-e-9" not in gw.client.get("/metrics").text
