"""The request log and the audit log, over HTTP and the CLI, on both stores."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
import redis

from gateway.testing.procs import Proc, wait_until
from tests.e2e.conftest import ADMIN_TOKEN, FakeUpstream, Gateway, GatewayStarter
from tests.e2e.test_lifecycle import cli

pytestmark = pytest.mark.e2e
IMAGE = {"model": "dall-e-2", "prompt": "a journal test"}
FIELDS = {
    "id",
    "request_id",
    "created_at",
    "key_id",
    "team_id",
    "model",
    "endpoint",
    "status",
    "error_code",
    "images",
    "cache",
    "cost_usd",
    "latency_ms",
    "upstream_ms",
    "upstream_inference_id",
}
ACTOR = "admin:" + hashlib.sha256(ADMIN_TOKEN.encode()).hexdigest()[:8]


def logged(gateway: Gateway, **params: Any) -> dict[str, Any]:
    answer = gateway.admin("GET", "/admin/requests", params=params)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def wait_logged(gateway: Gateway, key_id: str, count: int) -> list[dict[str, Any]]:
    """The key's entries, newest first, once ``count`` of them are in the log."""
    found: list[dict[str, Any]] = []

    def enough() -> bool:
        nonlocal found
        found = logged(gateway, key_id=key_id, limit=1000)["data"]
        return len(found) >= count

    wait_until(enough, 10, f"{count} requests of {key_id} in the request log")
    return found


def audited(gateway: Gateway, target_id: str) -> list[dict[str, Any]]:
    """Every audit entry about ``target_id``, newest first, paging through the log."""
    found: list[dict[str, Any]] = []
    before = None
    while True:
        params = {"limit": 100, **({"before": before} if before else {})}
        answer = gateway.admin("GET", "/admin/audit", params=params)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        found += [e for e in page["data"] if e["target"]["id"] == target_id]
        before = page["next_before"]
        if before is None:
            return found


def unique(prompt: str = "journal") -> dict[str, Any]:
    return {**IMAGE, "prompt": f"{prompt} {secrets.token_hex(4)}"}


def test_every_answered_image_request_is_logged_with_what_happened(
    gateway: Gateway, upstream: FakeUpstream
) -> None:
    created = gateway.create_key(rpm=2)
    key = created["key"]
    body = unique()
    answers = [
        gateway.post(body, key),
        gateway.post(body, key),
        gateway.post({"model": "no-such-model", "prompt": "x"}, key),
        gateway.post(unique(), key),
    ]
    assert [a.status_code for a in answers] == [201, 201, 400, 429]
    assert [a.headers.get("x-cache") for a in answers[:2]] == ["MISS", "HIT"]
    entries = wait_logged(gateway, created["id"], 4)
    assert [e["request_id"] for e in entries] == [
        a.headers["x-request-id"] for a in reversed(answers)
    ]
    limited, refused, hit, miss = entries
    assert (miss["status"], miss["cache"], miss["images"], miss["model"]) == (
        201,
        "MISS",
        1,
        "dall-e-2",
    )
    assert 0 < miss["upstream_ms"] <= miss["latency_ms"]
    assert (hit["status"], hit["cache"], hit["images"], hit["upstream_ms"]) == (
        201,
        "HIT",
        1,
        None,
    )
    assert (refused["error_code"], refused["model"], refused["images"]) == (
        "model_not_found",
        "no-such-model",
        0,
    )
    assert (limited["status"], limited["error_code"]) == (429, "rate_limit_exceeded")
    for entry, answer in zip(entries, reversed(answers), strict=True):
        assert set(entry) == FIELDS
        assert entry["endpoint"] == "generations" and entry["key_id"] == created["id"]
        assert entry["team_id"] is None
        assert entry["cost_usd"] == answer.headers["x-gateway-cost-usd"]
        assert entry["latency_ms"] > 0
    assert (hit["cost_usd"], refused["cost_usd"], limited["cost_usd"]) == ("0", "0", "0")
    assert miss["created_at"] < hit["created_at"] < limited["created_at"]
    assert key not in orjson.dumps(entries).decode()

    nobody = gateway.post(unique(), "gwk_not-a-real-key")
    assert nobody.status_code == 401

    def unknown_key_logged() -> bool:
        page = logged(gateway, status=401, limit=1000)["data"]
        return any(e["request_id"] == nobody.headers["x-request-id"] for e in page)

    wait_until(unknown_key_logged, 10, "the 401 in the request log")


