"""The two admin tokens: every admin read works with either, every change needs the full one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr, ValidationError
from starlette.routing import Route
from starlette.testclient import TestClient

from gateway.settings.loading import describe_error
from gateway.settings.model import Settings
from gateway.store.memory import MemoryStore
from gateway.web.app import _secrets, create_app

ADMIN = "admin-token-0123456789-abcdef"
READONLY = "readonly-token-0123456789-abc"


def settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "admin_token": SecretStr(ADMIN),
        "admin_readonly_token": SecretStr(READONLY),
        "upstream_api_key": SecretStr("k"),
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def client() -> Iterator[TestClient]:
    app = create_app(settings(), store=MemoryStore(None, cache_max_bytes=10_000))
    with TestClient(app) as test_client:
        yield test_client


def admin_routes(client: TestClient) -> list[tuple[str, str]]:
    return sorted(
        (method, route.path)
        for route in client.app.routes  # type: ignore[attr-defined]
        if isinstance(route, Route) and route.path.startswith("/admin")
        for method in route.methods or ()
        if method != "HEAD"
    )


def as_role(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_every_admin_read_works_and_every_change_is_refused_for_the_readonly_token(
    client: TestClient,
) -> None:
    created = client.post("/admin/keys", json={"name": "app"}, headers=as_role(ADMIN)).json()
    team = client.post("/admin/teams", json={"name": "t"}, headers=as_role(ADMIN)).json()
    before = client.get(f"/admin/keys/{created['id']}", headers=as_role(ADMIN)).json()
    team_before = client.get(f"/admin/teams/{team['id']}", headers=as_role(ADMIN)).json()
    routes = admin_routes(client)
    assert ("GET", "/admin/whoami") in routes and ("GET", "/admin/overview") in routes
    assert ("PATCH", "/admin/teams/{team_id}") in routes
    for method, template in routes:
        path = template.replace("{key_id}", created["id"]).replace("{team_id}", team["id"])
        answer = client.request(method, path, json={"name": "changed"}, headers=as_role(READONLY))
        if method == "GET":
            assert answer.status_code == 200, (method, path, answer.text)
        else:
            assert answer.status_code == 403, (method, path, answer.text)
            error = answer.json()["error"]
            assert error["code"] == "admin_token_readonly"
            assert set(error) == {"message", "type", "param", "code"}
            assert READONLY not in answer.text and ADMIN not in answer.text
    after = client.get(f"/admin/keys/{created['id']}", headers=as_role(ADMIN)).json()
    assert after == before
    team_after = client.get(f"/admin/teams/{team['id']}", headers=as_role(ADMIN)).json()
    assert team_after == team_before
    keys = client.get("/admin/keys", headers=as_role(READONLY)).json()["data"]
    assert [k["id"] for k in keys] == [created["id"]]


def test_whoami_names_the_role_and_wrong_tokens_get_one_401(client: TestClient) -> None:
    assert client.get("/admin/whoami", headers=as_role(ADMIN)).json()["role"] == "admin"
    assert client.get("/admin/whoami", headers=as_role(READONLY)).json()["role"] == "readonly"
    for headers in ({}, as_role(ADMIN[:-1]), as_role(READONLY + "x"), as_role("")):
        answer = client.get("/admin/whoami", headers=headers)
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "invalid_admin_token"


def test_the_readonly_token_is_redacted_from_logs() -> None:
    assert READONLY in _secrets(settings())


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        (
            {"admin_readonly_token": SecretStr("short")},
            "invalid setting GATEWAY_ADMIN_READONLY_TOKEN: must be at least 24 characters",
        ),
        ({"admin_token": None}, "GATEWAY_ADMIN_READONLY_TOKEN needs GATEWAY_ADMIN_TOKEN"),
        (
            {"admin_readonly_token": SecretStr(ADMIN)},
            "GATEWAY_ADMIN_READONLY_TOKEN must differ from GATEWAY_ADMIN_TOKEN",
        ),
    ],
)
def test_bad_readonly_tokens_stop_the_start_with_one_line(
    overrides: dict[str, object], says: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        settings(**overrides)
    line = describe_error(caught.value, environ={}, options={})
    assert says in line and "\n" not in line
    assert ADMIN not in line
