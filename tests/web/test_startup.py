"""Start-up tells the operator what runs, without a secret, and warns about what cannot work."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import SecretStr

from gateway.models.registry import Registry
from gateway.settings.model import Settings
from gateway.web.startup import announce, public_url
from tests.web.conftest import Starter, messages

pytestmark = pytest.mark.usefixtures("logs")


def ready_line(caplog: pytest.LogCaptureFixture) -> logging.LogRecord:
    (record,) = [r for r in caplog.records if r.getMessage().startswith("gateway ready: ")]
    return record


def test_one_info_line_says_what_the_gateway_runs(
    start: Starter, logs: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    start(upstream_url="https://user:sekrit@upstream.example:8443/", store_path=tmp_path / "s")
    record = ready_line(logs)
    models = len(Registry.load().models())
    assert record.levelno == logging.INFO
    assert record.getMessage() == (
        f"gateway ready: upstream https://upstream.example:8443, embedded store at "
        f"{tmp_path / 's'}, admin API on, {models} models"
    )
    assert getattr(record, "fields", {})["models"] == models
    assert "upstream-key" not in record.getMessage()
    assert not messages(logs, logging.WARNING)


def test_a_redis_store_is_named_without_its_password(logs: pytest.LogCaptureFixture) -> None:
    settings = Settings(redis_url=SecretStr("redis://:pw-123@redis.internal:6380/2?password=x"))
    announce(settings, Registry.load())
    line = ready_line(logs).getMessage()
    assert "redis store at redis://redis.internal:6380/2," in line and "pw-123" not in line
    assert "admin API off" in line


def test_an_unset_upstream_key_is_warned(start: Starter, logs: pytest.LogCaptureFixture) -> None:
    start(upstream_api_key=None)
    (warning,) = messages(logs, logging.WARNING)
    assert warning.startswith("GATEWAY_UPSTREAM_API_KEY is not set: ")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("rediss://default:pw@[::1]:6379/0", "rediss://[::1]:6379/0"),
        ("unix:///run/redis.sock?password=pw&db=1", "unix:///run/redis.sock"),
        ("https://api.aimlapi.com", "https://api.aimlapi.com"),
    ],
)
def test_public_urls_keep_no_credentials(url: str, shown: str) -> None:
    assert public_url(url) == shown
