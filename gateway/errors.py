"""Every error the gateway can answer with, and the one place that renders them.

Each class carries the HTTP status, OpenAI's ``type`` and ``code``, and the ``param`` it is
about, so handlers raise and never build error bodies themselves. Rendering follows OpenAI's
shape ``{"error": {"message", "type", "param", "code"}}`` so the official SDKs map every
answer to their own exception classes (400 BadRequestError, 401 AuthenticationError, ...).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson

from gateway.store.errors import (
    StorageBug,
    StorageConflict,
    StorageError,
    StorageNotFound,
    StorageUnavailable,
)


class GatewayError(Exception):
    """Base of every error that reaches a client; never carries a secret in its message.

    ``log_fields`` carries what the request's access-log line should say that only the
    raiser knew (the id of a refused key, the status and time of a failed upstream call);
    it is never part of the answer.
    """

    status: int = 500
    type: str = "server_error"
    code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        self.headers: dict[str, str] = dict(headers or {})
        self.log_fields: dict[str, Any] = {}

    def body(self) -> dict[str, dict[str, str | None]]:
        """The OpenAI-shaped JSON body for this error."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


class InvalidRequest(GatewayError):
    """The request is malformed or a field is out of range (400, ``param`` names the field)."""

    status = 400
    type = "invalid_request_error"
    code = "invalid_value"


class BodyTooLarge(GatewayError):
    """The request body exceeds ``GATEWAY_MAX_BODY_BYTES``."""

    status = 413
    type = "invalid_request_error"
    code = "request_too_large"


class RequestTimeout(GatewayError):
    """The client sent its body too slowly."""

    status = 408
    type = "invalid_request_error"
    code = "request_timeout"


class AuthenticationFailed(GatewayError):
    """Missing, unknown, disabled, revoked or expired client key."""

    status = 401
    type = "invalid_request_error"
    code = "invalid_api_key"


class PermissionDenied(GatewayError):
    """The key is valid but may not use what it asked for (a model outside its allow-list)."""

    status = 403
    type = "invalid_request_error"
    code = "model_not_allowed"


class NotFound(GatewayError):
    """Unknown route or unknown resource."""

    status = 404
    type = "invalid_request_error"
    code = "not_found"


class MethodNotAllowed(GatewayError):
    """Known route, wrong HTTP method."""

    status = 405
    type = "invalid_request_error"
    code = "method_not_allowed"


class Conflict(GatewayError):
    """The resource already exists (for instance a declared key hash used twice)."""

    status = 409
    type = "invalid_request_error"
    code = "conflict"


class RateLimited(GatewayError):
    """A per-minute limit is full; ``retry-after`` says when there will be room."""

    status = 429
    type = "requests"
    code = "rate_limit_exceeded"


class QuotaExceeded(GatewayError):
    """A day or month image quota is used up; retrying will not help before the window ends."""

    status = 429
    type = "insufficient_quota"
    code = "insufficient_quota"

    def __init__(self, message: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message, headers={"x-should-retry": "false", **(headers or {})})


class StoreUnavailable(GatewayError):
    """The state store (Redis) did not answer in time; limits fail closed."""

    status = 503
    type = "server_error"
    code = "store_unavailable"

    def __init__(
        self,
        message: str = "The gateway's state store is unavailable; retry shortly.",
        *,
        retry_after: int = 1,
    ) -> None:
        super().__init__(message, headers={"retry-after": str(retry_after)})


class ServiceUnavailable(GatewayError):
    """The gateway refuses to call the upstream right now (circuit open, shutting down)."""

    status = 503
    type = "server_error"
    code = "service_unavailable"


class UpstreamError(GatewayError):
    """The upstream failed in a way the client cannot fix (bad gateway)."""

    status = 502
    type = "upstream_error"
    code = "upstream_error"


class UpstreamTimeout(GatewayError):
    """The upstream did not answer within the configured timeout."""

    status = 504
    type = "upstream_error"
    code = "upstream_timeout"


class UpstreamRejected(GatewayError):
    """The upstream refused the request itself; its status and message are passed on."""

    type = "invalid_request_error"
    code = None

    def __init__(
        self,
        message: str,
        *,
        status: int,
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, param=param, code=code, headers=headers)
        self.status = status


def render(
    exc: GatewayError, headers: Mapping[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and OpenAI-shaped JSON body for ``exc``, merging extra ``headers``."""
    merged = {**exc.headers, **headers} if headers else exc.headers
    return exc.status, merged, orjson.dumps(exc.body())


UNEXPECTED = "The gateway hit an unexpected error; it was logged."


def unexpected(exc: Exception) -> GatewayError:
    """The 500 answered for an exception nothing expected, after logging it with its
    traceback (the log redacts secrets; the answer says nothing of the cause)."""
    logging.getLogger("gateway").error("unexpected error", exc_info=exc)
    return GatewayError(UNEXPECTED)


def from_storage(exc: StorageError) -> GatewayError:
    """What a client is told of a storage error that nothing below the web layer handled."""
    if isinstance(exc, StorageNotFound):
        return NotFound(exc.message)
    if isinstance(exc, StorageConflict):
        return Conflict(exc.message)
    if isinstance(exc, StorageUnavailable):
        return StoreUnavailable()
    if isinstance(exc, StorageBug):
        # A bug, not an outage: retrying will not help, so not 503. The store logged it
        # with what failed (the script's name); Python's traceback says nothing more.
        return GatewayError(UNEXPECTED)
    return unexpected(exc)


def client_error(exc: Exception) -> GatewayError:
    """Any exception as the GatewayError answered for it: the one place that decides."""
    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, StorageError):
        return from_storage(exc)
    return unexpected(exc)
