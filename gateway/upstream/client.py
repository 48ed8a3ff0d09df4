"""The client side towards the AI/ML API: one pooled httpx client, error translation.

Client headers are never forwarded: the upstream request is built from scratch with the
gateway's own upstream key, so the client's Authorization, cookies and hop-by-hop headers
cannot leak. Every transport failure is classified here, at the boundary, into the
gateway's own errors; nothing from httpx or the sockets escapes this module.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from gateway import __version__
from gateway.errors import (
    GatewayError,
    UpstreamError,
    UpstreamRejected,
    UpstreamTimeout,
)
from gateway.upstream.connection import RequestNotSent, ResponseTooLarge
from gateway.upstream.payload import Payload
from gateway.upstream.proxy import ProxyRules
from gateway.upstream.transport import MAX_BODY_BYTES, PooledTransport, timeouts


class Failure(enum.Enum):
    """How a call failed, which decides whether it may be retried."""

    CONNECT = "connect"
    TIMEOUT = "timeout"
    BROKEN = "broken"
    TOO_LARGE = "too_large"


CLIENT_REQUEST_ID = re.compile(r"[^A-Za-z0-9._:-]")
MAX_CLIENT_REQUEST_ID = 128


def client_request_id(request_id: str) -> str:
    """The gateway's request id as AIML accepts ``X-Client-Request-Id`` (1 to 128 of
    ``A-Z a-z 0-9 . _ : -``), so the upstream's usage log names the request."""
    return CLIENT_REQUEST_ID.sub("_", request_id)[:MAX_CLIENT_REQUEST_ID] or "-"


@dataclass(frozen=True, slots=True)
class UpstreamAnswer:
    """A successful (2xx) upstream answer, parsed; ``headers`` carry what it cost."""

    status: int
    body: Any
    raw: bytes
    headers: httpx.Headers


