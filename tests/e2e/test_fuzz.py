"""Schemathesis against /openapi.json: no 5xx, and every answer fits the document."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import ADMIN_TOKEN, FakeUpstream, GatewayStarter

pytestmark = pytest.mark.e2e


def schemathesis(url: str, token: str, paths: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    binary = Path(sys.executable).with_name("schemathesis")
    return subprocess.run(
        [
            str(binary),
            "run",
            f"{url}/openapi.json",
            "--include-path-regex",
            paths,
            "--checks",
            "not_a_server_error,response_schema_conformance,status_code_conformance",
            "--max-examples",
            "25",
            "--seed",
            "1",
            "-H",
            f"Authorization: Bearer {token}",
            "--request-timeout",
            "10",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp,
    )


def test_fuzzing_finds_no_server_error(
    start_gateway: GatewayStarter, upstream: FakeUpstream, tmp_path: Path
) -> None:
    gw = start_gateway("embedded")
    key = gw.create_key()["key"]
    client = schemathesis(gw.url, key, "^/(v1|healthz|readyz|openapi)", tmp_path)
    assert client.returncode == 0, client.stdout[-3000:]
    admin = schemathesis(gw.url, ADMIN_TOKEN, "^/admin", tmp_path)
    assert admin.returncode == 0, admin.stdout[-3000:]
