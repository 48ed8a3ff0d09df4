"""Small HTTP helpers shared by the routes: bounded JSON bodies, bearer tokens, responses."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from gateway.errors import BodyTooLarge, InvalidRequest, RequestTimeout


async def read_json(request: Request, limit: int, timeout: float = 10.0) -> Any:
    """The request body parsed as JSON, refusing (413) as soon as it passes ``limit`` bytes.

    The body is read chunk by chunk and never buffered past the limit, so a huge or
    endless body costs at most ``limit`` bytes of memory.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"The request body is larger than the limit of {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge(
                        f"The request body is larger than the limit of {limit} bytes.")
                chunks.append(chunk)
    except TimeoutError:
        raise RequestTimeout(
            f"The request body was not received within {timeout:g} seconds.") from None
    raw = b"".join(chunks)
    if not raw.strip():
        raise InvalidRequest(
            "The request body is empty; send a JSON object.", code="invalid_json"
        )
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidRequest(
            "We could not parse the JSON body of your request. Send valid JSON with "
            "'Content-Type: application/json'.",
            code="invalid_json",
        ) from None


async def read_object(request: Request, limit: int,
                      timeout: float = 10.0) -> dict[str, Any]:
    """Like :func:`read_json`, but the body must be a JSON object."""
    body = await read_json(request, limit, timeout)
    if not isinstance(body, dict):
        raise InvalidRequest(
            f"The request body must be a JSON object, not {type(body).__name__}.",
            code="invalid_json",
        )
    return body


def bearer(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, if any."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response serialised with orjson."""
    return Response(orjson.dumps(data), status_code=status, headers=headers,
                    media_type="application/json")
