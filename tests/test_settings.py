"""Settings: environment over the TOML file, declared keys, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.cli.main import settings_error
from gateway.settings import Settings


def test_toml_file_with_declared_keys_and_env_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(
        'port = 9001\ncache_scope = "shared"\n'
        '[[keys]]\nid = "ci"\nname = "CI"\nkey_hash = "' + "a" * 64 + '"\nimages_per_day = 5\n'
    )
    monkeypatch.setenv("GATEWAY_CONFIG", str(path))
    monkeypatch.setenv("GATEWAY_PORT", "9002")
    settings = Settings()
    assert settings.port == 9002 and settings.cache_scope == "shared"
    assert settings.keys[0].images_per_day == 5


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"GATEWAY_WORKERS": "2"}, "workers > 1 needs GATEWAY_REDIS_URL"),
        ({"GATEWAY_CACHE_SCOPE": "everyone"}, "GATEWAY_CACHE_SCOPE"),
        ({"GATEWAY_DEFAULT_RPM": "-1"}, "GATEWAY_DEFAULT_RPM"),
    ],
)
def test_errors_name_the_setting(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], name: str
) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert name in settings_error(caught.value)


def test_empty_secret_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_ADMIN_TOKEN", "")
    assert Settings().admin_token is None
