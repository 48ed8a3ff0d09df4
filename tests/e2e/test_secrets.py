"""No secret reaches logs, metrics or error bodies."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.conftest import ADMIN_TOKEN, UPSTREAM_KEY, FakeUpstream, GatewayStarter

pytestmark = pytest.mark.e2e
KEY_SECRET = 'key-secret"with\\quotes-and-0123456789'


def test_no_secret_in_logs_metrics_or_errors(
    start_gateway: GatewayStarter, upstream: FakeUpstream
) -> None:
    gw = start_gateway("embedded", GATEWAY_LOG_LEVEL="debug", GATEWAY_KEY_SECRET=KEY_SECRET)
    created = gw.create_key()
    key = created["key"]
    bodies: list[str] = []
    bad_key = key[:-4] + "XXXX"
    bodies.append(gw.post({"model": "dall-e-2", "prompt": "x"}, bad_key).text)
    upstream.control(
        fail=[{"status": 401, "times": 1, "body": {"message": f"invalid key {UPSTREAM_KEY}"}}]
    )
    bodies.append(gw.post({"model": "dall-e-2", "prompt": "x"}, key).text)
    gw.admin("DELETE", f"/admin/keys/{created['id']}")
    bodies.append(gw.post({"model": "dall-e-2", "prompt": "x"}, key).text)
    bodies.append(
        httpx.get(
            f"{gw.url}/admin/keys", timeout=5, headers={"authorization": f"Bearer {ADMIN_TOKEN}x"}
        ).text
    )
    bodies.append(httpx.get(f"{gw.url}/metrics", timeout=5).text)
    gw.proc.stop()
    written = gw.proc.log() + "\n".join(bodies)
    assert '"status":401' in written.replace(" ", "")
    for secret in (key, bad_key, key[8:], UPSTREAM_KEY, ADMIN_TOKEN, KEY_SECRET):
        assert secret not in written
