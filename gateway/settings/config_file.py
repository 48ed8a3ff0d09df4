"""The TOML file named by ``GATEWAY_CONFIG``: where it is, and its contents.

Apart from the settings model because two readers need it: the model reads the file as its
last source, and the start-up's error message reads it again to name a bad key as the file
spells it (:func:`gateway.settings.loading.describe_error`).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gateway.settings.errors import ConfigFileError


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
