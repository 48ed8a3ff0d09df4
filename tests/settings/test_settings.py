"""Settings: environment over the TOML file, declared keys, refusals that name the setting."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from gateway.settings.declared import DeclaredKey
from gateway.settings.errors import SettingsError
from gateway.settings.loading import load_settings, unknown_variables
from gateway.settings.model import Settings
from gateway.store.types import LIMIT_NAMES, MONEY_LIMITS, Limits
from gateway.web.uploads import UploadLimits

HASH = "a" * 64


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty config file named by GATEWAY_CONFIG; tests write their own text in it."""
    path = tmp_path / "gateway.toml"
    path.write_text("")
    monkeypatch.setenv("GATEWAY_CONFIG", str(path))
    return path


def refusal(**overrides: object) -> str:
    with pytest.raises(SettingsError) as caught:
        load_settings(**overrides)
    return str(caught.value)


def test_toml_file_with_declared_keys_and_env_override(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config.write_text(
        'port = 9001\ncache_scope = "shared"\n'
        f'[[keys]]\nid = "ci"\nname = "CI"\nkey_hash = "{HASH}"\nimages_per_day = 5\n'
    )
    monkeypatch.setenv("GATEWAY_PORT", "9002")
    settings = Settings()
    assert settings.port == 9002 and settings.cache_scope == "shared"
    assert settings.keys[0].limits == Limits(images_per_day=5)


@pytest.mark.parametrize(
    ("env", "line"),
    [
        ({"GATEWAY_WORKERS": "2"}, "invalid settings: workers > 1 needs GATEWAY_REDIS_URL"),
        ({"GATEWAY_CACHE_SCOPE": "everyone"}, "invalid setting GATEWAY_CACHE_SCOPE: "),
        ({"GATEWAY_DEFAULT_RPM": "-1"}, "invalid setting GATEWAY_DEFAULT_RPM: "),
        ({"GATEWAY_UPLOAD_MAX_FILES": "0"}, "invalid setting GATEWAY_UPLOAD_MAX_FILES: "),
        ({"GATEWAY_UPLOAD_TIMEOUT": "soon"}, "invalid setting GATEWAY_UPLOAD_TIMEOUT: "),
        (
            {"GATEWAY_UPLOAD_MAX_FILE_BYTES": "2048", "GATEWAY_UPLOAD_MAX_TOTAL_BYTES": "1024"},
            "invalid settings: GATEWAY_UPLOAD_MAX_FILE_BYTES must not be larger than",
        ),
    ],
)
def test_environment_errors_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], line: str
) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert refusal().startswith(line)


def test_option_errors_name_the_option() -> None:
    assert refusal(port=70000).startswith("invalid option --port: ")


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('cache_ttl = "soon"\n', "invalid setting cache_ttl in {path}: "),
        ("Cache_TTL = -5\n", "invalid setting Cache_TTL in {path}: "),
        (
            f'[[keys]]\nid = "a"\nname = "A"\nkey_hash = "{HASH}"\n'
            f'[[keys]]\nid = "b"\nname = "B"\nkey_hash = "{HASH}"\nrpm = -1\n',
            "invalid setting keys[1].rpm in {path}: Input should be greater than or equal to 0",
        ),
        (
            "cahce_ttl = 5\n",
            "unknown setting cahce_ttl in {path} (did you mean cache_ttl?)",
        ),
        (
            f'[[keys]]\nid = "a"\nname = "A"\nkey_hash = "{HASH}"\nimages_per_dya = 1\n',
            "unknown setting keys[0].images_per_dya in {path} (did you mean images_per_day?)",
        ),
    ],
)
def test_config_file_errors_name_the_file_and_the_key_as_written(
    config: Path, text: str, line: str
) -> None:
    config.write_text(text)
    message = refusal()
    assert message.startswith(line.format(path=config)), message
    assert "GATEWAY_" not in message


