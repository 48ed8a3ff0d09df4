"""Configuration: environment variables ``GATEWAY_*`` over an optional TOML file.

The TOML file is named by ``GATEWAY_CONFIG``; environment variables win over it. Settings
are validated once, at start-up, and a bad value stops the gateway with one line naming it
(see :func:`gateway.cli.main.main`).
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_type_hints

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from gateway.store.types import LIMIT_DESCRIPTIONS, LIMIT_NAMES, MONEY_LIMITS, Limits

MIN_ADMIN_TOKEN_LENGTH = 24
JOURNAL_FILE = "journal.sqlite3"
MIN_KEY_SECRET_BYTES = 32
MAX_LIMIT = 2**53 - 1
MAX_USD = Decimal(MAX_LIMIT).scaleb(-9)
"""The largest money limit: what every store holds exactly in nano-dollars (a double in Lua)."""
OTHER_VARIABLES = frozenset(("GATEWAY_CONFIG", "GATEWAY_URL"))
"""``GATEWAY_*`` variables that are not settings: the config file's path, the CLI's URL."""


def limit_fields(prefix: str = "") -> dict[str, Any]:
    """The limits of :class:`Limits` as pydantic field definitions named ``prefix + name``:
    the dataclass's own type (``None`` for unlimited), from 0 to the largest integer every
    store holds exactly, with its description. A money limit is a decimal amount of USD
    with at most nine decimals (the stores hold it in nano-dollars, see
    :func:`limits_of`)."""
    hints = get_type_hints(Limits)
    found: dict[str, Any] = {}
    for name in LIMIT_NAMES:
        described = LIMIT_DESCRIPTIONS[name]
        if name in MONEY_LIMITS:
            found[prefix + name] = (
                Decimal | None,
                Field(default=None, ge=0, le=MAX_USD, decimal_places=9, description=described),
            )
        else:
            found[prefix + name] = (
                hints[name],
                Field(default=None, ge=0, le=MAX_LIMIT, description=described),
            )
    return found


def usd_amount(value: Any) -> Any:
    """A money limit as given (a JSON or TOML number, a decimal string, a Decimal) read as
    an exact Decimal; a float is read as the decimal it was written as (its shortest repr).
    Anything else is refused with a message naming what is expected."""
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise ValueError("must be a decimal amount of USD (e.g. 1.50), not a boolean")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except ArithmeticError:
            amount = None
        if amount is not None and amount.is_finite():
            return amount
    raise ValueError("must be a decimal amount of USD (e.g. 1.50)")


def usd_nanos(amount: Decimal) -> int:
    """A validated amount of USD (at most nine decimals) as integer nano-dollars, exactly."""
    return int(amount.scaleb(9))


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


class _LimitModel(BaseModel):
    """What every model carrying the limits shares: money limits read exactly."""

    @field_validator(*MONEY_LIMITS, mode="before", check_fields=False)
    @classmethod
    def _money(cls, value: Any) -> Any:
        return usd_amount(value)


class _DefaultLimitModel(BaseModel):
    """The same for the ``default_`` limits of the settings."""

    @field_validator(*(f"default_{n}" for n in MONEY_LIMITS), mode="before", check_fields=False)
    @classmethod
    def _money(cls, value: Any) -> Any:
        return usd_amount(value)


if TYPE_CHECKING:
    LimitFields = _LimitModel
    DefaultLimitFields = _DefaultLimitModel
else:
    LimitFields = create_model("LimitFields", __base__=_LimitModel, **limit_fields())
    DefaultLimitFields = create_model(
        "DefaultLimitFields", __base__=_DefaultLimitModel, **limit_fields("default_")
    )


def limits_of(values: Mapping[str, Any], prefix: str = "") -> dict[str, int | None]:
    """The limits named in ``values`` (``prefix + name``, validated by a model with
    :func:`limit_fields`), in the stores' terms: money in nano-dollars. Only the limits
    present in ``values`` are returned."""
    found: dict[str, int | None] = {}
    for name in LIMIT_NAMES:
        if prefix + name not in values:
            continue
        value = values[prefix + name]
        found[name] = usd_nanos(value) if name in MONEY_LIMITS and value is not None else value
    return found


class DeclaredKey(LimitFields):
    """A client key declared in the config file by its hash (declarative deployments).

    ``key_hash`` is what ``gateway keys hash`` prints for the secret under the configured
    ``GATEWAY_KEY_SECRET``. A field it does not know is refused (a typo would otherwise
    leave a limit unset).
    """

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    name: str
    key_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    models: list[str] | None = None
    expires_at: float | None = None
    cache: bool = True

    @property
    def limits(self) -> Limits:
        """The key's limits as the stores take them."""
        return Limits(**limits_of({name: getattr(self, name) for name in LIMIT_NAMES}))


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


