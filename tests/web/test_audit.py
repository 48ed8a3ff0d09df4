"""Audit entries from the admin API and from start-up, in-process: who acted, what changed,
and nothing for what did not change."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from starlette.testclient import TestClient

from gateway.keys.material import hash_key
from gateway.settings.declared import DeclaredKey
from gateway.settings.model import Settings
from gateway.store.memory import MemoryStore
from gateway.store.sqlite_journal import SqliteJournal
from gateway.store.types import KeyRecord, Limits
from gateway.web.app import create_app
from gateway.web.audit import fingerprint, key_changes
from tests.web.test_admin_roles import ADMIN, READONLY, as_role, settings

SECRET = "key-secret-0123456789-abcdef-0123456789"


def audit_of(client: TestClient) -> list[dict[str, Any]]:
    answer = client.get("/admin/audit", headers=as_role(READONLY))
    assert answer.status_code == 200, answer.text
    data: list[dict[str, Any]] = answer.json()["data"]
    return data


def test_a_refused_change_leaves_no_entry_and_the_actor_is_the_tokens_fingerprint() -> None:
    app = create_app(settings(), store=MemoryStore(None, cache_max_bytes=10_000))
    with TestClient(app) as client:
        created = client.post("/admin/keys", json={"name": "app"}, headers=as_role(ADMIN))
        refused = client.patch(
            f"/admin/keys/{created.json()['id']}", json={"rpm": 1}, headers=as_role(READONLY)
        )
        assert refused.status_code == 403
        unchanged = client.patch(
            f"/admin/keys/{created.json()['id']}", json={"name": "app"}, headers=as_role(ADMIN)
        )
        assert unchanged.status_code == 200
        (entry,) = audit_of(client)
    assert entry["action"] == "key.create"
    assert entry["actor"] == "admin:" + hashlib.sha256(ADMIN.encode()).hexdigest()[:8]
    assert entry["request_id"] == created.headers["x-request-id"]
    assert entry["source_ip"] == "testclient"
    assert ADMIN not in str(entry) and READONLY not in str(entry)


def test_a_keys_entries_name_its_team_and_budget_changes_are_recorded() -> None:
    app = create_app(settings(), store=MemoryStore(None, cache_max_bytes=10_000))
    with TestClient(app) as client:
        team = client.post("/admin/teams", json={"name": "design"}, headers=as_role(ADMIN))
        team_id = team.json()["id"]
        created = client.post(
            "/admin/keys", json={"name": "app", "team_id": team_id}, headers=as_role(ADMIN)
        ).json()
        path = f"/admin/keys/{created['id']}"
        client.patch(path, json={"usd_per_day": "2.5"}, headers=as_role(ADMIN))
        client.patch(path, json={"team_id": None}, headers=as_role(ADMIN))
        left, budget, made, founded = audit_of(client)
    assert founded["action"] == "team.create" and "team_id" not in founded["target"]
    assert made["target"] == {"kind": "key", "id": created["id"], "name": "app", "team_id": team_id}
    assert made["changes"]["team_id"] == [None, team_id]
    assert budget["target"]["team_id"] == team_id
    assert budget["changes"] == {"usd_per_day": [None, "2.5"]}
    assert left["target"]["team_id"] is None and left["changes"] == {"team_id": [team_id, None]}


def test_team_changes_are_audited_with_what_changed() -> None:
    app = create_app(settings(), store=MemoryStore(None, cache_max_bytes=10_000))
    with TestClient(app) as client:
        made = client.post(
            "/admin/teams", json={"name": "design", "usd_per_day": 5}, headers=as_role(ADMIN)
        )
        path = f"/admin/teams/{made.json()['id']}"
        for body in ({"usd_per_day": "6.5", "name": "studio"}, {"disabled": True}, {}):
            assert client.patch(path, json=body, headers=as_role(ADMIN)).status_code == 200
        client.patch(path, json={"disabled": False}, headers=as_role(ADMIN))
        assert client.delete(path, headers=as_role(ADMIN)).status_code == 200
        entries = audit_of(client)
    assert [e["action"] for e in entries] == [
        "team.delete",
        "team.enable",
        "team.disable",
        "team.update",
        "team.create",
    ]
    deleted, enabled, disabled, updated, created = (e["changes"] for e in entries)
    assert created == {"name": [None, "design"], "usd_per_day": [None, "5"]}
    assert updated == {"name": ["design", "studio"], "usd_per_day": ["5", "6.5"]}
    assert (disabled, enabled) == ({"disabled": [False, True]}, {"disabled": [True, False]})
    assert deleted == {"deleted": [False, True]}
    assert entries[0]["target"] == {"kind": "team", "id": made.json()["id"], "name": "studio"}
    assert entries[-1]["request_id"] == made.headers["x-request-id"]


def test_fingerprints_tell_tokens_apart_and_keep_nothing_usable() -> None:
    first, second = fingerprint("admin", ADMIN), fingerprint("admin", ADMIN + "x")
    assert first != second and len(first) == len("admin:") + 8
    assert fingerprint("readonly", READONLY).startswith("readonly:")


def declared(**fields: Any) -> DeclaredKey:
    values: dict[str, Any] = {
        "id": "ci",
        "name": "CI",
        "key_hash": hash_key(SECRET.encode(), "gwk_declared-in-config"),
        **fields,
    }
    return DeclaredKey(**values)


def test_declared_keys_synced_at_start_up_are_audited_as_config(tmp_path: Path) -> None:
    store_path = tmp_path / "store.json"

    def start(key: DeclaredKey) -> list[dict[str, Any]]:
        config: Settings = settings(key_secret=SecretStr(SECRET), keys=[key])
        app = create_app(
            config,
            store=MemoryStore(store_path, cache_max_bytes=10_000),
            journal=SqliteJournal(tmp_path / "journal.sqlite3"),
        )
        with TestClient(app) as client:
            return audit_of(client)

    first = start(declared(images_per_day=10))
    assert [(e["action"], e["actor"], e["source_ip"]) for e in first] == [
        ("key.sync", "config", None)
    ]
    assert first[0]["changes"]["images_per_day"] == [None, 10]
    assert first[0]["target"] == {"kind": "key", "id": "ci", "name": "CI", "team_id": None}
    again = start(declared(images_per_day=10))
    assert again == first
    changed = start(declared(name="CI runner", images_per_day=20))
    assert changed[0]["changes"] == {"name": ["CI", "CI runner"], "images_per_day": [10, 20]}
    assert len(changed) == 2
    assert "key_hash" not in str(changed) and declared().key_hash not in str(changed)


def test_changes_of_a_new_key_list_what_it_was_given() -> None:
    record = KeyRecord(
        id="key_1",
        name="app",
        key_hash="0" * 64,
        prefix="gwk_abcd****",
        created_at=1.0,
        limits=Limits(rpm=60),
        metadata={"owner": "ops"},
    )
    assert key_changes(None, record) == {
        "name": [None, "app"],
        "rpm": [None, 60],
        "cache": [None, True],
        "metadata": [None, {"owner": "ops"}],
    }