def test_the_environment_wins_and_is_named_when_both_set_a_bad_value(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config.write_text("cache_ttl = 5\n")
    monkeypatch.setenv("GATEWAY_CACHE_TTL", "soon")
    assert refusal().startswith("invalid setting GATEWAY_CACHE_TTL: ")


def test_a_toml_syntax_error_names_the_file_and_the_line(config: Path) -> None:
    config.write_text('port = 9001\nlog_level = "info"\ncache_ttl = = 5\n')
    message = refusal()
    assert message.startswith(f"{config}: not valid TOML: "), message
    assert "line 3" in message and "\n" not in message


def test_a_missing_config_file_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GATEWAY_CONFIG", str(tmp_path / "nope.toml"))
    assert refusal() == f"GATEWAY_CONFIG: no such file: {tmp_path / 'nope.toml'}"


@pytest.mark.parametrize("secret", ["x", "k" * 31, "é" * 15 + "k"])
def test_a_key_secret_under_32_bytes_is_refused(
    monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    monkeypatch.setenv("GATEWAY_KEY_SECRET", secret)
    assert refusal() == "invalid setting GATEWAY_KEY_SECRET: must be at least 32 bytes long"


@pytest.mark.parametrize("secret", ["k" * 32, "é" * 16])
def test_a_key_secret_of_32_bytes_is_accepted(monkeypatch: pytest.MonkeyPatch, secret: str) -> None:
    monkeypatch.setenv("GATEWAY_KEY_SECRET", secret)
    key_secret = load_settings().key_secret
    assert key_secret is not None and key_secret.get_secret_value() == secret


def test_empty_secret_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_ADMIN_TOKEN", "")
    assert Settings().admin_token is None


def test_unknown_gateway_variables_are_reported_with_a_suggestion() -> None:
    environ = {
        "GATEWAY_UPSTRAEM_URL": "http://x",
        "GATEWAY_PORT": "1",
        "gateway_log_level": "info",
        "GATEWAY_CONFIG": "/etc/gateway.toml",
        "GATEWAY_URL": "http://gw",
        "PATH": "/bin",
    }
    assert list(unknown_variables(environ)) == [
        "GATEWAY_UPSTRAEM_URL is not a setting and is ignored (did you mean GATEWAY_UPSTREAM_URL?)"
    ]


def test_every_limit_is_a_default_setting_and_a_declared_key_field(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for index, name in enumerate(LIMIT_NAMES):
        monkeypatch.setenv(f"GATEWAY_DEFAULT_{name.upper()}", str(index + 1))
    # Money limits are given in USD and held in nano-dollars.
    scale = {name: 10**9 if name in MONEY_LIMITS else 1 for name in LIMIT_NAMES}
    expected = Limits(**{n: (i + 1) * scale[n] for i, n in enumerate(LIMIT_NAMES)})
    assert Settings().default_limits == expected
    given = {name: index + 1 for index, name in enumerate(LIMIT_NAMES)}
    declared = DeclaredKey.model_validate({"id": "a", "name": "A", "key_hash": HASH, **given})
    assert declared.limits == expected


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("rediss://:hunter2@redis/0?ssl_certfile=/no/such.pem", "ssl_certfile"),
        ("redis://:hunter2@redis/0?ssl_ca_certs=/ca.pem", "needs a rediss:// URL"),
        ("redis://:hunter2@redis/0?socket_timout=1", "unknown option 'socket_timout'"),
    ],
)
def test_an_unusable_redis_url_is_one_line_naming_the_option_not_the_password(
    monkeypatch: pytest.MonkeyPatch, url: str, said: str
) -> None:
    monkeypatch.setenv("GATEWAY_REDIS_URL", url)
    line = refusal()
    assert line.startswith("invalid setting GATEWAY_REDIS_URL: ") and said in line
    assert "hunter2" not in line and "\n" not in line


def test_money_limits_are_exact_decimals_of_usd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_DEFAULT_USD_PER_DAY", "0.123456789")
    assert Settings().default_limits.usd_per_day == 123_456_789
    declared = DeclaredKey.model_validate(
        {"id": "a", "name": "A", "key_hash": HASH, "usd_per_month": 0.1}
    )
    assert declared.limits.usd_per_month == 100_000_000
    for bad in ("0.0000000001", "-1", "lots", "9007199.3"):
        monkeypatch.setenv("GATEWAY_DEFAULT_USD_PER_DAY", bad)
        with pytest.raises(SettingsError, match="GATEWAY_DEFAULT_USD_PER_DAY"):
            load_settings()


def test_alert_settings_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().alert_threshold_values == (Decimal("0.8"), Decimal("1.0"))
    monkeypatch.setenv("GATEWAY_ALERT_THRESHOLDS", "0.5, 0.9")
    assert Settings().alert_threshold_values == (Decimal("0.5"), Decimal("0.9"))
    for name, bad in (("THRESHOLDS", "1.5"), ("THRESHOLDS", ","), ("WEBHOOK_URL", "ftp://x")):
        monkeypatch.setenv(f"GATEWAY_ALERT_{name}", bad)
        with pytest.raises(SettingsError, match=f"GATEWAY_ALERT_{name}"):
            load_settings()
        monkeypatch.delenv(f"GATEWAY_ALERT_{name}")


def test_upload_settings_are_the_upload_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    assert UploadLimits.of(Settings()) == UploadLimits()
    monkeypatch.setenv("GATEWAY_UPLOAD_MAX_FILES", "3")
    monkeypatch.setenv("GATEWAY_UPLOAD_SPOOL_BYTES", "0")
    monkeypatch.setenv("GATEWAY_UPLOAD_TIMEOUT", "5")
    limits = UploadLimits.of(Settings())
    assert (limits.max_files, limits.spool_bytes, limits.timeout) == (3, 0, 5.0)
