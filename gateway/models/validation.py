"""Request bodies checked against a model's published JSON Schema by jsonschema-rs.

A :class:`BodyCheck` is compiled once per model at start-up; a valid body costs one call
into the compiled validator. Only a body that fails is looked at again, to turn the first
error into OpenAI's shape: ``param`` names the field as the client sent it (``n`` when the
client's ``n`` became ``num_images``; dotted for nested fields, ``image_size.width``) and
the message says what the model accepts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jsonschema_rs

from gateway.errors import InvalidRequest

SHOWN = 60
JSON_TYPES = {
    dict: "an object",
    list: "an array",
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    type(None): "null",
}
NAMES = {
    "object": "an object",
    "array": "an array",
    "string": "a string",
    "boolean": "a boolean",
    "integer": "an integer",
    "number": "a number",
    "null": "null",
}


class SchemaInvalid(ValueError):
    """A registry schema that is not valid JSON Schema."""


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= SHOWN else text[: SHOWN - 3] + "..."


def param_of(path: Sequence[str | int], renamed: Mapping[str, str]) -> str:
    """``image_size.width`` / ``image_urls[1]``, the first part as the client named it."""
    out = ""
    for index, part in enumerate(path):
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = renamed.get(part, part) if index == 0 else part
            out += f".{name}" if out else name
    return out


def _depth(errors: list[Any]) -> tuple[int, int]:
    first = errors[0]
    return len(first.instance_path), 0 if type(first.kind).__name__ == "Type" else 1


def _innermost(error: Any) -> Any:
    """For ``anyOf``: the error of the alternative the value came closest to."""
    kind = error.kind
    while type(kind).__name__ in ("AnyOf", "OneOfNotValid") and getattr(kind, "context", None):
        tried = [branch for branch in kind.context if branch]
        if not tried:
            break
        error = max(tried, key=_depth)[0]
        kind = error.kind
    return error


def _sentence(name: str, kind: Any, param: str, value: Any, model: str) -> str | None:
    """What a person is told for one kind of error (None: the library's own words)."""
    limit = getattr(kind, "limit", None)
    if name == "Required":
        return f"{param} is required by {model}."
    if name == "AdditionalProperties":
        return f"{param} is not a field {model} accepts."
    if name == "Type":
        wanted = " or ".join(NAMES.get(t, t) for t in getattr(kind, "types", ()))
        return f"{param} must be {wanted}, not {JSON_TYPES.get(type(value), 'that')}."
    if name == "Enum":
        allowed = ", ".join(str(v) for v in getattr(kind, "options", ()))
        return f"Invalid value {_shown(value)} for {param}; {model} accepts: {allowed}."
    if name == "Constant":
        return f"{param} must be {_shown(getattr(kind, 'expected_value', None))} for {model}."
    bounds = {
        "Minimum": "at least",
        "Maximum": "at most",
        "ExclusiveMinimum": "more than",
        "ExclusiveMaximum": "less than",
    }
    if name in bounds:
        return f"{param} must be {bounds[name]} {limit} for {model}; got {_shown(value)}."
    if name == "MaxLength" and isinstance(value, str):
        return f"{param} is {len(value)} characters long; {model} accepts at most {limit}."
    if name == "MinLength":
        return f"{param} must be at least {limit} characters long for {model}."
    if name == "MaxItems" and isinstance(value, list):
        return f"{param} has {len(value)} items; {model} accepts at most {limit}."
    if name == "MinItems":
        return f"{param} needs at least {limit} items for {model}."
    return None


def describe(error: Any, model: str, renamed: Mapping[str, str]) -> InvalidRequest:
    """One validation error as the 400 a client gets."""
    error = _innermost(error)
    kind = error.kind
    name = type(kind).__name__
    path = list(error.instance_path)
    if name == "Required":
        path.append(kind.property)
    if name == "AdditionalProperties" and kind.unexpected:
        path.append(kind.unexpected[0])
    param = param_of(path, renamed) or "body"
    message = _sentence(name, kind, param, error.instance, model)
    if message is None:
        message = f"Invalid {param} for {model}: {error.message[:200]}."
    return InvalidRequest(message, param=param)


class BodyCheck:
    """A compiled JSON Schema for one model's request body."""

    __slots__ = ("_validator", "schema")

    def __init__(self, schema: dict[str, Any]) -> None:
        try:
            self._validator = jsonschema_rs.Draft7Validator(schema, validate_formats=False)
        except (ValueError, jsonschema_rs.ValidationError) as exc:
            raise SchemaInvalid(f"not a valid JSON Schema: {str(exc).splitlines()[0]}") from None
        self.schema = schema

    def check(self, body: Any, model: str, renamed: Mapping[str, str]) -> None:
        """Return when ``body`` is valid; raise the first error as InvalidRequest."""
        if self._validator.is_valid(body):
            return
        for error in self._validator.iter_errors(body):
            raise describe(error, model, renamed)

    def valid(self, body: Any) -> bool:
        """Whether ``body`` is valid."""
        return bool(self._validator.is_valid(body))
