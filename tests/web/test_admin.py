"""The admin API as an operator meets it: key status, allow-lists, the answer's shape."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from gateway.settings.declared import DeclaredKey
from gateway.settings.errors import SettingsError
from gateway.settings.model import Settings
from gateway.web.admin_bodies import KeyCreated, KeyList, KeyObject
from gateway.web.app import create_app
from tests.web.conftest import Starter


def test_an_expired_key_is_shown_as_expired(start: Starter) -> None:
    gw = start()
    created = gw.create_key(expires_at=gw.clock.now + 60)
    assert created["status"] == "active" and created["expired"] is False
    gw.clock.now += 61
    shown = gw.admin("GET", f"/admin/keys/{created['id']}").json()
    assert (shown["status"], shown["expired"]) == ("expired", True)
    listed = gw.admin("GET", "/admin/keys").json()["data"]
    assert [k["status"] for k in listed] == ["expired"]
    assert gw.generate(created["key"]).status_code == 401


def test_status_names_the_first_reason_a_key_is_refused(start: Starter) -> None:
    gw = start()
    created = gw.create_key(expires_at=gw.clock.now + 60)
    path = f"/admin/keys/{created['id']}"
    assert gw.admin("PATCH", path, json={"disabled": True}).json()["status"] == "disabled"
    assert gw.admin("DELETE", path).json()["status"] == "revoked"


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_an_allow_list_naming_an_unknown_model_is_refused(start: Starter, method: str) -> None:
    gw = start()
    path = "/admin/keys"
    if method == "PATCH":
        path += "/" + gw.create_key()["id"]
    response = gw.admin(method, path, json={"name": "a", "models": ["dall-e-2", "dall-e-9"]})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "models" and "dall-e-9" in error["message"]
    kept = gw.admin("GET", "/admin/keys").json()["data"]
    assert [k["models"] for k in kept] == ([None] if method == "PATCH" else [])


def test_unknown_models_are_accepted_when_they_are_passed_through(start: Starter) -> None:
    gw = start(allow_unknown_models=True)
    assert gw.create_key(models=["dall-e-9"])["models"] == ["dall-e-9"]


def test_a_declared_key_naming_an_unknown_model_stops_start_up() -> None:
    declared = DeclaredKey.model_validate(
        {"id": "ci", "name": "CI", "key_hash": "a" * 64, "models": ["dall-e-9"]}
    )
    settings = Settings(admin_token=SecretStr("a" * 24), keys=[declared])
    with pytest.raises(SettingsError) as caught:
        create_app(settings)
    assert str(caught.value) == (
        "invalid setting keys[0].models (key 'ci'): unknown model 'dall-e-9'"
    )


def test_answers_fit_the_models_the_openapi_document_is_built_from(start: Starter) -> None:
    gw = start()
    created = gw.create_key(rpm=5, metadata={"team": "mobile"}, models=["dall-e-2"])
    KeyCreated.model_validate(created)
    KeyObject.model_validate(gw.admin("GET", f"/admin/keys/{created['id']}").json())
    KeyList.model_validate(gw.admin("GET", "/admin/keys").json())
    assert "key" not in gw.admin("GET", f"/admin/keys/{created['id']}").json()


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"expires_at": -9.9e61}, "expires_at"),
        ({"expires_at": 1e300}, "expires_at"),
        ({"rpm": 2**53}, "rpm"),
        ({"images_per_day": -1}, "images_per_day"),
    ],
)
def test_values_no_store_can_hold_are_refused_not_failed_on(
    start: Starter, body: dict[str, object], param: str
) -> None:
    gw = start()
    response = gw.admin("POST", "/admin/keys", json={"name": "a", **body})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param
    assert "Value error" not in response.json()["error"]["message"]