def refused_until_401(gateway: Gateway, key: str) -> httpx.Response:
    """The first answer refusing ``key`` (a change reaches every replica's key cache within
    its lifetime)."""
    answers: list[httpx.Response] = []

    def refused() -> bool:
        answers.append(gateway.post(unique("refused"), key))
        return answers[-1].status_code == 401

    wait_until(refused, 10, "the key to be refused")
    return answers[-1]


def test_entries_name_the_team_and_the_upstream_inference_and_refused_keys_keep_their_id(
    gateway: Gateway, upstream: FakeUpstream
) -> None:
    team = gateway.admin("POST", "/admin/teams", json={"name": "journal team"}).json()
    member = gateway.create_key(team_id=team["id"])
    loner = gateway.create_key()
    body = unique()
    miss, hit = gateway.post(body, member["key"]), gateway.post(body, member["key"])
    refused = gateway.post({"model": "no-such-model", "prompt": "x"}, member["key"])
    alone = gateway.post(unique(), loner["key"])
    assert [a.status_code for a in (miss, hit, refused, alone)] == [201, 201, 400, 201]
    assert hit.headers["x-cache"] == "HIT"
    newest_first = wait_logged(gateway, member["id"], 3)
    by_request = {e["request_id"]: e for e in newest_first + wait_logged(gateway, loner["id"], 1)}
    first, cached, wrong, other = (
        by_request[a.headers["x-request-id"]] for a in (miss, hit, refused, alone)
    )
    assert [e["team_id"] for e in (first, cached, wrong, other)] == [team["id"]] * 3 + [None]
    assert re.fullmatch(r"[0-9a-f-]{36}", first["upstream_inference_id"])
    assert re.fullmatch(r"[0-9a-f-]{36}", other["upstream_inference_id"])
    assert first["upstream_inference_id"] != other["upstream_inference_id"]
    assert cached["upstream_inference_id"] is None and wrong["upstream_inference_id"] is None
    teams_own = logged(gateway, team_id=team["id"], limit=1000)["data"]
    assert [e["request_id"] for e in teams_own] == [e["request_id"] for e in newest_first]

    disabled, revoked, expired = (gateway.create_key(team_id=team["id"]) for _ in range(3))
    gateway.admin("PATCH", f"/admin/keys/{disabled['id']}", json={"disabled": True})
    gateway.admin("DELETE", f"/admin/keys/{revoked['id']}")
    gateway.admin("PATCH", f"/admin/keys/{expired['id']}", json={"expires_at": 1})
    for made in (disabled, revoked, expired):
        answer = refused_until_401(gateway, made["key"])
        (entry,) = [
            e
            for e in wait_logged(gateway, made["id"], 1)
            if e["request_id"] == answer.headers["x-request-id"]
        ]
        assert (entry["status"], entry["error_code"]) == (401, "invalid_api_key")
        assert (entry["key_id"], entry["team_id"]) == (made["id"], team["id"])
        assert entry["upstream_inference_id"] is None


