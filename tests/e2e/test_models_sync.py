"""``gateway models sync`` against the fake upstream's live catalogue: a new AIML model is
one command away, an unchanged catalogue (same ETag) writes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tests.e2e.conftest import FakeUpstream, GatewayStarter

pytestmark = pytest.mark.e2e

NEW_MODEL = {
    "id": "acme/painter-9",
    "aliases": ["painter-9"],
    "request": {
        "type": "object",
        "required": ["model", "prompt"],
        "properties": {
            "model": {"type": "string", "enum": ["acme/painter-9"]},
            "prompt": {"type": "string", "maxLength": 500},
            "num_images": {"type": "integer", "minimum": 1, "maximum": 3},
            "aspect_ratio": {"type": "string", "enum": ["1:1", "16:9", "9:16"]},
        },
    },
}


def sync(fake: FakeUpstream, output: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    return subprocess.run(
        [sys.executable, "-m", "gateway", "models", "sync", "--upstream", fake.url, *extra],
        capture_output=True,
        text=True,
        env={**env, "GATEWAY_MODELS_FILE": str(output), "GATEWAY_UPSTREAM_API_KEY": "k"},
        timeout=120,
        check=False,
    )


@pytest.fixture
def fake(upstream: FakeUpstream) -> Iterator[FakeUpstream]:
    yield upstream
    upstream.control(reset=True)


def test_sync_writes_the_live_catalogue_and_honours_its_etag(
    fake: FakeUpstream, tmp_path: Path, start_gateway: GatewayStarter
) -> None:
    output = tmp_path / "models.json"
    first = sync(fake, output)
    assert first.returncode == 0, first.stderr
    data = orjson.loads(output.read_bytes())
    assert len(data["models"]) == 83
    assert data["sync"]["upstream"] == fake.url and data["sync"]["etag"]
    assert data["models"]["google/nano-banana-pro"]["aliases"] == ["nano-banana-pro"]
    assert f"wrote 83 models to {output}" in first.stdout
    before = output.read_bytes()
    again = sync(fake, output)
    assert again.returncode == 0 and "up to date" in again.stdout
    assert output.read_bytes() == before

    fake.control(add_models=[NEW_MODEL])
    third = sync(fake, output)
    assert third.returncode == 0, third.stderr
    entry = orjson.loads(output.read_bytes())["models"]["acme/painter-9"]
    assert entry["aliases"] == ["painter-9"] and entry["count"] == "num_images"

    gw = start_gateway("embedded", GATEWAY_MODELS_FILE=str(output))
    client = gw.client(gw.create_key()["key"])
    result = client.images.generate(model="painter-9", prompt="a fox", n=3, size="1920x1080")
    assert result.data is not None and len(result.data) == 3
    assert fake.last_body() == {
        "model": "acme/painter-9",
        "prompt": "a fox",
        "num_images": 3,
        "aspect_ratio": "16:9",
    }
    assert client.models.retrieve("nano-banana-pro").id == "google/nano-banana-pro"


def test_sync_keeps_an_operators_own_models_and_refuses_toml(
    fake: FakeUpstream, tmp_path: Path
) -> None:
    output = tmp_path / "models.json"
    output.write_text('{"models": {"acme/mine": {"like": "dall-e-2", "aliases": ["mine"]}}}')
    done = sync(fake, output, "--force")
    assert done.returncode == 0, done.stderr
    assert "kept 1 models the live catalogue does not list: acme/mine" in done.stdout
    assert orjson.loads(output.read_bytes())["models"]["acme/mine"] == {
        "like": "dall-e-2",
        "aliases": ["mine"],
    }
    toml = sync(fake, tmp_path / "models.toml")
    assert toml.returncode == 2 and "writes JSON" in toml.stderr


def test_unreachable_upstream_is_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "models", "sync", "--upstream", "http://127.0.0.1:9"],
        capture_output=True,
        text=True,
        env={**env, "GATEWAY_MODELS_FILE": str(tmp_path / "m.json")},
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "gateway: GET http://127.0.0.1:9/v1/models: ConnectError"
    ]
    assert not (tmp_path / "m.json").exists()
