"""An operator's first hour: what start-up says, the CLI by key name, the fake upstream."""

from __future__ import annotations

import json
import select
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from gateway.store.types import LIMIT_NAMES
from gateway.testing.procs import wait_until
from tests.e2e.conftest import FakeUpstream, Gateway, GatewayStarter
from tests.e2e.test_lifecycle import cli

pytestmark = pytest.mark.e2e


def log_lines(gw: Gateway) -> list[dict[str, object]]:
    gw.proc.stop()
    lines = []
    for raw in gw.proc.log().splitlines():
        if raw.startswith("{"):
            lines.append(json.loads(raw))
    return lines


def test_start_up_says_what_runs_and_warns_about_unknown_variables(
    start_gateway: GatewayStarter, tmp_path: Path
) -> None:
    store = tmp_path / "store.json"
    gw = start_gateway(
        "embedded", store_path=store, GATEWAY_LOG_LEVEL="info", GATEWAY_UPSTRAEM_URL="http://x"
    )
    lines = log_lines(gw)
    (ready,) = [line for line in lines if str(line["message"]).startswith("gateway ready: ")]
    assert ready["level"] == "info" and ready["store"] == "embedded"
    assert ready["store_place"] == str(store) and ready["admin_api"] == "on"
    assert ready["upstream_url"] == gw.env["GATEWAY_UPSTREAM_URL"]
    warnings = [line["message"] for line in lines if line["level"] == "warning"]
    assert warnings == [
        "GATEWAY_UPSTRAEM_URL is not a setting and is ignored (did you mean GATEWAY_UPSTREAM_URL?)"
    ]


def test_start_up_warns_when_no_upstream_key_is_set(start_gateway: GatewayStarter) -> None:
    gw = start_gateway("redis", GATEWAY_LOG_LEVEL="info", GATEWAY_UPSTREAM_API_KEY="")
    lines = log_lines(gw)
    (ready,) = [line for line in lines if str(line["message"]).startswith("gateway ready: ")]
    assert ready["store"] == "redis" and str(ready["store_place"]).startswith("redis://127.0.0.1:")
    warnings = [str(line["message"]) for line in lines if line["level"] == "warning"]
    assert len(warnings) == 1 and warnings[0].startswith("GATEWAY_UPSTREAM_API_KEY is not set")


def serve(
    tmp_path: Path, config: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    full = {"PATH": "/usr/bin:/bin", "GATEWAY_STORE_PATH": str(tmp_path / "s.json"), **env}
    if config is not None:
        (tmp_path / "gateway.toml").write_text(config)
        full["GATEWAY_CONFIG"] = str(tmp_path / "gateway.toml")
    return subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--port", "0"],
        capture_output=True,
        text=True,
        env=full,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize(
    ("config", "env", "line"),
    [
        ("cache_ttl = -1\n", {}, "invalid setting cache_ttl in {config}: "),
        ("port = 80\ncache_ttl = \n", {}, "{config}: not valid TOML: "),
        (None, {"GATEWAY_KEY_SECRET": "too-short"}, "invalid setting GATEWAY_KEY_SECRET: "),
    ],
)
def test_bad_settings_stop_serve_with_one_line_naming_where_they_are(
    tmp_path: Path, config: str | None, env: dict[str, str], line: str
) -> None:
    done = serve(tmp_path, config, **env)
    assert done.returncode == 2
    expected = "gateway: " + line.format(config=tmp_path / "gateway.toml")
    assert done.stderr.startswith(expected), done.stderr
    assert len(done.stderr.splitlines()) == 1
    if config is not None and "TOML" in line:
        assert "line 2" in done.stderr


def test_keys_are_addressed_by_a_unique_name(gateway: Gateway, upstream: FakeUpstream) -> None:
    name = f"mobile-app-{uuid.uuid4().hex[:8]}"
    first = gateway.create_key(name=name)
    shown = cli("keys", "show", name, "--json", url=gateway.url)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["id"] == first["id"]
    updated = cli("keys", "update", name, "--rpm", "7", "--json", url=gateway.url)
    assert json.loads(updated.stdout)["rpm"] == 7
    usage = cli("usage", name, url=gateway.url)
    assert usage.returncode == 0 and first["id"] in usage.stdout
    second = gateway.create_key(name=name)
    shared = cli("keys", "show", name, url=gateway.url)
    assert shared.returncode == 1
    assert shared.stderr == (
        f"gateway: 2 keys are named {name!r} ({first['id']}, {second['id']}): give the id\n"
    )
    revoked = cli("keys", "revoke", first["id"], url=gateway.url)
    assert revoked.returncode == 0
    rotated = cli("keys", "show", name, "--json", url=gateway.url)
    assert json.loads(rotated.stdout)["id"] == second["id"]
    missing = cli("keys", "show", f"{name}-nope", url=gateway.url)
    assert missing.returncode == 1 and "no key has the id or name" in missing.stderr


def test_keys_list_shows_expiry_allow_lists_and_expired_keys(
    gateway: Gateway, upstream: FakeUpstream
) -> None:
    name = f"short-lived-{uuid.uuid4().hex[:8]}"
    created = gateway.create_key(name=name, expires_at=time.time() + 1, models=["dall-e-2"])
    listed = cli("keys", "list", url=gateway.url)
    header = listed.stdout.splitlines()[0].split()
    assert {"EXPIRES", "MODELS"} <= set(header)
    assert all(name.upper().replace("_PER_", "/") in header for name in LIMIT_NAMES)
    wait_until(
        lambda: (
            gateway.post({"model": "dall-e-2", "prompt": "x"}, created["key"]).status_code == 401
        ),
        what="the key to expire",
    )
    row = next(r for r in cli("keys", "list", url=gateway.url).stdout.splitlines() if name in r)
    assert " expired " in row and "dall-e-2" in row


def test_the_fake_upstream_says_where_it_listens() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "fake-upstream", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 20)
        assert ready, "the fake upstream printed nothing"
        first = proc.stdout.readline().strip()
        assert first.startswith("fake AI/ML API listening on http://127.0.0.1:")
        url = first.rsplit(" ", 1)[-1]
        assert httpx.get(f"{url}/_stats", timeout=5).status_code == 200
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