def test_filters_combine_and_cursors_page_through_each_match_once(
    gateway: Gateway, upstream: FakeUpstream
) -> None:
    first, second = gateway.create_key(), gateway.create_key()
    for _ in range(5):
        assert gateway.post(unique(), first["key"]).status_code == 201
    assert gateway.post(unique(), second["key"]).status_code == 201
    flux = gateway.post({"model": "flux/schnell", "prompt": "a fox"}, second["key"])
    assert flux.status_code == 201
    newest_first = [e["request_id"] for e in wait_logged(gateway, first["id"], 5)]
    wait_logged(gateway, second["id"], 2)

    seen: list[str] = []
    pages = 0
    before = None
    while True:
        params = {"key_id": first["id"], "limit": 2, **({"before": before} if before else {})}
        page = logged(gateway, **params)
        assert len(page["data"]) <= 2
        seen += [e["request_id"] for e in page["data"]]
        pages += 1
        before = page["next_before"]
        if before is None:
            break
    assert seen == newest_first and pages == 3

    by_model = logged(gateway, key_id=second["id"], model="flux/schnell")["data"]
    assert [e["request_id"] for e in by_model] == [flux.headers["x-request-id"]]
    assert len(logged(gateway, key_id=second["id"], status="2xx")["data"]) == 2
    assert len(logged(gateway, key_id=second["id"], status=201)["data"]) == 2
    assert logged(gateway, key_id=first["id"], status="4xx")["data"] == []
    assert logged(gateway, key_id=first["id"], model="flux/schnell")["data"] == []


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"status": "teapot"}, "status"),
        ({"status": "700"}, "status"),
        ({"before": "not-a-cursor"}, "before"),
        ({"key_id": "k" * 201}, "key_id"),
    ],
)
def test_bad_parameters_are_a_400_naming_them(
    gateway: Gateway, params: dict[str, str], param: str
) -> None:
    answer = gateway.admin("GET", "/admin/requests", params=params)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["param"] == param


def test_the_export_streams_a_time_range_as_json_lines(
    gateway: Gateway, upstream: FakeUpstream
) -> None:
    created = gateway.create_key()
    for _ in range(3):
        assert gateway.post(unique("export"), created["key"]).status_code == 201
    oldest, middle, newest = reversed(wait_logged(gateway, created["id"], 3))

    def exported(**params: Any) -> list[dict[str, Any]]:
        answer = gateway.admin("GET", "/admin/requests/export", params=params)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("application/x-ndjson")
        lines = [orjson.loads(line) for line in answer.text.splitlines()]
        return [e for e in lines if e["key_id"] == created["id"]]

    everything = exported()
    assert [e["request_id"] for e in everything] == [
        oldest["request_id"],
        middle["request_id"],
        newest["request_id"],
    ]
    assert everything[0] == oldest
    since = datetime.fromtimestamp(middle["created_at"], UTC).isoformat().replace("+00:00", "Z")
    assert [e["request_id"] for e in exported(since=since)] == [
        middle["request_id"],
        newest["request_id"],
    ]
    first_two = exported(since=oldest["created_at"], until=newest["created_at"])
    assert [e["request_id"] for e in first_two] == [oldest["request_id"], middle["request_id"]]
    for params, param in (
        ({"since": "yesterday"}, "since"),
        ({"since": "10", "until": "5"}, "since"),
    ):
        answer = gateway.admin("GET", "/admin/requests/export", params=params)
        assert answer.status_code == 400 and answer.json()["error"]["param"] == param


