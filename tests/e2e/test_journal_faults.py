"""A log store that fails changes no answer: the same requests get the same answers while
the journal is locked (embedded) or frozen (Redis); the lost entries are counted, admin
changes still happen and their audit entries are written once the store is back."""

from __future__ import annotations

import re
import signal
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.testclient import TestClient

from gateway.settings.model import Settings
from gateway.store.memory import MemoryStore
from gateway.store.redis_connect import connect
from gateway.store.redis_journal import RedisJournal
from gateway.testing.procs import Proc, start_redis, wait_until
from gateway.web.app import create_app
from tests.e2e.conftest import ADMIN_TOKEN, UPSTREAM_KEY, FakeUpstream, GatewayStarter
from tests.e2e.test_journal import audited, unique, wait_logged

pytestmark = pytest.mark.e2e
ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}
Post = Callable[[dict[str, Any], str], httpx.Response]


def answers(post: Post, key: str) -> list[tuple[Any, ...]]:
    """A miss, a hit, a refusal and a rate-limited request (the key allows 3 a minute), as
    what a client sees of each: status, cache header, and the body's shape."""
    body = unique("fault")
    sent = [
        post(body, key),
        post(body, key),
        post({"model": "no-such-model", "prompt": "x"}, key),
        post(unique("fault"), key),
        post(unique("fault"), key),
    ]
    seen = []
    for answer in sent:
        data = answer.json()
        error = data.get("error") or {}
        seen.append(
            (
                answer.status_code,
                answer.headers.get("x-cache"),
                sorted(data),
                len(data.get("data", [])),
                error.get("code"),
            )
        )
    assert [(s[0], s[1]) for s in seen] == [
        (201, "MISS"),
        (201, "HIT"),
        (400, None),
        (201, "MISS"),
        (429, None),
    ]
    return seen


def dropped(metrics_text: str, reason: str) -> float:
    found = re.search(
        rf'^gateway_request_log_dropped_total\{{reason="{reason}"\}} (\S+)$',
        metrics_text,
        re.MULTILINE,
    )
    return float(found.group(1)) if found else 0.0


def test_a_locked_embedded_journal_changes_no_answer_and_catches_up_after(
    start_gateway: GatewayStarter, upstream: FakeUpstream, tmp_path: Any
) -> None:
    store = tmp_path / "locked" / "store.json"
    gw = start_gateway("embedded", store_path=store)
    before, during = gw.create_key(rpm=3), gw.create_key(rpm=3)
    normal = answers(gw.post, before["key"])
    wait_logged(gw, before["id"], 5)

    holder = sqlite3.connect(store.parent / "journal.sqlite3", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        assert answers(gw.post, during["key"]) == normal

        def counted() -> bool:
            return dropped(httpx.get(f"{gw.url}/metrics", timeout=5).text, "failed") >= 5

        wait_until(counted, 15, "the lost entries to be counted")
        change = gw.admin("PATCH", f"/admin/keys/{during['id']}", json={"rpm": 100})
        assert change.status_code == 200 and change.json()["rpm"] == 100
        assert change.headers["x-gateway-audit"] == "pending"
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    def caught_up() -> bool:
        return [e["action"] for e in audited(gw, during["id"])] == ["key.update", "key.create"]

    wait_until(caught_up, 15, "the waiting audit entry to be written")
    assert gw.post(unique("after"), during["key"]).status_code == 201
    wait_logged(gw, during["id"], 1)
    assert "not yet written" in gw.proc.log()


@pytest.fixture
def frozen_redis() -> Iterator[Proc]:
    proc = start_redis()
    yield proc
    proc.popen.send_signal(signal.SIGCONT)
    proc.stop()


def test_a_frozen_redis_journal_changes_no_answer(
    fake_proc: Proc, upstream: FakeUpstream, frozen_redis: Proc
) -> None:
    settings = Settings(
        upstream_url=fake_proc.url,
        upstream_api_key=SecretStr(UPSTREAM_KEY),
        admin_token=SecretStr(ADMIN_TOKEN),
    )
    journal = RedisJournal(
        connect(f"redis://127.0.0.1:{frozen_redis.port}/0", socket_timeout=0.3, connect_timeout=0.3)
    )
    app = create_app(settings, store=MemoryStore(None, cache_max_bytes=10**7), journal=journal)
    with TestClient(app) as client:

        def post(body: dict[str, Any], key: str) -> Any:
            headers = {"authorization": f"Bearer {key}"}
            return client.post("/v1/images/generations", json=body, headers=headers)

        def make_key() -> dict[str, Any]:
            created: dict[str, Any] = client.post(
                "/admin/keys", json={"name": "f", "rpm": 3}, headers=ADMIN
            ).json()
            return created

        def entries(key_id: str) -> list[Any]:
            found: list[Any] = client.get(
                "/admin/requests", params={"key_id": key_id}, headers=ADMIN
            ).json()["data"]
            return found

        before, during = make_key(), make_key()
        normal = answers(post, before["key"])
        wait_until(lambda: len(entries(before["id"])) == 5, 10, "the first requests logged")

        frozen_redis.popen.send_signal(signal.SIGSTOP)
        try:
            assert answers(post, during["key"]) == normal
            change = client.patch(f"/admin/keys/{during['id']}", json={"rpm": 50}, headers=ADMIN)
            assert change.status_code == 200 and change.headers["x-gateway-audit"] == "pending"
            reading = client.get("/admin/requests", headers=ADMIN)
            assert reading.status_code == 503
            assert reading.json()["error"]["code"] == "store_unavailable"

            def counted() -> bool:
                return dropped(client.get("/metrics").text, "failed") >= 5

            wait_until(counted, 15, "the lost entries to be counted")
        finally:
            frozen_redis.popen.send_signal(signal.SIGCONT)

        def audit_written() -> bool:
            page = client.get("/admin/audit", headers=ADMIN).json()["data"]
            return any(
                e["target"]["id"] == during["id"] for e in page if e["action"] == "key.update"
            )

        wait_until(audit_written, 15, "the waiting audit entry to be written")
        assert post(unique("after"), during["key"]).status_code == 201
        wait_until(lambda: len(entries(during["id"])) >= 1, 10, "new requests logged again")
