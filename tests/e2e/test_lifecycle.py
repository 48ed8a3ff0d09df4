"""Gateway processes as operators run them: restarts, the CLI, bad settings, dead upstreams."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import openai
import pytest

from gateway.testing.procs import free_port
from tests.e2e.conftest import ADMIN_TOKEN, FakeUpstream, Gateway, GatewayStarter

pytestmark = pytest.mark.e2e


def cli(*args: str, url: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {
        "PATH": "/usr/bin:/bin",
        "GATEWAY_URL": url,
        "GATEWAY_ADMIN_TOKEN": ADMIN_TOKEN,
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=30,
        check=False,
    )


def test_keys_survive_restart_in_embedded_mode(
    start_gateway: GatewayStarter, tmp_path: Path, upstream: FakeUpstream
) -> None:
    store = tmp_path / "state" / "store.json"
    first = start_gateway("embedded", store_path=store)
    created = first.create_key(name="persist")
    first.proc.stop()
    second = start_gateway("embedded", store_path=store)
    result = second.client(created["key"]).images.generate(model="dall-e-2", prompt="x")
    assert result.data
    revoked = second.admin("DELETE", f"/admin/keys/{created['id']}").json()
    assert revoked["revoked"] is True
    second.proc.stop()
    third = start_gateway("embedded", store_path=store)
    with pytest.raises(openai.AuthenticationError):
        third.client(created["key"]).images.generate(model="dall-e-2", prompt="x")


def test_cli_creates_lists_and_revokes(gateway: Gateway, upstream: FakeUpstream) -> None:
    made = cli(
        "keys",
        "create",
        "--name",
        "mobile-app",
        "--rpm",
        "60",
        "--images-per-day",
        "100",
        "--json",
        url=gateway.url,
    )
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)
    assert created["name"] == "mobile-app" and created["images_per_day"] == 100
    assert gateway.client(created["key"]).images.generate(model="dall-e-2", prompt="x").data
    listed = cli("keys", "list", url=gateway.url)
    assert listed.returncode == 0
    assert created["id"] in listed.stdout and "mobile-app" in listed.stdout
    assert created["key"] not in listed.stdout
    updated = cli(
        "keys", "update", created["id"], "--images-per-month", "5000", "--json", url=gateway.url
    )
    assert json.loads(updated.stdout)["images_per_month"] == 5000
    revoked = cli("keys", "revoke", created["id"], url=gateway.url)
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    with pytest.raises(openai.AuthenticationError):
        gateway.client(created["key"]).images.generate(model="dall-e-2", prompt="x")
    shown = cli("keys", "show", created["id"], "--json", url=gateway.url)
    assert json.loads(shown.stdout)["revoked"] is True


def test_cli_reports_errors_in_one_line(gateway: Gateway) -> None:
    missing = cli("keys", "show", "key_nope", url=gateway.url)
    assert missing.returncode == 1
    assert missing.stderr == "gateway: no key has the id or name 'key_nope'\n"
    unreachable = cli("keys", "list", url=f"http://127.0.0.1:{free_port()}")
    assert unreachable.returncode == 1 and "cannot reach" in unreachable.stderr


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"GATEWAY_PORT": "99999"}, "GATEWAY_PORT"),
        ({"GATEWAY_UPSTREAM_URL": "ftp://x"}, "GATEWAY_UPSTREAM_URL"),
        ({"GATEWAY_ADMIN_TOKEN": "short"}, "GATEWAY_ADMIN_TOKEN"),
        ({"GATEWAY_UPSTREAM_READ_TIMEOUT": "soon"}, "GATEWAY_UPSTREAM_READ_TIMEOUT"),
        ({"GATEWAY_QUOTA_TIMEZONE": "Mars/Olympus"}, "GATEWAY_QUOTA_TIMEZONE"),
    ],
)
def test_bad_setting_stops_startup_with_one_line(env: dict[str, str], name: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "serve"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **env},
        timeout=30,
        check=False,
    )
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0], done.stderr
    assert "Traceback" not in done.stderr


def test_unreachable_upstream_is_502(start_gateway: GatewayStarter) -> None:
    gw = start_gateway("embedded", GATEWAY_UPSTREAM_URL=f"http://127.0.0.1:{free_port()}")
    key = gw.create_key()["key"]
    response = gw.post({"model": "dall-e-2", "prompt": "x"}, key)
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_unreachable"


def test_slow_upstream_is_504(start_gateway: GatewayStarter, upstream: FakeUpstream) -> None:
    gw = start_gateway("embedded", GATEWAY_UPSTREAM_READ_TIMEOUT="0.3")
    key = gw.create_key()["key"]
    upstream.control(latency=3)
    response = gw.post({"model": "dall-e-2", "prompt": "x"}, key)
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "upstream_timeout"
    assert upstream.calls() == 1


def test_admin_api_off_without_token(start_gateway: GatewayStarter) -> None:
    gw = start_gateway("embedded", GATEWAY_ADMIN_TOKEN="")
    response = httpx.get(f"{gw.url}/admin/keys", timeout=5)
    assert response.status_code == 404
    assert "GATEWAY_ADMIN_TOKEN" in response.json()["error"]["message"]


def test_two_workers_share_redis_and_metrics(
    start_gateway: GatewayStarter, upstream: FakeUpstream
) -> None:
    gw = start_gateway("redis", GATEWAY_WORKERS="2")
    key = gw.create_key()["key"]
    for i in range(6):
        assert gw.post({"model": "dall-e-2", "prompt": f"w{i}"}, key).status_code == 201
    text = httpx.get(f"{gw.url}/metrics", timeout=5).text
    line = next(
        row
        for row in text.splitlines()
        if row.startswith('gateway_upstream_calls_total{outcome="ok"}')
    )
    assert float(line.split()[-1]) == 6