def test_admin_changes_are_audited_with_who_what_and_where(
    gateway: Gateway, upstream: FakeUpstream
) -> None:
    name = f"audited-{secrets.token_hex(3)}"
    create = gateway.admin("POST", "/admin/keys", json={"name": name, "rpm": 5})
    created = create.json()
    path = f"/admin/keys/{created['id']}"
    calls = [
        create,
        gateway.admin("PATCH", path, json={"name": f"{name}-2", "rpm": 10}),
        gateway.admin("PATCH", path, json={"disabled": True}),
        gateway.admin("PATCH", path, json={"disabled": False, "rpm": 10}),
    ]
    assert gateway.post(unique("to purge"), created["key"]).status_code == 201
    calls.append(gateway.admin("DELETE", "/admin/cache", params={"key_id": created["id"]}))
    calls.append(gateway.admin("DELETE", path))
    assert all(c.is_success for c in calls), [c.text for c in calls]
    assert all("x-gateway-audit" not in c.headers for c in calls)
    assert gateway.admin("DELETE", path).status_code == 200

    entries = audited(gateway, created["id"])
    assert [e["action"] for e in entries] == [
        "key.revoke",
        "cache.purge",
        "key.enable",
        "key.disable",
        "key.update",
        "key.create",
    ]
    assert [e["request_id"] for e in entries] == [
        c.headers["x-request-id"] for c in reversed(calls)
    ]
    revoke, purge, enable, disable, update, create_entry = (e["changes"] for e in entries)
    assert create_entry["name"] == [None, name] and create_entry["rpm"] == [None, 5]
    assert update == {"name": [name, f"{name}-2"], "rpm": [5, 10]}
    assert (disable, enable) == ({"disabled": [False, True]}, {"disabled": [True, False]})
    assert purge == {"entries": [1, 0]}
    assert revoke == {"revoked": [False, True]}
    assert entries[1]["target"] == {"kind": "cache", "id": created["id"], "name": f"{name}-2"}
    assert entries[0]["target"] == {
        "kind": "key",
        "id": created["id"],
        "name": f"{name}-2",
        "team_id": None,
    }
    for entry in entries:
        assert (entry["actor"], entry["source_ip"]) == (ACTOR, "127.0.0.1")
        assert entry["at"] >= created["created_at"]
    text = orjson.dumps(entries).decode()
    assert created["key"] not in text and created["prefix"] not in text
    assert ADMIN_TOKEN not in text and "key_hash" not in text
    for method in ("POST", "PATCH", "DELETE", "PUT"):
        assert gateway.admin(method, "/admin/audit").status_code == 405
    assert audited(gateway, created["id"]) == entries


def test_the_cli_prints_both_logs_as_tables_and_json_lines(
    gateway: Gateway, upstream: FakeUpstream
) -> None:
    created = gateway.create_key(name=f"cli-{secrets.token_hex(3)}")
    answers = [gateway.post(unique("cli"), created["key"]) for _ in range(2)]
    wait_logged(gateway, created["id"], 2)
    ids = [a.headers["x-request-id"] for a in answers]

    shown = cli("requests", "--key", created["id"], url=gateway.url)
    assert shown.returncode == 0, shown.stderr
    header, *rows = shown.stdout.splitlines()
    assert header.split()[:4] == ["TIME", "STATUS", "KEY", "MODEL"]
    assert [row.split()[-1] for row in rows] == ids
    assert all(" 201 " in row and "dall-e-2" in row and "MISS" in row for row in rows)

    as_json = cli("requests", "--key", created["id"], "--json", url=gateway.url)
    lines = [orjson.loads(line) for line in as_json.stdout.splitlines()]
    assert [e["request_id"] for e in lines] == ids and set(lines[0]) == FIELDS
    newest = cli(
        "requests",
        "--key",
        created["id"],
        "--status",
        "2xx",
        "--limit",
        "1",
        "--json",
        url=gateway.url,
    )
    assert [orjson.loads(line)["request_id"] for line in newest.stdout.splitlines()] == ids[1:]
    refused = cli("requests", "--status", "teapot", url=gateway.url)
    assert refused.returncode == 1 and refused.stderr.startswith("gateway: 400: status must be")

    audit = cli("audit", "--limit", "1000", url=gateway.url)
    assert audit.returncode == 0, audit.stderr
    assert audit.stdout.splitlines()[0].split() == ["TIME", "ACTION", "TARGET", "ACTOR", "CHANGES"]
    mine = [line for line in audit.stdout.splitlines() if created["id"] in line]
    assert len(mine) == 1 and "key.create" in mine[0] and ACTOR in mine[0]
    assert (
        f"name: {created['name']}" not in mine[0] and f"name: null -> {created['name']}" in mine[0]
    )
    audit_json = cli("audit", "--limit", "1000", "--json", url=gateway.url)
    actions = [orjson.loads(line) for line in audit_json.stdout.splitlines()]
    assert any(a["target"]["id"] == created["id"] for a in actions)
    readonly = cli(
        "audit",
        "--limit",
        "5",
        url=gateway.url,
        GATEWAY_ADMIN_TOKEN="",
        GATEWAY_ADMIN_READONLY_TOKEN=ADMIN_TOKEN,
    )
    assert readonly.returncode == 0, readonly.stderr


