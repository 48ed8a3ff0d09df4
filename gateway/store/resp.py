"""An auto-pipelining Redis connection for the request path.

redis-py sends one command per pooled connection and waits for its reply before the
connection serves anyone else; under load, that bookkeeping costs more CPU than everything
else the gateway does for a cache hit. Here every command of the process goes out on one of
a few long-lived connections: commands issued in the same event-loop turn leave in one
write, replies are matched to callers in order (Redis answers each connection in order),
and nobody waits for anybody else's reply. hiredis packs and parses.

Failure semantics match the store's: a reply slower than ``socket_timeout`` or a broken
connection fails every command in flight on it with :class:`redis.exceptions.RedisError`
(the store turns it into ``StorageUnavailable``) and the next command reconnects. A command
that could not be sent because the connection was found dead is retried once on a fresh one.
A connection whose hand-shake (TLS, ``AUTH``, ``SELECT``, ``CLIENT SETNAME``) fails is
closed before the error is raised, so a wrong password costs no socket.

URLs are read as redis-py reads them (:mod:`gateway.store.endpoint`), so both clients of
the store connect to the same place in the same way.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import hashlib
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import hiredis
from redis.exceptions import AuthenticationError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gateway.store.endpoint import Endpoint


def pack(*args: Any) -> bytes:
    """One command in RESP, packed by hiredis (floats as repr, like redis-py)."""
    packed: bytes = hiredis.pack_command(args)
    return packed


Bulks = tuple[int, bytes]


def bulks(*args: Any) -> Bulks:
    """``args`` as RESP bulk strings without the array header, with their count: pieces
    of a command that :meth:`PipelinedRedis.evalsha_packed` puts together (so the parts
    of a command that rarely change can be packed once)."""
    packed = pack(*args)
    return len(args), packed[packed.index(b"\r\n") + 2 :]


@dataclass(frozen=True, slots=True)
class Script:
    """A Lua script known by its SHA-1, sent in full only when the server lacks it."""

    name: str
    text: str
    sha: str

    @classmethod
    def of(cls, text: str, name: str = "script") -> Script:
        return cls(name, text, hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest())


Push = Callable[[list[Any]], None]


class Connection(asyncio.Protocol):
    """One socket: a write buffer flushed once per loop turn and a queue of waiting callers.

    With ``on_push``, replies of the pub/sub kind ``message`` go to it instead of a caller
    (a subscriber connection); ``on_lost`` hears when the connection fails.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        timeout: float,
        *,
        on_push: Push | None = None,
        on_lost: Callable[[], None] | None = None,
    ) -> None:
        self._loop = loop
        self._timeout = timeout
        self._on_push = on_push
        self._on_lost = on_lost
        self._transport: asyncio.Transport | None = None
        self._reader = hiredis.Reader()
        self._waiting: collections.deque[tuple[asyncio.Future[Any], float]] = collections.deque()
        self._out: list[bytes] = []
        self._heard = loop.time()
        self._watch: asyncio.TimerHandle | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast("asyncio.Transport", transport)

    def data_received(self, data: bytes) -> None:
        self._heard = self._loop.time()
        self._reader.feed(data)
        waiting = self._waiting
        while True:
            try:
                reply = self._reader.gets()
            except hiredis.ProtocolError as exc:
                self.fail(RedisConnectionError(f"Redis sent a malformed reply: {exc}"))
                return
            if reply is False:
                return
            if self._on_push is not None and type(reply) is list and reply[:1] == [b"message"]:
                self._on_push(reply)
                continue
            if not waiting:
                self.fail(RedisConnectionError("Redis sent a reply nobody asked for."))
                return
            future, _ = waiting.popleft()
            if future.done():
                continue
            if isinstance(reply, hiredis.ReplyError):
                future.set_exception(ResponseError(str(reply)))
            else:
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(RedisConnectionError("Connection to Redis lost."))

    @property
    def pending(self) -> int:
        return len(self._waiting)

    def send(self, packed: bytes) -> asyncio.Future[Any]:
        """Queue one packed command; its reply resolves the returned future."""
        future = self._loop.create_future()
        if self.closed:
            future.set_exception(RedisConnectionError("Connection to Redis lost."))
            return future
        now = self._loop.time()
        self._waiting.append((future, now))
        if not self._out:
            self._loop.call_soon(self._flush)
        self._out.append(packed)
        if self._watch is None:
            self._watch = self._loop.call_at(now + self._timeout, self._expire)
        return future

    def _flush(self) -> None:
        out, self._out = self._out, []
        if self._transport is not None and not self.closed:
            self._transport.write(b"".join(out))

    def _expire(self) -> None:
        """Fail commands with no reply in time (one timer per connection, armed for the
        oldest command still waiting). If Redis has said nothing at all since such a
        command was sent, the connection is dead or Redis is stuck: fail everything."""
        self._watch = None
        now = self._loop.time()
        for future, sent in self._waiting:
            if future.done():
                continue
            if sent + self._timeout > now:
                self._watch = self._loop.call_at(sent + self._timeout, self._expire)
                return
            if self._heard <= sent:
                self.fail(RedisTimeoutError("Timeout reading from Redis."))
                return
            future.set_exception(RedisTimeoutError("Timeout reading from Redis."))
            future.exception()

    def fail(self, error: Exception) -> None:
        """Fail everything in flight and close; the client opens a new connection."""
        first = not self.closed
        self.closed = True
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        while self._waiting:
            future, _ = self._waiting.popleft()
            if not future.done():
                future.set_exception(error)
                future.exception()
        if self._transport is not None:
            self._transport.abort()
        if first and self._on_lost is not None:
            self._on_lost()


