"""``gateway models list``: what the gateway would load, for people and for scripts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

from gateway.models import table
from gateway.models.registry import Registry


def models_list(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    return subprocess.run(
        [sys.executable, "-m", "gateway", "models", "list", *args],
        capture_output=True,
        text=True,
        env={**clean, **env},
        timeout=60,
        check=False,
    )


def test_list_for_scripts_people_and_the_readme(tmp_path: Path) -> None:
    listed = orjson.loads(models_list("--json").stdout)
    assert len(listed) == 83
    gpt = next(m for m in listed if m["id"] == "openai/gpt-image-1")
    assert gpt["aliases"] == ["gpt-image-1"] and gpt["capabilities"]["edit"] is True
    plain = models_list().stdout.splitlines()
    assert plain[0].split()[:3] == ["model", "aliases", "family"] and len(plain) == 84
    assert models_list("--markdown").stdout == table.markdown(Registry.load())
    extra = tmp_path / "models.toml"
    extra.write_text('[models."acme/x"]\nlike = "dall-e-2"\naliases = ["x"]\n')
    mine = orjson.loads(models_list("--json", GATEWAY_MODELS_FILE=str(extra)).stdout)
    assert [m["aliases"] for m in mine if m["id"] == "acme/x"] == [["x"]]
    bad = models_list(GATEWAY_MODELS_FILE=str(tmp_path / "nope.toml"))
    assert bad.returncode == 2 and "cannot be read" in bad.stderr