def test_cli_follow_prints_new_requests_as_they_come(
    gateway: Gateway, upstream: FakeUpstream
) -> None:
    created = gateway.create_key()
    first = gateway.post(unique("follow"), created["key"])
    wait_logged(gateway, created["id"], 1)
    lines: list[str] = []
    later: list[httpx.Response] = []
    with subprocess.Popen(
        [sys.executable, "-m", "gateway", "requests", "--key", created["id"], "--follow", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        # As a shell's background job would start it: SIGINT ignored, which Ctrl-C (here
        # SIGINT) must end all the same.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GATEWAY_URL": gateway.url,
            "GATEWAY_ADMIN_TOKEN": ADMIN_TOKEN,
        },
    ) as follower:
        assert follower.stdout is not None
        output = follower.stdout
        reader = threading.Thread(target=lambda: lines.extend(iter(output.readline, "")))
        reader.start()
        try:
            wait_until(lambda: len(lines) == 1, 15, "the first entry")
            later += [gateway.post(unique("follow"), created["key"]) for _ in range(3)]
            wait_until(lambda: len(lines) >= 4, 15, "the new entries")
        finally:
            follower.send_signal(signal.SIGINT)
            try:
                code = follower.wait(timeout=10)
            except subprocess.TimeoutExpired:
                follower.kill()
                raise
            reader.join(timeout=10)
    assert code == 0
    assert [orjson.loads(line)["request_id"] for line in lines] == [
        a.headers["x-request-id"] for a in [first, *later]
    ]


def test_prompts_are_logged_only_when_asked(
    start_gateway: GatewayStarter, upstream: FakeUpstream
) -> None:
    gw = start_gateway("embedded", GATEWAY_REQUEST_LOG_PROMPTS="true")
    created = gw.create_key()
    body = unique("a lighthouse at dawn, in oils")
    assert gw.post(body, created["key"]).status_code == 201
    (entry,) = wait_logged(gw, created["id"], 1)
    assert entry["prompt"] == body["prompt"]
    exported = gw.admin("GET", "/admin/requests/export").text
    assert body["prompt"] in exported


def test_turned_off_the_request_log_stays_empty_and_the_audit_log_still_works(
    start_gateway: GatewayStarter, upstream: FakeUpstream, tmp_path: Any
) -> None:
    store = tmp_path / "off" / "store.json"
    gw = start_gateway("embedded", store_path=store, GATEWAY_REQUEST_LOG_ENABLED="false")
    created = gw.create_key()
    assert gw.post(unique(), created["key"]).status_code == 201
    assert [e["action"] for e in audited(gw, created["id"])] == ["key.create"]
    gw.proc.stop()
    again = start_gateway("embedded", store_path=store)
    assert logged(again)["data"] == []
    assert (store.parent / "journal.sqlite3").exists()


@pytest.mark.parametrize("mode", ["embedded", "redis"])
def test_the_request_log_keeps_only_its_newest_entries(
    start_gateway: GatewayStarter, upstream: FakeUpstream, redis_proc: Proc, mode: str
) -> None:
    env = {"GATEWAY_REQUEST_LOG_MAX_ENTRIES": "5"}
    if mode == "redis":
        url = f"redis://127.0.0.1:{redis_proc.port}/3"
        with redis.Redis.from_url(url) as own:
            own.flushdb()
        env["GATEWAY_REDIS_URL"] = url
    gw = start_gateway("embedded", **env)
    created = gw.create_key()
    answers = [gw.post(unique("cap"), created["key"]) for _ in range(8)]
    newest = [a.headers["x-request-id"] for a in reversed(answers)][:5]

    def capped() -> bool:
        return [e["request_id"] for e in logged(gw, limit=100)["data"]] == newest

    wait_until(capped, 10, "the log to hold exactly the newest five requests")
