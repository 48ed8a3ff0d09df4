"""JSON logs, one line per event, with secrets redacted everywhere (tracebacks included)."""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Iterable
from typing import Any

import orjson

KEY_PATTERN = re.compile(r"gwk_[A-Za-z0-9_-]{8,}")
BEARER_PATTERN = re.compile(r"(?i)(bearer\s+)[^\s'\",]+")


class Redactor:
    """Removes client keys, bearer tokens and configured secrets from text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[REDACTED]")
        text = KEY_PATTERN.sub(lambda m: m.group(0)[:8] + "[REDACTED]", text)
        return BEARER_PATTERN.sub(r"\1[REDACTED]", text)


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
        return self._redact(orjson.dumps(data, default=str).decode())


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
