"""Small HTTP helpers shared by the routes: bounded JSON bodies, bearer tokens, responses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive

from gateway.errors import BodyTooLarge, GatewayError, InvalidRequest, RequestTimeout, render
from gateway.pipeline.disconnect import ClientGone
from gateway.web.deadlines import Deadlines


async def read_body(
    receive: Receive, declared: str | None, limit: int, timeout: float, deadlines: Deadlines
) -> bytes:
    """The whole request body, refusing (413) as soon as it passes ``limit`` bytes and
    (408) when it has not arrived within ``timeout`` seconds.

    ``declared`` is the Content-Length header, if any. The body is read message by
    message and never buffered past the limit, so a huge or endless body costs at most
    ``limit`` bytes of memory.
    """
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"The request body is larger than the limit of {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    try:
        with deadlines.guard(timeout):
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    raise ClientGone()
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge(
                        f"The request body is larger than the limit of {limit} bytes."
                    )
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
    except TimeoutError:
        raise RequestTimeout(
            f"The request body was not received within {timeout:g} seconds."
        ) from None
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def parse_json(raw: bytes) -> Any:
    """A request body parsed as JSON, or a 400 that says what is wrong."""
    if not raw.strip():
        raise InvalidRequest("The request body is empty; send a JSON object.", code="invalid_json")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidRequest(
            "We could not parse the JSON body of your request. Send valid JSON with "
            "'Content-Type: application/json'.",
            code="invalid_json",
        ) from None


def parse_object(raw: bytes) -> dict[str, Any]:
    """Like :func:`parse_json`, but the body must be a JSON object."""
    body = parse_json(raw)
    if not isinstance(body, dict):
        raise InvalidRequest(
            f"The request body must be a JSON object, not {type(body).__name__}.",
            code="invalid_json",
        )
    return body


async def read_json(request: Request, limit: int, timeout: float, deadlines: Deadlines) -> Any:
    """The request body parsed as JSON (see :func:`read_body` for the limits)."""
    return parse_json(
        await read_body(
            request.receive, request.headers.get("content-length"), limit, timeout, deadlines
        )
    )


def bearer(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, if any."""
    return bearer_token(request.headers.get("authorization"))


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization`` header value in the Bearer scheme, if any."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response serialised with orjson."""
    return Response(
        orjson.dumps(data), status_code=status, headers=headers, media_type="application/json"
    )


def error_response(exc: GatewayError, headers: Mapping[str, str] | None = None) -> Response:
    """``exc`` as a Starlette response (see :func:`gateway.errors.render`)."""
    status, merged, body = render(exc, headers)
    return Response(body, status_code=status, headers=merged, media_type="application/json")
