"""One upstream connection: an asyncio protocol whose responses httptools parses.

An exchange is one write and one future: the parser's callbacks collect the answer and the
future resolves when it is complete. What the upstream may send is bounded: the head of
the answer (status line, headers and any interim 1xx answers before the final one) to
``max_header_bytes``, the body to ``max_body_bytes`` (a declared ``Content-Length`` over it
fails at once), and the whole answer must arrive within the read timeout of the request
being written, so neither a flood nor a slow drip can hold memory or a call for ever.

A body delimited by the close of the connection is complete only on a clean close: a reset
or an error before it is a broken answer, like a short ``Content-Length`` or chunked body.
"""

from __future__ import annotations

import asyncio
import select
import ssl
from collections.abc import AsyncIterable
from typing import cast

import httptools
import httpx

Origin = tuple[bytes, bytes, int]
Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


class RequestNotSent(httpx.WriteError):
    """The connection was found closed before the request was written, or the write
    failed before a byte left: the server cannot have seen the request."""


class ResponseTooLarge(httpx.RemoteProtocolError):
    """The upstream's answer went over the transport's header or body limit."""


class Connection(asyncio.Protocol):
    """One socket to the upstream (maybe through a proxy), one exchange at a time."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        origin: Origin,
        max_header_bytes: int,
        max_body_bytes: int,
    ) -> None:
        self.origin = origin
        self.idle_since = 0.0
        self.closed = False
        self._loop = loop
        self._max_head = max_header_bytes
        self._max_body = max_body_bytes
        self._raw: asyncio.Transport | None = None
        self._transport: asyncio.Transport | None = None
        self._poller: select.poll | None = None
        self._parser: httptools.HttpResponseParser | None = None
        self._answer: asyncio.Future[Answer] | None = None
        self._status = 0
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._head_bytes = 0
        self._body_bytes = 0
        self._headers_done = False
        self._bodiless = False
        self._delimited_by_close = False
        self._keep_alive = False
        self._writable: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._raw = self._transport = cast("asyncio.Transport", transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            self._poller = select.poll()
            self._poller.register(sock.fileno(), select.POLLIN)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._wake_writer()
        if self._answer is not None and not self._answer.done():
            if exc is None and self._headers_done and self._delimited_by_close:
                self._keep_alive = False
                self.on_message_complete()
            else:
                self._fail(
                    httpx.RemoteProtocolError(
                        "The upstream closed the connection before a complete response."
                        if exc is None
                        else f"The upstream connection broke before a complete response: {exc}"
                    )
                )
        # The parser calls back into this object and the transports hold it: dropping them
        # lets reference counting free a closed connection at once instead of leaving a
        # cycle for the collector (a thousand at a time when clients leave en masse).
        self._parser = None
        self._transport = self._raw = None
        self._poller = None

    def data_received(self, data: bytes) -> None:
        parser = self._parser
        if parser is None:
            self.close()
            return
        try:
            parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            reason = exc.__context__
            self._fail(
                reason
                if isinstance(reason, httpx.TransportError)
                else httpx.RemoteProtocolError("The upstream sent a malformed response.")
            )
            return
        if not self._headers_done and self._parser is not None:
            self._head_bytes += len(data)
            if self._head_bytes > self._max_head:
                self._fail(
                    ResponseTooLarge(
                        f"The upstream's response head is over {self._max_head} bytes."
                    )
                )

    def on_message_begin(self) -> None:
        if self._answer is None or self._answer.done():
            raise httpx.RemoteProtocolError("The upstream sent an unrequested response.")
        self._headers = []
        self._body = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        assert self._parser is not None
        self._status = status = self._parser.get_status_code()
        if status < 200:
            return
        self._headers_done = True
        length = None
        framed = False
        for name, value in self._headers:
            size = len(name)
            if size == 14 and name.lower() == b"content-length":
                length = int(value)
            elif size == 17 and name.lower() == b"transfer-encoding":
                framed = True
        if self._bodiless:
            self._keep_alive = self._parser.should_keep_alive()
            self._complete(b"")
            return
        if length is not None and length > self._max_body:
            raise ResponseTooLarge(
                f"The upstream announced a body of {length} bytes, over {self._max_body}."
            )
        self._delimited_by_close = length is None and not framed and status not in (204, 304)

    def on_body(self, body: bytes) -> None:
        if self._bodiless:
            raise httpx.RemoteProtocolError("The upstream sent a body where none belongs.")
        self._body_bytes += len(body)
        if self._body_bytes > self._max_body:
            raise ResponseTooLarge(f"The upstream's response body is over {self._max_body} bytes.")
        self._body.append(body)

    def on_message_complete(self) -> None:
        if self._status < 200 or self._bodiless:
            return
        if self._parser is not None:
            self._keep_alive = self._parser.should_keep_alive()
        self._complete(b"".join(self._body) if len(self._body) != 1 else self._body[0])

    def pause_writing(self) -> None:
        if self._writable is None:
            self._writable = self._loop.create_future()

    def resume_writing(self) -> None:
        self._wake_writer()

    def _wake_writer(self) -> None:
        """Let a body being written go on (the socket drained), or see why it must stop."""
        waiting, self._writable = self._writable, None
        if waiting is not None and not waiting.done():
            waiting.set_result(None)

    def _complete(self, body: bytes) -> None:
        self._parser = None
        if self._writable is not None:
            self._wake_writer()
        answer = self._answer
        if answer is not None and not answer.done():
            answer.set_result((self._status, self._headers, body))

    def _fail(self, error: Exception) -> None:
        self._parser = None
        self._wake_writer()
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(error)
        self.close()

    def _expire(self) -> None:
        self._fail(httpx.ReadTimeout("The upstream did not answer in time."))

    def has_news(self) -> bool:
        """Whether an idle connection's socket has something the loop has not read yet:
        the server's close (or stray bytes), so the connection must not be reused.

        The loop notices a close on its next turn; a request written before that would be
        lost on a connection the server already gave up.
        """
        return self._poller is None or bool(self._poller.poll(0))

    def close(self) -> None:
        """Close at once; an exchange in progress fails."""
        self.closed = True
        if self._transport is not None:
            self._transport.abort()

    async def exchange(
        self,
        data: bytes,
        timeout: float | None,
        *,
        bodiless: bool = False,
        rest: AsyncIterable[bytes] | None = None,
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes, bool]:
        """Send one request; the response's status, headers, body and reusability.

        ``timeout`` bounds the whole answer; ``bodiless`` is for answers that have no body
        whatever their headers say (to HEAD and CONNECT). ``rest`` is the rest of a large
        body, written after ``data`` as the socket drains (writing stops if the answer
        comes first; the connection is then not reused). Raises :class:`RequestNotSent`
        when the server provably never saw the request.
        """
        transport, raw = self._transport, self._raw
        if self.closed or transport is None or raw is None or transport.is_closing():
            self.close()
            raise RequestNotSent("The upstream closed the connection before the request.")
        transport.write(data)
        # The socket is written at once when nothing is queued (on both asyncio's and
        # uvloop's transports, TLS included): a failed write has closed it already, and
        # not a byte of the request left.
        if raw.is_closing():
            self.close()
            raise RequestNotSent("The upstream closed the connection before the request.")
        self._parser = httptools.HttpResponseParser(self)
        self._answer = answer = self._loop.create_future()
        self._status = self._head_bytes = self._body_bytes = 0
        self._headers_done = self._delimited_by_close = self._keep_alive = False
        self._bodiless = bodiless
        timer = None if timeout is None else self._loop.call_later(timeout, self._expire)
        sent = True
        try:
            if rest is not None:
                sent = await self._write(transport, rest, answer)
            status, headers, body = await answer
        except BaseException:
            if not answer.done():
                answer.cancel()
            self.close()
            raise
        finally:
            if timer is not None:
                timer.cancel()
            self._answer = None
        return status, headers, body, sent and self._keep_alive and not self.closed

    async def _write(
        self,
        transport: asyncio.Transport,
        rest: AsyncIterable[bytes],
        answer: asyncio.Future[Answer],
    ) -> bool:
        """Write ``rest`` under flow control; whether all of it was written."""
        async for chunk in rest:
            while self._writable is not None and not answer.done() and not self.closed:
                await self._writable
            if answer.done() or self.closed:
                return False
            transport.write(chunk)
        return True

    async def start_tls(self, context: ssl.SSLContext, server_hostname: str) -> None:
        """Upgrade the connection (direct or tunnelled) to TLS.

        A context the caller supplied is used as it is (never mutated): if its ALPN
        settings made the server pick anything but HTTP/1.1, the connection is refused.
        """
        assert self._raw is not None
        transport = await self._loop.start_tls(
            self._raw, self, context, server_hostname=server_hostname
        )
        if transport is None:
            raise httpx.ConnectError("The TLS handshake with the upstream did not complete.")
        self._transport = transport
        chosen = transport.get_extra_info("ssl_object").selected_alpn_protocol()
        if chosen not in (None, "http/1.1"):
            raise httpx.ConnectError(
                f"The upstream chose {chosen!r} by ALPN; this transport speaks HTTP/1.1 only."
            )