class SettingsError(ValueError):
    """Settings the gateway cannot run with; the message is the one line to show."""


class ConfigFileError(SettingsError):
    """The file named by GATEWAY_CONFIG is missing, unreadable or not TOML."""


def check_key_secret(secret: str) -> None:
    """Refuse a key secret too short to make key hashes unguessable (ValueError)."""
    if len(secret.encode()) < MIN_KEY_SECRET_BYTES:
        raise ValueError(f"must be at least {MIN_KEY_SECRET_BYTES} bytes long")


def config_path(environ: Mapping[str, str]) -> Path | None:
    """The config file named by GATEWAY_CONFIG, if any."""
    name = environ.get("GATEWAY_CONFIG")
    return Path(name) if name else None


def read_config(path: Path) -> dict[str, Any]:
    """The config file's contents; ConfigFileError names the file (and the line of a
    syntax error) when it cannot be used."""
    try:
        text = path.read_bytes().decode()
    except FileNotFoundError:
        raise ConfigFileError(f"GATEWAY_CONFIG: no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileError(f"GATEWAY_CONFIG: cannot read {path}: {exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError(f"{path}: not valid TOML: {exc}") from None


def load_settings(**options: Any) -> Settings:
    """Settings from the environment and config file, with the command line's ``options``
    (``--port``, ...) on top.

    A bad value raises SettingsError naming it where it was given: the option, the
    environment variable, or the config file and the key as written there.
    """
    try:
        return Settings(**options)
    except ValidationError as exc:
        raise SettingsError(describe_error(exc, os.environ, options)) from None


def describe_error(
    exc: ValidationError, environ: Mapping[str, str], options: Mapping[str, Any]
) -> str:
    """One line naming the first bad setting the way its author wrote it: one of the
    command's ``options``, an ``environ`` variable, or a key of the config file."""
    first = exc.errors()[0]
    loc = [str(part) if not isinstance(part, int) else part for part in first["loc"]]
    message = str(first["msg"]).removeprefix("Value error, ")
    if not loc:
        return f"invalid settings: {message}"
    name = str(loc[0])
    inner = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc[1:])
    unknown = first["type"] == "extra_forbidden"
    if name in options:
        return f"invalid option --{name.replace('_', '-')}: {message}"
    variable = f"GATEWAY_{name.upper()}"
    path = config_path(environ)
    if not any(v.upper() == variable for v in environ) and path is not None:
        written = _written(read_config(path), [name, *loc[1:]])
        if written is not None:
            if unknown:
                hint = _suggestion(written.rsplit(".", 1)[-1], _known_fields(loc))
                return f"unknown setting {written} in {path}{hint}"
            return f"invalid setting {written} in {path}: {message}"
    return f"invalid setting {variable}{inner}: {message}"


def _written(data: Any, loc: list[Any]) -> str | None:
    """The path of ``loc`` in the config file's data, spelled as the file spells it."""
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            if not isinstance(data, list) or not 0 <= part < len(data):
                return None
            data = data[part]
            parts.append(f"[{part}]")
            continue
        if not isinstance(data, dict):
            return None
        key = next((k for k in data if k.lower() == part.lower()), None)
        if key is None:
            return None
        data = data[key]
        parts.append(f".{key}" if parts else key)
    return "".join(parts)


def _known_fields(loc: list[Any]) -> list[str]:
    """The fields allowed where the unknown one at ``loc`` was found."""
    if len(loc) > 1 and loc[0] == "keys":
        return list(DeclaredKey.model_fields)
    return list(Settings.model_fields)


def _suggestion(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name.lower(), known, n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def unknown_variables(environ: Mapping[str, str]) -> Iterator[str]:
    """One warning for each ``GATEWAY_*`` variable that names no setting (a typo would
    otherwise be ignored without a word)."""
    known = {f"GATEWAY_{name.upper()}" for name in Settings.model_fields} | OTHER_VARIABLES
    for variable in sorted(environ):
        upper = variable.upper()
        if upper.startswith("GATEWAY_") and upper not in known:
            close = difflib.get_close_matches(upper, sorted(known), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            yield f"{variable} is not a setting and is ignored{hint}"