async def dial(
    endpoint: Endpoint, factory: Callable[[], Connection], connect_timeout: float
) -> Connection:
    """A connected, authenticated connection with the URL's database selected.

    Any failure on the way (refused, timed out, TLS, wrong credentials, cancelled) closes
    the socket before the error leaves.
    """
    loop = asyncio.get_running_loop()
    end = endpoint
    try:
        async with asyncio.timeout(connect_timeout):
            if end.path is not None:
                transport, connection = await loop.create_unix_connection(factory, end.path)
            else:
                transport, connection = await loop.create_connection(
                    factory, end.host, end.port, ssl=end.tls
                )
    except (OSError, TimeoutError) as exc:
        raise RedisConnectionError(f"Cannot connect to Redis at {end.place}: {exc}") from exc
    if end.keepalive and end.path is None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    hello: list[asyncio.Future[Any]] = []
    if end.password is not None:
        auth = (end.username, end.password) if end.username else (end.password,)
        hello.append(connection.send(pack("AUTH", *auth)))
    if end.db:
        hello.append(connection.send(pack("SELECT", end.db)))
    if end.client_name:
        hello.append(connection.send(pack("CLIENT", "SETNAME", end.client_name)))
    try:
        replies = await asyncio.gather(*hello, return_exceptions=True)
    except BaseException:
        connection.fail(RedisConnectionError("Connection set-up did not finish."))
        raise
    for position, reply in enumerate(replies):
        if isinstance(reply, BaseException):
            connection.fail(RedisConnectionError("Redis refused the connection's set-up."))
            if not isinstance(reply, ResponseError):
                raise reply
            if position == 0 and end.password is not None:
                raise AuthenticationError(f"Redis refused the credentials: {reply}") from reply
            raise RedisConnectionError(f"Redis refused the connection's set-up: {reply}") from reply
    return connection


class PipelinedRedis:
    """Commands and scripts over a few auto-pipelined connections, opened on demand."""

    def __init__(
        self, url: str, *, socket_timeout: float, connect_timeout: float, connections: int = 2
    ) -> None:
        self.endpoint = Endpoint.from_url(url)
        self.timeout = self.endpoint.socket_timeout or socket_timeout
        self.connect_timeout = self.endpoint.connect_timeout or connect_timeout
        self._slots: list[Connection | None] = [None] * max(1, connections)
        self._opening: list[asyncio.Future[Connection] | None] = [None] * len(self._slots)

    async def execute(self, *args: Any) -> Any:
        """Run one command; its reply as hiredis parses it (bytes, ints, lists)."""
        return await self._send(pack(*args))

    async def evalsha(self, script: Script, keys: list[str], args: list[Any]) -> Any:
        """Run a script by SHA-1, loading it first if the server has forgotten it."""
        return await self.evalsha_packed(
            script, bulks("EVALSHA", script.sha, len(keys), *keys, *args)
        )

    async def evalsha_packed(self, script: Script, *parts: Bulks) -> Any:
        """Run a script from a command packed by the caller in pieces: together, ``parts``
        are ``EVALSHA <sha> <numkeys> keys... args...`` (see :func:`bulks`). If the server
        has forgotten the script it is loaded and the command sent again."""
        packed = b"*%d\r\n%s" % (
            sum(count for count, _ in parts),
            b"".join(piece for _, piece in parts),
        )
        try:
            return await self._send(packed)
        except ResponseError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
        await self.execute("SCRIPT", "LOAD", script.text)
        return await self._send(packed)

    async def _send(self, packed: bytes) -> Any:
        connection = await self._connection()
        if connection.closed:
            connection = await self._connection()
        return await connection.send(packed)

    async def aclose(self) -> None:
        """Close every connection and abandon those being opened; commands in flight fail."""
        for index, opening in enumerate(self._opening):
            if opening is not None:
                opening.cancel()
                self._opening[index] = None
        for index, connection in enumerate(self._slots):
            if connection is not None:
                connection.fail(RedisConnectionError("Client closed."))
                self._slots[index] = None

    async def _connection(self) -> Connection:
        best = 0
        for index, connection in enumerate(self._slots):
            if connection is None or connection.closed:
                return await self._open(index)
            current = self._slots[best]
            if current is not None and connection.pending < current.pending:
                best = index
        connection = self._slots[best]
        assert connection is not None
        return connection

    async def _open(self, index: int) -> Connection:
        opening = self._opening[index]
        if opening is None:
            opening = asyncio.ensure_future(self.dial())
            self._opening[index] = opening
            opening.add_done_callback(functools.partial(self._opened, index))
        return await asyncio.shield(opening)

    def _opened(self, index: int, opening: asyncio.Future[Connection]) -> None:
        wanted = self._opening[index] is opening
        if wanted:
            self._opening[index] = None
        if opening.cancelled() or opening.exception() is not None:
            return
        if wanted:
            self._slots[index] = opening.result()
        else:
            opening.result().fail(RedisConnectionError("Client closed."))

    async def dial(
        self, *, on_push: Push | None = None, on_lost: Callable[[], None] | None = None
    ) -> Connection:
        """A new connection to this client's endpoint (the subscriber opens its own)."""
        loop = asyncio.get_running_loop()
        return await dial(
            self.endpoint,
            lambda: Connection(loop, self.timeout, on_push=on_push, on_lost=on_lost),
            self.connect_timeout,
        )
