"""The sync logic on its own (the e2e test runs it against the fake upstream)."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
import pytest

from gateway.models.sync import SyncError, sync_catalogue

SCHEMA = {
    "type": "object",
    "properties": {"model": {"type": "string", "enum": ["acme/x"]}, "prompt": {"type": "string"}},
}
DOC = {
    "openapi": "3.0.0",
    "paths": {
        "/v1/images/generations": {
            "post": {"requestBody": {"content": {"application/json": {"schema": SCHEMA}}}}
        }
    },
}


def test_the_upstream_key_goes_to_the_upstream_only(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/v1/models":
            return httpx.Response(
                200,
                json=[
                    {
                        "id": "acme/x",
                        "type": "openai/image-generations",
                        "info": {"docsJson": "https://docs.example/acme"},
                    },
                    {
                        "id": "acme/y",
                        "type": "openai/image-generations",
                        "info": {"docsJson": "https://up.example/docs?m=y"},
                    },
                    {"id": "acme/chat", "type": "chat-completion"},
                ],
            )
        if request.url.host == "docs.example":
            return httpx.Response(200, json=DOC)
        return httpx.Response(404)

    with httpx.Client(transport=httpx.MockTransport(answer)) as http:
        outcome = sync_catalogue(
            http, "https://up.example/", tmp_path / "m.json", api_key="secret", now=lambda: "t"
        )
    assert outcome.written
    by_host = {(r.url.host, r.url.path): r.headers.get("authorization") for r in seen}
    assert by_host == {
        ("up.example", "/v1/models"): "Bearer secret",
        ("docs.example", "/acme"): None,
        ("up.example", "/docs"): "Bearer secret",
    }
    assert "skipped acme/y: /docs?m=y answered 404" in outcome.report
    data = orjson.loads((tmp_path / "m.json").read_bytes())
    assert list(data["models"]) == ["acme/x"] and "etag" not in data["sync"]


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [(500, b"{}", "answered 500"), (200, b"<html>", "did not answer JSON"), (200, b"3", "neither")],
)
def test_bad_catalogue_answers(tmp_path: Path, status: int, body: bytes, message: str) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(status, content=body))
    with httpx.Client(transport=transport) as http, pytest.raises(SyncError, match=message):
        sync_catalogue(http, "https://up.example", tmp_path / "m.json", now=lambda: "t")
    assert not (tmp_path / "m.json").exists()
