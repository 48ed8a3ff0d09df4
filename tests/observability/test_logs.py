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


def test_secrets_holding_quotes_and_backslashes_are_redacted() -> None:
    secrets = ['pa"ss\\word-0123456789', "tok\\en\\\\with-slashes", 'admin"token"quoted']
    formatter = JsonFormatter(Redactor(secrets))
    record = logging.LogRecord(
        "t", logging.WARNING, __file__, 1, "connect failed for %s", (secrets[0],), None
    )
    record.fields = {
        "url": f"redis://:{secrets[0]}@redis:6379/0",
        "nested": {"token": secrets[1], "list": [secrets[2], 5, None]},
        secrets[2]: True,
    }
    line = formatter.format(record)
    data = orjson.loads(line)
    text = orjson.dumps(data).decode() + str(data)
    for secret in secrets:
        assert secret not in text and orjson.dumps(secret).decode()[1:-1] not in line
    assert data["message"] == "connect failed for [REDACTED]"
    assert data["url"] == "redis://:[REDACTED]@redis:6379/0"
    assert data["nested"] == {"token": "[REDACTED]", "list": ["[REDACTED]", 5, None]}


def test_objects_that_are_not_json_are_logged_as_redacted_text() -> None:
    class Thing:
        def __str__(self) -> str:
            return f"thing with Bearer {UPSTREAM}"

    record = logging.LogRecord("t", logging.INFO, __file__, 1, "x", (), None)
    record.fields = {"thing": Thing(), "count": 3, "ratio": 0.5, "by_status": {502: 1}}
    data = orjson.loads(JsonFormatter(Redactor()).format(record))
    assert data["thing"] == "thing with Bearer [REDACTED]"
    assert (data["count"], data["ratio"], data["by_status"]) == (3, 0.5, {"502": 1})


def test_a_line_with_nothing_secret_is_written_as_encoded() -> None:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "request", (), None)
    record.fields = {"path": "/v1/images/generations", "status": 201, "by_status": {502: 1}}
    line = JsonFormatter(Redactor([UPSTREAM])).format(record)
    assert orjson.loads(line)["by_status"] == {"502": 1}
    assert "REDACTED" not in line
