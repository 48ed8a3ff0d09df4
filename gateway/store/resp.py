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
"""

from __future__ import annotations

import asyncio
import collections
import functools
import hashlib
import ssl
from dataclasses import dataclass
from typing import Any, cast

import hiredis
from redis.asyncio.connection import parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError


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

    text: str
    sha: str

    @classmethod
    def of(cls, text: str) -> Script:
        return cls(text, hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest())


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where and how to connect, read from a ``redis://``, ``rediss://`` or ``unix://`` URL."""

    host: str
    port: int
    path: str | None
    db: int
    username: str | None
    password: str | None
    tls: ssl.SSLContext | None

    @classmethod
    def from_url(cls, url: str) -> Endpoint:
        options = parse_url(url)
        tls = None
        if url.startswith("rediss://"):
            cafile = options.get("ssl_ca_certs")
            tls = ssl.create_default_context(cafile=str(cafile) if cafile else None)
            if str(options.get("ssl_cert_reqs", "required")).lower() in ("none", "0"):
                tls.check_hostname = False
                tls.verify_mode = ssl.CERT_NONE
        return cls(
            host=str(options.get("host", "localhost")),
            port=int(options.get("port", 6379)),
            path=options.get("path"),
            db=int(options.get("db", 0)),
            username=options.get("username"),
            password=options.get("password"),
            tls=tls,
        )


class _Connection(asyncio.Protocol):
    """One socket: a write buffer flushed once per loop turn and a queue of waiting callers."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        self._loop = loop
        self._timeout = timeout
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
            reply = self._reader.gets()
            if reply is False:
                return
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


class PipelinedRedis:
    """Commands and scripts over a few auto-pipelined connections, opened on demand."""

    def __init__(
        self, url: str, *, socket_timeout: float, connect_timeout: float, connections: int = 2
    ) -> None:
        self._endpoint = Endpoint.from_url(url)
        self._timeout = socket_timeout
        self._connect_timeout = connect_timeout
        self._slots: list[_Connection | None] = [None] * max(1, connections)
        self._opening: list[asyncio.Future[_Connection] | None] = [None] * len(self._slots)

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
        """Close every connection; commands still in flight fail."""
        for index, connection in enumerate(self._slots):
            if connection is not None:
                connection.fail(RedisConnectionError("Client closed."))
                self._slots[index] = None

    async def _connection(self) -> _Connection:
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

    async def _open(self, index: int) -> _Connection:
        opening = self._opening[index]
        if opening is None:
            opening = asyncio.ensure_future(self._dial())
            self._opening[index] = opening
            opening.add_done_callback(functools.partial(self._opened, index))
        return await asyncio.shield(opening)

    def _opened(self, index: int, opening: asyncio.Future[_Connection]) -> None:
        self._opening[index] = None
        if not opening.cancelled() and opening.exception() is None:
            self._slots[index] = opening.result()

    async def _dial(self) -> _Connection:
        loop = asyncio.get_running_loop()
        end = self._endpoint
        try:
            async with asyncio.timeout(self._connect_timeout):
                if end.path is not None:
                    _, connection = await loop.create_unix_connection(
                        lambda: _Connection(loop, self._timeout), end.path
                    )
                else:
                    _, connection = await loop.create_connection(
                        lambda: _Connection(loop, self._timeout), end.host, end.port, ssl=end.tls
                    )
        except (OSError, TimeoutError) as exc:
            raise RedisConnectionError(f"Cannot connect to Redis: {exc}") from exc
        hello: list[asyncio.Future[Any]] = []
        if end.password is not None:
            auth = (end.username, end.password) if end.username else (end.password,)
            hello.append(connection.send(pack("AUTH", *auth)))
        if end.db:
            hello.append(connection.send(pack("SELECT", end.db)))
        if hello:
            await asyncio.gather(*hello)
        return connection
