"""The settings themselves: every ``GATEWAY_*`` setting, its default and its checks.

One pydantic-settings model, read from init arguments, then the environment, then the
config file; a value the gateway cannot run with is refused here, when the settings are
built, so that it stops the start-up instead of failing a request later.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from gateway.settings.config_file import config_path, read_config
from gateway.settings.declared import DeclaredKey
from gateway.settings.limits import DefaultLimitFields, limits_of
from gateway.store.types import LIMIT_NAMES, Limits

MIN_ADMIN_TOKEN_LENGTH = 24
JOURNAL_FILE = "journal.sqlite3"
MIN_KEY_SECRET_BYTES = 32


def check_key_secret(secret: str) -> None:
    """Refuse a key secret too short to make key hashes unguessable (ValueError)."""
    if len(secret.encode()) < MIN_KEY_SECRET_BYTES:
        raise ValueError(f"must be at least {MIN_KEY_SECRET_BYTES} bytes long")


def parse_thresholds(text: str) -> tuple[Decimal, ...]:
    """``"0.8,1.0"`` as sorted fractions in (0, 1]; ValueError naming a bad item."""
    found: set[Decimal] = set()
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            value = Decimal(item)
        except ArithmeticError:
            raise ValueError(f"{item!r} is not a number") from None
        if not value.is_finite() or not 0 < value <= 1:
            raise ValueError(f"{item!r} is not a fraction in (0, 1]")
        found.add(value)
    return tuple(sorted(found))


class Settings(BaseSettings, DefaultLimitFields):
    """Every setting of the gateway; see the configuration table in the README.

    The limits of new keys, ``default_<limit>`` for every limit, come from
    :class:`DefaultLimitFields`."""

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
    upstream_max_response_bytes: int = Field(default=134_217_728, ge=1024)
    upstream_extra_api_keys: SecretStr | None = None
    upstream_max_retries: int = Field(default=2, ge=0, le=10)
    upstream_retry_deadline: float = Field(default=30.0, gt=0)
    upstream_key_cooldown: float = Field(default=60.0, ge=0)
    upstream_breaker_threshold: int = Field(default=10, ge=1)
    upstream_breaker_cooldown: float = Field(default=10.0, ge=0)

    redis_url: SecretStr | None = None
    redis_socket_timeout: float = Field(default=1.0, gt=0)
    redis_connect_timeout: float = Field(default=1.0, gt=0)
    store_path: Path = Path(".gateway-data/store.db")

    admin_token: SecretStr | None = None
    admin_readonly_token: SecretStr | None = None
    key_secret: SecretStr | None = None
    key_cache_seconds: float = Field(default=2.0, ge=0)

    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    body_read_timeout: float = Field(default=10.0, gt=0)
    upload_max_files: int = Field(default=16, ge=1, le=1000)
    upload_max_file_bytes: int = Field(default=52_428_800, ge=1024)
    upload_max_mask_bytes: int = Field(default=4_194_304, ge=1024)
    upload_max_total_bytes: int = Field(default=134_217_728, ge=1024)
    upload_max_fields: int = Field(default=64, ge=1, le=10_000)
    upload_max_field_bytes: int = Field(default=262_144, ge=1024)
    upload_spool_bytes: int = Field(default=1_048_576, ge=0)
    upload_timeout: float = Field(default=120.0, gt=0)
    cors_origins: str = ""
    models_file: Path | None = None
    allow_unknown_models: bool = False
    prices_file: Path | None = None
    default_image_price_usd: Decimal = Field(
        default=Decimal("0.20"), ge=0, le=1_000_000, decimal_places=9
    )

    quota_timezone: str = "UTC"
    limits_fail_open: bool = False

    cache_enabled: bool = True
    cache_scope: Literal["key", "shared"] = "key"
    cache_ttl: float = Field(default=3600.0, ge=0)
    cache_url_margin: float = Field(default=60.0, ge=0)
    cache_max_entry_bytes: int = Field(default=4_194_304, ge=0)
    cache_memory_bytes: int = Field(default=268_435_456, ge=0)
    cache_wait_seconds: float = Field(default=200.0, gt=0)

    request_log_enabled: bool = True
    request_log_max_entries: int = Field(default=100_000, ge=1, le=10_000_000)
    request_log_prompts: bool = False
    audit_retention_days: int = Field(default=365, ge=1, le=36_500)
    alert_webhook_url: str | None = None
    alert_webhook_secret: SecretStr | None = None
    alert_thresholds: str = "0.8,1.0"

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
        "alert_webhook_url",
        "alert_webhook_secret",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: SecretStr | None) -> SecretStr | None:
        """Read the URL now, as the store will (TLS files included), so a typo in an option
        or a missing certificate stops the start with one line naming it."""
        if value is not None:
            from gateway.store.endpoint import Endpoint

            Endpoint.from_url(value.get_secret_value())
        return value

    @field_validator("upstream_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("alert_webhook_url")
    @classmethod
    def _webhook(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("alert_thresholds")
    @classmethod
    def _thresholds(cls, value: str) -> str:
        if not parse_thresholds(value):
            raise ValueError("name at least one fraction in (0, 1], e.g. 0.8,1.0")
        return value

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

    @field_validator("key_secret")
    @classmethod
    def _key_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_key_secret(value.get_secret_value())
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
    def _upload_limits(self) -> Settings:
        for name in ("upload_max_file_bytes", "upload_max_mask_bytes"):
            if getattr(self, name) > self.upload_max_total_bytes:
                raise ValueError(
                    f"GATEWAY_{name.upper()} must not be larger than "
                    "GATEWAY_UPLOAD_MAX_TOTAL_BYTES (the whole upload)"
                )
        return self

    @model_validator(mode="after")
    def _embedded_single_worker(self) -> Settings:
        if self.redis_url is None and self.workers > 1:
            raise ValueError(
                "workers > 1 needs GATEWAY_REDIS_URL: the embedded store lives in one process"
            )
        return self

    @property
    def default_limits(self) -> Limits:
        """The limits a new key gets when its creator names none."""
        defaults = {f"default_{name}": getattr(self, f"default_{name}") for name in LIMIT_NAMES}
        return Limits(**limits_of(defaults, "default_"))

    @property
    def alert_threshold_values(self) -> tuple[Decimal, ...]:
        """The alert thresholds as sorted fractions."""
        return parse_thresholds(self.alert_thresholds)

    @property
    def journal_path(self) -> Path:
        """The embedded mode's request and audit logs: a SQLite file beside the store's."""
        return self.store_path.parent / JOURNAL_FILE

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
        path = config_path(os.environ)
        if path is not None:
            sources.append(InitSettingsSource(settings_cls, read_config(path)))
        return tuple(sources)
