"""``gateway prices sync`` against the real fake upstream, and a gateway that reads its file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.billing.price_file import read_price_file
from gateway.billing.sync import SyncError, read_upstream, sync_prices
from gateway.testing.procs import free_port
from tests.e2e.conftest import ADMIN_TOKEN, FakeUpstream, GatewayStarter

pytestmark = pytest.mark.e2e
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def billing(upstream: FakeUpstream) -> dict[str, Any]:
    data: dict[str, Any] = httpx.get(f"{upstream.url}/_billing", timeout=5).json()
    return data


def sync(upstream: FakeUpstream, path: Path, url: str | None = None) -> Any:
    with httpx.Client(timeout=10) as client:
        return sync_prices(client, url or upstream.url, path, api_key=None, now=NOW)


def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", "prices", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_sync_writes_the_upstreams_image_prices(upstream: FakeUpstream, tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    report = sync(upstream, path)
    assert report.status == "written"
    assert "flux/schnell" in report.added and "openai/gpt-image-1" in report.added
    assert ("recraft-v3", "no pricing listed") in report.skipped
    written = read_price_file(path)
    assert "gpt-4o" not in written.models
    assert written.etag and written.upstream == upstream.url
    schnell = written.models["flux/schnell"]
    assert (schnell.kind, schnell.units[0].measure, schnell.units[0].price) == (
        "fixed",
        "megapixel",
        Decimal("0.003"),
    )
    assert written.models["openai/gpt-image-1"].aliases == ["gpt-image-1"]
    assert written.models["openai/gpt-image-1-5"].kind == "variable"
    assert json.loads(path.read_text())["models"]["dall-e-3"]["variants"][0]["price"] == "0.052"


def test_an_unchanged_list_is_a_304_and_leaves_the_file(
    upstream: FakeUpstream, tmp_path: Path
) -> None:
    path = tmp_path / "prices.json"
    sync(upstream, path)
    before = path.read_bytes(), path.stat().st_mtime_ns
    report = sync(upstream, path)
    assert report.status == "not_modified"
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert billing(upstream)["pricing_not_modified"] == 1
    assert billing(upstream)["pricing_requests"] == 1


def synced(upstream: FakeUpstream, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """A file synced from the fake, and its data to edit."""
    path = tmp_path / "prices.json"
    sync(upstream, path)
    return path, json.loads(path.read_text())


def test_changes_are_reported_and_hand_written_entries_kept(
    upstream: FakeUpstream, tmp_path: Path
) -> None:
    path, data = synced(upstream, tmp_path)
    data["models"]["my/own-model"] = {
        "kind": "fixed",
        "units": [{"measure": "image", "price": "0.5"}],
        "source": "ops",
    }
    path.write_text(json.dumps(data))
    upstream.control(
        pricing={
            "flux/schnell": {
                "kind": "fixed",
                "units": [{"name": "output", "measure": "megapixel", "price": 0.004, "per": 1}],
            },
            "flux-pro": None,
            "new/model": {
                "kind": "fixed",
                "units": [{"name": "image", "measure": "image", "price": 0.01, "per": 1}],
            },
        }
    )
    report = sync(upstream, path)
    assert report.status == "written"
    assert report.changed == [
        ("flux/schnell", "$0.003/megapixel", "$0.004/megapixel"),
    ]
    assert report.added == ["new/model"]
    assert report.removed == ["flux-pro"]
    written = read_price_file(path)
    assert written.models["my/own-model"].source == "ops"
    assert "flux-pro" not in written.models


def test_another_upstream_is_not_asked_with_the_first_ones_etag(
    upstream: FakeUpstream, tmp_path: Path
) -> None:
    path, data = synced(upstream, tmp_path)
    data["upstream"] = "http://elsewhere.invalid"
    path.write_text(json.dumps(data))
    assert sync(upstream, path).status == "written"


def test_sync_refuses_what_it_cannot_use(upstream: FakeUpstream, tmp_path: Path) -> None:
    with pytest.raises(SyncError, match=r"writes JSON"):
        sync(upstream, tmp_path / "prices.toml")
    with pytest.raises(SyncError, match="cannot reach the upstream"):
        sync(upstream, tmp_path / "p.json", url=f"http://127.0.0.1:{free_port()}")
    upstream.control(pricing=dict.fromkeys(upstream_models(upstream)))
    with pytest.raises(SyncError, match="no priced image models"):
        sync(upstream, tmp_path / "p.json")
    assert not (tmp_path / "p.json").exists()


def upstream_models(upstream: FakeUpstream) -> list[str]:
    listing = httpx.get(f"{upstream.url}/v1/models", params={"include": "pricing"}).json()
    return [item["id"] for item in listing["data"]]


def test_read_upstream_keeps_only_priced_image_models() -> None:
    found, skipped = read_upstream(
        [
            {"id": "a", "type": "openai/image-generations", "pricing": {"kind": "variable"}},
            {"id": "chat", "type": "chat-completion", "pricing": {"kind": "variable"}},
            {"id": "b", "type": "openai/image-generations", "pricing": {"kind": "tiered"}},
            {
                "id": "c",
                "type": "openai/image-generations",
                "pricing": {"kind": "fixed", "units": [{"measure": "image", "price": 0.1}]},
            },
            {"no": "id"},
            "junk",
        ]
    )
    assert list(found) == ["a"]
    assert skipped[0] == ("b", "unknown pricing kind 'tiered'")
    assert skipped[1][0] == "c" and "per" in skipped[1][1]


def test_the_cli_syncs_and_the_next_gateway_uses_the_file(
    upstream: FakeUpstream, start_gateway: GatewayStarter, tmp_path: Path
) -> None:
    path = tmp_path / "prices.json"
    done = cli("sync", "--out", str(path), GATEWAY_UPSTREAM_URL=upstream.url)
    assert done.returncode == 0, done.stderr
    assert f"models written to {path}" in done.stdout
    assert "added    flux/schnell" in done.stdout
    again = cli("sync", GATEWAY_UPSTREAM_URL=upstream.url, GATEWAY_PRICES_FILE=str(path))
    assert again.returncode == 0, again.stderr
    assert "prices unchanged" in again.stdout and "left as it is" in again.stdout

    shown = cli("show", "flux/schnell", "--json", GATEWAY_PRICES_FILE=str(path))
    assert json.loads(shown.stdout)["units"][0]["measure"] == "megapixel"

    gateway = start_gateway("embedded", GATEWAY_PRICES_FILE=str(path))
    listing = gateway.admin("GET", "/admin/prices").json()
    by_model = {entry["model"]: entry for entry in listing["data"]}
    assert listing["prices_file"] == str(path)
    assert by_model["flux/schnell"]["source"] == "upstream"
    assert by_model["flux/schnell"]["units"][0] == {
        "name": "output",
        "measure": "megapixel",
        "price": "0.003",
        "per": "1",
    }
    assert by_model["flux/kontext-max/text-to-image"]["source"] == "aiml list"
    assert listing["default_image_price_usd"] == "0.2"


def test_the_cli_says_what_is_missing(upstream: FakeUpstream, tmp_path: Path) -> None:
    env = {"GATEWAY_UPSTREAM_URL": upstream.url, "GATEWAY_PRICES_FILE": ""}
    done = cli("sync", **env)
    assert done.returncode == 1
    assert done.stderr == "gateway: name the price file: --out PATH or GATEWAY_PRICES_FILE\n"
    down = cli(
        "sync",
        "--out",
        str(tmp_path / "p.json"),
        GATEWAY_UPSTREAM_URL=f"http://127.0.0.1:{free_port()}",
    )
    assert down.returncode == 1
    assert down.stderr.startswith("gateway: cannot reach the upstream at http://127.0.0.1:")


def test_admin_prices_needs_the_admin_token(start_gateway: GatewayStarter) -> None:
    gateway = start_gateway("embedded")
    assert gateway.admin("GET", "/admin/prices").status_code == 200
    response = httpx.get(
        f"{gateway.url}/admin/prices", headers={"authorization": f"Bearer {ADMIN_TOKEN}x"}
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_admin_token"
