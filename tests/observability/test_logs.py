"""Logs are JSON and never carry a secret, tracebacks included."""

from __future__ import annotations

import logging

import orjson

from gateway.observability.logs import JsonFormatter, Redactor

CLIENT_KEY = "gwk_" + "A" * 43
UPSTREAM = "sk-upstream-0123456789"


def test_exception_tracebacks_are_redacted() -> None:
    formatter = JsonFormatter(Redactor([UPSTREAM]))
    try:
        raise RuntimeError(f"boom with {CLIENT_KEY} and Bearer {UPSTREAM} and {UPSTREAM}")
    except RuntimeError as exc:
        record = logging.LogRecord(
            "t",
            logging.ERROR,
            __file__,
            1,
            "failed %s",
            (CLIENT_KEY,),
            (type(exc), exc, exc.__traceback__),
        )
    line = formatter.format(record)
    data = orjson.loads(line)
    assert "RuntimeError" in data["exception"]
    assert CLIENT_KEY not in line and UPSTREAM not in line
    assert "gwk_AAAA[REDACTED]" in line


def test_extra_fields_are_included() -> None:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "request", (), None)
    record.fields = {"status": 201, "key_id": "key_1"}
    data = orjson.loads(JsonFormatter(Redactor()).format(record))
    assert data["status"] == 201 and data["message"] == "request"