class UpstreamCallError(Exception):
    """A failed call: ``error`` is what the client gets, the rest is for retries/metrics."""

    def __init__(
        self,
        error: GatewayError,
        *,
        status: int | None = None,
        failure: Failure | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(error.message)
        self.error = error
        self.status = status
        self.failure = failure
        self.retry_after = retry_after

    @property
    def outcome(self) -> str:
        """A short label for metrics and logs."""
        if self.failure is not None:
            return self.failure.value
        return f"http_{self.status}"


def create_transport(
    *,
    max_connections: int,
    max_response_bytes: int = MAX_BODY_BYTES,
    proxies: ProxyRules | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncBaseTransport:
    """The one pooled transport of the process (:mod:`gateway.upstream.transport`), unless a test
    passes its own (an ``httpx.MockTransport``).

    ``proxies`` are the environment's (:func:`gateway.upstream.proxy.environment_proxies`,
    read when the app is built so that a bad one stops the start-up)."""
    if transport is not None:
        return transport
    return PooledTransport(
        max_connections=max_connections, max_body_bytes=max_response_bytes, proxies=proxies
    )


CONNECT_FAILURES = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
    RequestNotSent,
)


def _classify(exc: httpx.TransportError) -> Failure:
    """Tell failures where nothing reached the upstream (safe to retry) from later ones."""
    if isinstance(exc, CONNECT_FAILURES):
        return Failure.CONNECT
    if isinstance(exc, httpx.TimeoutException):
        return Failure.TIMEOUT
    if isinstance(exc, ResponseTooLarge):
        return Failure.TOO_LARGE
    return Failure.BROKEN


def _message_of(body: Any) -> str | None:
    """The human message of an AIML-shaped or OpenAI-shaped error body."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        message = body.get("message")
        if isinstance(message, str):
            return message
        if isinstance(message, list) and all(isinstance(m, str) for m in message):
            return "; ".join(message)
    return None


def _retry_after(headers: httpx.Headers) -> float | None:
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class Upstream:
    """Sends prepared bodies to the upstream endpoint with the gateway's own key.

    Requests go straight to the transport as ``httpx.Request`` objects: the client layer
    (cookie jar, auth flows, redirects, URL merging) does nothing a gateway needs and cost
    a third of the gateway's CPU per miss.
    """

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport,
        endpoint: str,
        api_key: str | None,
        *,
        other_keys: tuple[str, ...] = (),
        connect_timeout: float = 5.0,
        read_timeout: float = 120.0,
    ) -> None:
        self._transport = transport
        self._url = httpx.URL(endpoint)
        self._host = self._url.netloc.decode("ascii")
        self._api_key = api_key
        self._all_keys = tuple(k for k in (api_key, *other_keys) if k)
        self._timeout = timeouts(connect_timeout, read_timeout)

    def _scrub(self, text: str) -> str:
        for key in self._all_keys:
            text = text.replace(key, "***")
        return text[:500]

    async def generate(
        self, body: dict[str, Any] | Payload, request_id: str, api_key: str | None = None
    ) -> UpstreamAnswer:
        """POST one generation; return the parsed 2xx answer or raise UpstreamCallError.

        ``api_key`` overrides the default upstream key (key rotation). A :class:`Payload`
        (an edit) goes to its own path with its own content type.
        """
        if isinstance(body, Payload):
            return await self._send_payload(body, request_id, api_key)
        content = orjson.dumps(body)
        headers = self._headers("application/json", len(content), request_id, api_key)
        # ``stream=`` with every header given: httpx then works out none of them itself.
        request = httpx.Request(
            "POST",
            self._url,
            headers=headers,
            stream=httpx.ByteStream(content),
            extensions={"timeout": self._timeout},
        )
        return await self._exchange(request)

    def _headers(
        self, content_type: str, length: int, request_id: str, api_key: str | None
    ) -> dict[str, str]:
        """Every header of an upstream request, built from scratch (never the client's)."""
        headers = {
            "host": self._host,
            "content-type": content_type,
            "content-length": str(length),
            "accept": "application/json",
            "user-agent": f"imagegw/{__version__}",
            "x-request-id": request_id,
            "x-client-request-id": client_request_id(request_id),
        }
        api_key = api_key or self._api_key
        if api_key:
            headers["authorization"] = f"Bearer {api_key}"
        return headers

    async def _send_payload(
        self, payload: Payload, request_id: str, api_key: str | None
    ) -> UpstreamAnswer:
        """POST ``payload`` to its path on the upstream, streamed from its pieces."""
        headers = self._headers(payload.content_type, payload.length, request_id, api_key)
        request = httpx.Request(
            "POST",
            self._url.copy_with(path=payload.path),
            headers=headers,
            stream=payload,
            extensions={"timeout": self._timeout},
        )
        return await self._exchange(request)

    async def _exchange(self, request: httpx.Request) -> UpstreamAnswer:
        try:
            response = await self._transport.handle_async_request(request)
            try:
                # Read as sent, unless it needs decoding or was read already (a mock's).
                if response.is_stream_consumed or "content-encoding" in response.headers:
                    raw = await response.aread()
                else:
                    raw = b"".join([part async for part in response.aiter_raw()])
            finally:
                await response.aclose()
        except httpx.TransportError as exc:
            raise self._transport_failure(_classify(exc)) from None
        except httpx.HTTPError:
            raise UpstreamCallError(
                UpstreamError("The upstream call failed."), failure=Failure.BROKEN
            ) from None
        return self._answer(response.status_code, raw, response.headers)

    def _transport_failure(self, failure: Failure) -> UpstreamCallError:
        if failure is Failure.TIMEOUT:
            error: GatewayError = UpstreamTimeout("The upstream did not answer in time.")
        elif failure is Failure.CONNECT:
            error = UpstreamError("The upstream could not be reached.", code="upstream_unreachable")
        elif failure is Failure.TOO_LARGE:
            error = UpstreamError("The upstream sent an answer larger than the gateway accepts.")
        else:
            error = UpstreamError("The upstream connection failed during the call.")
        return UpstreamCallError(error, failure=failure)

    def _answer(self, status: int, raw: bytes, headers: httpx.Headers) -> UpstreamAnswer:
        try:
            parsed: Any = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            parsed = None
            if 200 <= status < 300:
                raise UpstreamCallError(
                    UpstreamError("The upstream returned an answer the gateway could not read."),
                    status=status,
                ) from None
        if 200 <= status < 300:
            return UpstreamAnswer(status=status, body=parsed, raw=raw, headers=headers)
        raise self._status_failure(status, parsed, headers)

    def _status_failure(
        self, status: int, parsed: Any, headers: httpx.Headers
    ) -> UpstreamCallError:
        message = _message_of(parsed)
        retry_after = _retry_after(headers)
        error: GatewayError
        if status in (400, 422):
            error = UpstreamRejected(
                self._scrub(f"The upstream rejected the request: {message or 'bad request'}"),
                status=400,
                code="upstream_rejected",
            )
        elif status in (401, 403):
            error = UpstreamError(
                "The gateway's upstream credentials were refused (invalid upstream key or no "
                "credits left). This is a gateway configuration problem: contact its operator.",
                code="upstream_auth_failed",
            )
        elif status == 429:
            hdrs = {"retry-after": str(max(1, round(retry_after)))} if retry_after else {}
            error = UpstreamRejected(
                "The upstream is throttling the gateway; retry shortly.",
                status=429,
                code="upstream_rate_limited",
                headers=hdrs,
            )
        elif status == 504:
            error = UpstreamTimeout("The upstream timed out generating the image.")
        else:
            error = UpstreamError(f"The upstream failed with status {status}.")
        return UpstreamCallError(error, status=status, retry_after=retry_after)
