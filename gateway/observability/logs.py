"""JSON logs, one line per event, with secrets redacted everywhere (tracebacks included).

Values are redacted before they are encoded: JSON escapes a secret holding ``"`` or ``\\``,
so replacing it in the encoded line would miss it. The encoded line only tells whether
there can be anything to redact (every secret is looked for as JSON spells it): most lines
hold nothing and are written as encoded, the others are encoded again from redacted values.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Iterable
from typing import Any

import orjson

KEY_PATTERN = r"(?P<key>gwk_[A-Za-z0-9_-]{8,})"
BEARER_PATTERN = r"(?i:(?P<bearer>bearer\s+)[^\s'\",]+)"
REDACTED = "[REDACTED]"


def _replacement(match: re.Match[str]) -> str:
    if match.group("key") is not None:
        return match.group("key")[:8] + REDACTED
    if match.group("bearer") is not None:
        return match.group("bearer") + REDACTED
    return REDACTED


class Redactor:
    """Removes client keys, bearer tokens and configured secrets from text, in one pass
    of one regular expression (the longest secret first)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        ordered = sorted({s for s in secrets if s}, key=len, reverse=True)
        alternatives = [KEY_PATTERN, BEARER_PATTERN]
        if ordered:
            alternatives.insert(0, "(?:" + "|".join(re.escape(s) for s in ordered) + ")")
        self._pattern = re.compile("|".join(alternatives))
        self._encoded = tuple(orjson.dumps(s).decode()[1:-1] for s in ordered)

    def may_hold_secrets(self, line: str) -> bool:
        """Whether JSON ``line`` may hold something to redact. Sound because JSON escapes
        character by character: a secret in a value appears in the line as its own
        escaped form; a key prefix and the word bearer are never escaped."""
        return (
            "gwk_" in line
            or "bearer" in line.lower()
            or any(secret in line for secret in self._encoded)
        )

    def __call__(self, text: str) -> str:
        return self._pattern.sub(_replacement, text)

    def value(self, value: Any) -> Any:
        """``value`` with every string in it redacted (keys of mappings included);
        numbers, booleans and None stay as they are, anything else becomes its text."""
        if isinstance(value, str):
            return self(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, dict):
            return {self(str(k)): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self.value(v) for v in value]
        return self(str(value))


class JsonFormatter(logging.Formatter):
    """Formats records as one JSON object; extra fields go in ``record.fields``."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self._redact = redact

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            data.update(fields)
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        line = orjson.dumps(data, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
        if self._redact.may_hold_secrets(line):
            line = orjson.dumps(self._redact.value(data)).decode()
        return line


def configure_logging(level: str, secrets: Iterable[str]) -> None:
    """Send every log line (uvicorn's included) to stderr as redacted JSON."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(Redactor(secrets)))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
