"""``POST /admin/keys/{id}/rotate`` in-process: a new secret under the same key, the old one
for the grace period only (judged by the clock, whatever the key cache holds)."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.settings.declared import DeclaredKey
from tests.web.conftest import InProcess, Starter

LONG_CACHE = 3600.0


def rotate(gw: InProcess, key_id: str, body: Any = None, **kwargs: Any) -> Any:
    return gw.admin("POST", f"/admin/keys/{key_id}/rotate", json=body, **kwargs)


def refused_as_invalid(answer: Any) -> bool:
    return bool(answer.status_code == 401 and answer.json()["error"]["code"] == "invalid_api_key")


def test_the_new_secret_works_the_old_one_for_the_grace_only_and_usage_stays(
    start: Starter,
) -> None:
    gw = start(key_cache_seconds=LONG_CACHE)
    team = gw.admin("POST", "/admin/teams", json={"name": "mobile"}).json()
    created = gw.create_key(name="app", rpm=50, team_id=team["id"], metadata={"owner": "ana"})
    old = created["key"]
    assert gw.generate(old, prompt="before").status_code == 201
    answer = rotate(gw, created["id"], {"grace_seconds": 60})
    assert answer.status_code == 200, answer.text
    rotated = answer.json()
    new = rotated.pop("key")
    assert new.startswith("gwk_") and new != old
    assert rotated["prefix"] == new[:8] + "****"
    kept = ("id", "name", "rpm", "team_id", "metadata", "created_at", "status")
    assert {k: rotated[k] for k in kept} == {k: created[k] for k in kept}
    assert gw.generate(old, prompt="old in the grace").status_code == 201
    assert gw.generate(new, prompt="new").status_code == 201
    gw.clock.now += 59
    assert gw.generate(old, prompt="old at its end").status_code == 201
    gw.clock.now += 1
    assert refused_as_invalid(gw.generate(old, prompt="old after it"))
    assert refused_as_invalid(
        gw.client.get("/v1/models", headers={"authorization": f"Bearer {old}"})
    )
    assert gw.generate(new, prompt="new after it").status_code == 201
    usage = gw.admin("GET", f"/admin/keys/{created['id']}/usage", params={"days": 1}).json()
    assert (usage["totals"]["requests"], usage["totals"]["images"]) == (5, 5)
    shown = gw.admin("GET", f"/admin/keys/{created['id']}").json()
    assert "key" not in shown and old not in str(shown) and new not in str(shown)


def test_without_grace_the_old_secret_is_refused_at_once_though_cached(start: Starter) -> None:
    gw = start(key_cache_seconds=LONG_CACHE)
    created = gw.create_key(name="app")
    assert gw.generate(created["key"]).status_code == 201
    answer = gw.admin("POST", f"/admin/keys/{created['id']}/rotate")
    assert answer.status_code == 200, answer.text
    assert refused_as_invalid(gw.generate(created["key"]))
    assert gw.generate(answer.json()["key"]).status_code == 201


def test_a_second_rotation_in_the_grace_refuses_the_oldest_secret_at_once(
    start: Starter,
) -> None:
    gw = start(key_cache_seconds=LONG_CACHE)
    created = gw.create_key(name="app")
    first = rotate(gw, created["id"], {"grace_seconds": 600}).json()["key"]
    second = rotate(gw, created["id"], {"grace_seconds": 600}).json()["key"]
    assert refused_as_invalid(gw.generate(created["key"]))
    assert gw.generate(first).status_code == 201
    assert gw.generate(second).status_code == 201


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"grace_seconds": -1}, "grace_seconds"),
        ({"grace_seconds": 604_801}, "grace_seconds"),
        ({"grace_seconds": "60"}, "grace_seconds"),
        ({"grace_seconds": 1.5}, "grace_seconds"),
        ({"grace_seconds": True}, "grace_seconds"),
        ({"grace_seconds": None}, "grace_seconds"),
        ({"grace": 60}, "grace"),
        ([60], None),
    ],
)
def test_a_bad_body_is_a_400_naming_the_field_and_changes_nothing(
    start: Starter, body: Any, param: str | None
) -> None:
    gw = start()
    created = gw.create_key(name="app")
    answer = rotate(gw, created["id"], body)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", param)
    assert gw.generate(created["key"]).status_code == 201


def test_seven_days_is_the_longest_grace(start: Starter) -> None:
    gw = start()
    created = gw.create_key(name="app")
    assert rotate(gw, created["id"], {"grace_seconds": 604_800}).status_code == 200
    gw.clock.now += 604_799
    assert gw.generate(created["key"]).status_code == 201


def test_revoked_declared_and_unknown_keys_cannot_be_rotated(start: Starter) -> None:
    declared = DeclaredKey(id="key_declared", name="ops", key_hash="a" * 64)
    gw = start(keys=[declared])
    created = gw.create_key(name="app")
    gw.admin("DELETE", f"/admin/keys/{created['id']}")
    for key_id, status in ((created["id"], 409), ("key_declared", 409), ("key_nope", 404)):
        answer = rotate(gw, key_id, {"grace_seconds": 5})
        assert answer.status_code == status, answer.text
        assert set(answer.json()["error"]) == {"message", "type", "param", "code"}


def test_the_rotation_is_audited_without_any_secret(start: Starter) -> None:
    gw = start()
    created = gw.create_key(name="app")
    answer = rotate(gw, created["id"], {"grace_seconds": 30})
    new = answer.json()["key"]
    entry = gw.admin("GET", "/admin/audit").json()["data"][0]
    assert entry["action"] == "key.rotate"
    assert entry["target"] == {"kind": "key", "id": created["id"], "name": "app", "team_id": None}
    assert entry["changes"] == {"grace_seconds": [None, 30]}
    assert entry["request_id"] == answer.headers["x-request-id"]
    text = str(entry)
    assert created["key"] not in text and new not in text
    assert new[:8] not in text and created["prefix"] not in text
