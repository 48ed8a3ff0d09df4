"""Building the settings at start-up, and telling the operator what is wrong with them.

A refusal is one line naming the bad setting the way its author wrote it: the command's
option, the environment variable, or the key of the config file as the file spells it, with
a suggestion for a misspelt name. ``GATEWAY_*`` variables that name no setting are warned
about rather than ignored without a word.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import ValidationError

from gateway.settings.config_file import config_path, read_config
from gateway.settings.declared import DeclaredKey
from gateway.settings.errors import SettingsError
from gateway.settings.model import Settings

OTHER_VARIABLES = frozenset(("GATEWAY_CONFIG", "GATEWAY_URL"))
"""``GATEWAY_*`` variables that are not settings: the config file's path, the CLI's URL."""


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
