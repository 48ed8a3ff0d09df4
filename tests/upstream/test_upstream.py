"""The upstream client: what it sends, and how every failure is translated."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import orjson
import pytest

from gateway.upstream.client import Failure, Upstream, UpstreamCallError, create_transport

KEY = "sk-upstream-secret-value"
ENDPOINT = "https://upstream.test/v1/images/generations"


def make(handler: Callable[[httpx.Request], httpx.Response]) -> Upstream:
    transport = create_transport(max_connections=10, transport=httpx.MockTransport(handler))
    return Upstream(transport, ENDPOINT, KEY, connect_timeout=1, read_timeout=1)


async def call(handler: Callable[[httpx.Request], httpx.Response]) -> UpstreamCallError:
    with pytest.raises(UpstreamCallError) as caught:
        await make(handler).generate({"model": "m", "prompt": "p"}, "rid-1")
    return caught.value


async def test_sends_only_its_own_headers_and_the_body() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"created": 1, "data": [{"url": "u"}]})

    answer = await make(handler).generate({"model": "m", "prompt": "p", "quality": "hd"}, "r1")
    assert answer.status == 201 and answer.body == {"created": 1, "data": [{"url": "u"}]}
    request = seen[0]
    assert str(request.url) == ENDPOINT
    assert request.headers["host"] == "upstream.test"
    assert request.headers["content-length"] == str(len(request.content))
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["x-request-id"] == "r1"
    assert orjson.loads(request.content) == {"model": "m", "prompt": "p", "quality": "hd"}


async def test_upstream_400_keeps_its_message() -> None:
    failure = await call(
        lambda r: httpx.Response(
            400,
            json={
                "message": "Body validation error!",
                "path": "/v1/images/generations",
                "statusCode": 400,
            },
        )
    )
    assert failure.error.status == 400
    assert "Body validation error!" in failure.error.message


@pytest.mark.parametrize("status", [401, 403])
async def test_upstream_credentials_refused_is_502_without_the_key(status: int) -> None:
    failure = await call(lambda r: httpx.Response(status, json={"message": f"bad key {KEY}"}))
    assert failure.error.status == 502
    assert failure.error.code == "upstream_auth_failed"
    assert KEY not in failure.error.message


async def test_upstream_429_passes_retry_after() -> None:
    failure = await call(lambda r: httpx.Response(429, headers={"retry-after": "7"}))
    assert failure.error.status == 429 and failure.error.headers["retry-after"] == "7"
    assert failure.retry_after == 7


@pytest.mark.parametrize(("status", "mapped"), [(500, 502), (502, 502), (503, 502), (504, 504)])
async def test_upstream_server_errors(status: int, mapped: int) -> None:
    failure = await call(lambda r: httpx.Response(status, text="<html>oops</html>"))
    assert failure.error.status == mapped and failure.status == status


@pytest.mark.parametrize("content", [b"{not json", b"<html></html>"])
async def test_unreadable_success_is_502(content: bytes) -> None:
    failure = await call(lambda r: httpx.Response(200, content=content))
    assert failure.error.status == 502


@pytest.mark.parametrize(
    ("exc", "failure_kind", "status"),
    [
        (httpx.ConnectError("refused"), Failure.CONNECT, 502),
        (httpx.ConnectTimeout("slow connect"), Failure.CONNECT, 502),
        (httpx.ReadTimeout("slow"), Failure.TIMEOUT, 504),
        (httpx.RemoteProtocolError("reset"), Failure.BROKEN, 502),
        (httpx.ReadError("reset"), Failure.BROKEN, 502),
    ],
)
async def test_transport_failures(exc: Exception, failure_kind: Failure, status: int) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    failure = await call(handler)
    assert failure.failure is failure_kind and failure.error.status == status
    assert KEY not in failure.error.message


async def test_the_request_id_goes_upstream_in_the_alphabet_aiml_accepts() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            201,
            json={"created": 1, "data": [{"url": "u"}]},
            headers={"x-aimlapi-usd-spent": "0.052000000", "x-inference-id": "inf-1"},
        )

    answer = await make(handler).generate({"model": "m", "prompt": "p"}, "req.1:a_b-c")
    assert seen[0].headers["x-client-request-id"] == "req.1:a_b-c"
    assert answer.headers["x-aimlapi-usd-spent"] == "0.052000000"
    assert answer.headers["x-inference-id"] == "inf-1"
    await make(handler).generate({"model": "m", "prompt": "p"}, "a b/" + "x" * 200)
    sent = seen[1].headers["x-client-request-id"]
    assert sent == ("a_b_" + "x" * 200)[:128]
    assert len(sent) == 128
