"""Configuration: environment variables ``GATEWAY_*`` over an optional TOML file.

The TOML file is named by ``GATEWAY_CONFIG``; environment variables win over it. Settings
are validated once, at start-up, and a bad value stops the gateway with one line naming it
(see :func:`gateway.cli.main.main`).
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

MIN_ADMIN_TOKEN_LENGTH = 24


class DeclaredKey(BaseModel):
    """A client key declared in the config file by its hash (declarative deployments).

    ``key_hash`` is what ``gateway keys hash`` prints for the secret under the configured
    ``GATEWAY_KEY_SECRET``.
    """

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    name: str
    key_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    models: list[str] | None = None
    expires_at: float | None = None
    rpm: int | None = Field(default=None, ge=0)
    images_per_minute: int | None = Field(default=None, ge=0)
    images_per_day: int | None = Field(default=None, ge=0)
    images_per_month: int | None = Field(default=None, ge=0)
    cache: bool = True


class Settings(BaseSettings):
    """Every setting of the gateway; see the configuration table in the README."""

    model_config = SettingsConfigDict(
        env_prefix="GATEWAY_",
        extra="forbid",
        case_sensitive=False,
        validate_default=True,
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    upstream_url: str = "https://api.aimlapi.com"
    upstream_api_key: SecretStr | None = None
    upstream_connect_timeout: float = Field(default=5.0, gt=0)
    upstream_read_timeout: float = Field(default=180.0, gt=0)
    upstream_max_connections: int = Field(default=1000, ge=1)
    upstream_extra_api_keys: SecretStr | None = None
    upstream_max_retries: int = Field(default=2, ge=0, le=10)
    upstream_retry_deadline: float = Field(default=30.0, gt=0)
    upstream_key_cooldown: float = Field(default=60.0, ge=0)
    upstream_breaker_threshold: int = Field(default=10, ge=1)
    upstream_breaker_cooldown: float = Field(default=10.0, ge=0)

    redis_url: SecretStr | None = None
    redis_socket_timeout: float = Field(default=1.0, gt=0)
    redis_connect_timeout: float = Field(default=1.0, gt=0)
    store_path: Path = Path(".gateway-data/store.json")

    admin_token: SecretStr | None = None
    admin_readonly_token: SecretStr | None = None
    key_secret: SecretStr | None = None
    key_cache_seconds: float = Field(default=2.0, ge=0)

    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    body_read_timeout: float = Field(default=10.0, gt=0)
    cors_origins: str = ""
    models_file: Path | None = None
    allow_unknown_models: bool = False
    prices_file: Path | None = None
    default_image_price_usd: Decimal = Field(
        default=Decimal("0.20"), ge=0, le=1_000_000, decimal_places=9
    )

    default_rpm: int | None = Field(default=None, ge=0)
    default_images_per_minute: int | None = Field(default=None, ge=0)
    default_images_per_day: int | None = Field(default=None, ge=0)
    default_images_per_month: int | None = Field(default=None, ge=0)
    quota_timezone: str = "UTC"
    limits_fail_open: bool = False

    cache_enabled: bool = True
    cache_scope: Literal["key", "shared"] = "key"
    cache_ttl: float = Field(default=3600.0, ge=0)
    cache_url_margin: float = Field(default=60.0, ge=0)
    cache_max_entry_bytes: int = Field(default=4_194_304, ge=0)
    cache_memory_bytes: int = Field(default=268_435_456, ge=0)
    cache_wait_seconds: float = Field(default=200.0, gt=0)

    keys: list[DeclaredKey] = Field(default_factory=list)

    @field_validator(
        "admin_token",
        "admin_readonly_token",
        "key_secret",
        "upstream_api_key",
        "redis_url",
        "upstream_extra_api_keys",
        "models_file",
        "prices_file",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("upstream_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("quota_timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("admin_token", "admin_readonly_token")
    @classmethod
    def _admin_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_ADMIN_TOKEN_LENGTH:
            raise ValueError(f"must be at least {MIN_ADMIN_TOKEN_LENGTH} characters long")
        return value

    @model_validator(mode="after")
    def _readonly_token(self) -> Settings:
        readonly = self.admin_readonly_token
        if readonly is None:
            return self
        if self.admin_token is None:
            raise ValueError(
                "GATEWAY_ADMIN_READONLY_TOKEN needs GATEWAY_ADMIN_TOKEN: the admin API is off"
            )
        if readonly.get_secret_value() == self.admin_token.get_secret_value():
            raise ValueError("GATEWAY_ADMIN_READONLY_TOKEN must differ from GATEWAY_ADMIN_TOKEN")
        return self

    @model_validator(mode="after")
    def _embedded_single_worker(self) -> Settings:
        if self.redis_url is None and self.workers > 1:
            raise ValueError(
                "workers > 1 needs GATEWAY_REDIS_URL: the embedded store lives in one process"
            )
        return self

    @property
    def cors_origin_list(self) -> list[str]:
        """Allowed CORS origins (comma-separated setting); empty means CORS is off."""
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    @property
    def upstream_keys(self) -> tuple[str, ...]:
        """Every upstream key, the main one first (extra ones are comma-separated)."""
        keys = [self.upstream_api_key.get_secret_value()] if self.upstream_api_key else []
        if self.upstream_extra_api_keys is not None:
            extra = self.upstream_extra_api_keys.get_secret_value().split(",")
            keys += [k.strip() for k in extra if k.strip()]
        return tuple(keys)

    @property
    def upstream_endpoint(self) -> str:
        """The full URL requests are forwarded to."""
        return f"{self.upstream_url}/v1/images/generations"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Init arguments, then the environment, then the TOML file named by GATEWAY_CONFIG."""
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("GATEWAY_CONFIG")
        if config_file:
            path = Path(config_file)
            if not path.is_file():
                raise ConfigFileError(f"GATEWAY_CONFIG: no such file: {path}")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)


class ConfigFileError(ValueError):
    """The file named by GATEWAY_CONFIG is missing or unreadable."""


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment and config file, with explicit overrides on top."""
    return Settings(**overrides)
