"""One pub/sub connection per process, shared by every single-flight waiter.

A waiter subscribes to the channel of the lock it waits for (the lock's own name, on which
the release publishes); the channel is subscribed once however many wait on it and
unsubscribed when the last one leaves. A message wakes every waiter of its channel. When the
connection is lost, messages may have been missed: every waiter is woken with ``False`` (so
it looks at the lock again) and the next one to subscribe reconnects. While anyone waits,
the connection is pinged every ``health_interval`` seconds, so a connection that died
silently is noticed within that interval plus the socket timeout.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError

from gateway.store.resp import Connection, PipelinedRedis, pack

HEALTH_INTERVAL = 1.0


class Subscription:
    """One waiter's interest in one channel."""

    __slots__ = ("_subscriber", "name", "pending")

    def __init__(self, subscriber: Subscriber, name: bytes) -> None:
        self._subscriber = subscriber
        self.name = name
        self.pending: asyncio.Future[bool] | None = None

    async def next_event(self) -> asyncio.Future[bool]:
        """A future for what happens next on the channel: ``True`` for a message, ``False``
        if the subscription was lost. Subscribes first (and waits for Redis to confirm)
        when the channel is not subscribed, so nothing published after this returns is
        missed. Raises a redis-py error when Redis cannot be reached."""
        return await self._subscriber.join(self)

    def close(self) -> None:
        """Leave the channel (unsubscribed when nobody else waits on it)."""
        self._subscriber.leave(self)


class _Channel:
    __slots__ = ("confirmed", "members")

    def __init__(self, confirmed: asyncio.Future[Any]) -> None:
        self.confirmed = confirmed
        self.members: set[Subscription] = set()


class Subscriber:
    """The process's subscriber connection, opened when the first waiter needs it."""

    def __init__(self, pipe: PipelinedRedis, *, health_interval: float = HEALTH_INTERVAL) -> None:
        self._pipe = pipe
        self._health_interval = health_interval
        self._connection: Connection | None = None
        self._opening: asyncio.Future[Connection] | None = None
        self._channels: dict[bytes, _Channel] = {}
        self._health: asyncio.TimerHandle | None = None

    def subscription(self, channel: str) -> Subscription:
        """A waiter's handle on ``channel``; subscribed on its first :meth:`next_event`."""
        return Subscription(self, channel.encode())

    @property
    def channels(self) -> int:
        """How many channels are subscribed (or being subscribed)."""
        return len(self._channels)

    async def join(self, member: Subscription) -> asyncio.Future[bool]:
        channel = self._channels.get(member.name)
        if channel is None:
            connection = await self._connect()
            channel = self._channels.get(member.name)
            if channel is None:
                channel = _Channel(connection.send(pack("SUBSCRIBE", member.name)))
                self._channels[member.name] = channel
                self._arm_health()
        channel.members.add(member)
        try:
            await asyncio.shield(channel.confirmed)
        except BaseException:
            channel.members.discard(member)
            if channel.confirmed.done() and self._channels.get(member.name) is channel:
                del self._channels[member.name]
            raise
        if member.pending is not None and not member.pending.done():
            member.pending.cancel()
        member.pending = asyncio.get_running_loop().create_future()
        return member.pending

    def leave(self, member: Subscription) -> None:
        if member.pending is not None and not member.pending.done():
            member.pending.cancel()
        member.pending = None
        channel = self._channels.get(member.name)
        if channel is None or member not in channel.members:
            return
        channel.members.discard(member)
        if channel.members:
            return
        del self._channels[member.name]
        connection = self._connection
        if connection is not None and not connection.closed:
            connection.send(pack("UNSUBSCRIBE", member.name))

    async def aclose(self) -> None:
        """Close the connection; every waiter is woken with ``False``."""
        if self._opening is not None:
            self._opening.cancel()
            self._opening = None
        if self._connection is not None:
            self._connection.fail(RedisConnectionError("Client closed."))
        self._lost()

    async def _connect(self) -> Connection:
        connection = self._connection
        if connection is not None and not connection.closed:
            return connection
        if self._opening is None:
            self._opening = asyncio.ensure_future(
                self._pipe.dial(on_push=self._message, on_lost=self._lost)
            )
            self._opening.add_done_callback(self._opened)
        return await asyncio.shield(self._opening)

    def _opened(self, opening: asyncio.Future[Connection]) -> None:
        if self._opening is opening:
            self._opening = None
            if not opening.cancelled() and opening.exception() is None:
                self._connection = opening.result()
        elif not opening.cancelled() and opening.exception() is None:
            opening.result().fail(RedisConnectionError("Client closed."))

    def _message(self, reply: list[Any]) -> None:
        channel = self._channels.get(reply[1]) if len(reply) > 1 else None
        if channel is None:
            return
        for member in channel.members:
            if member.pending is not None and not member.pending.done():
                member.pending.set_result(True)

    def _lost(self) -> None:
        """The connection failed (or was closed): wake everyone to look again."""
        connection = self._connection
        if connection is not None and not connection.closed:
            return
        self._connection = None
        channels, self._channels = self._channels, {}
        for channel in channels.values():
            for member in channel.members:
                if member.pending is not None and not member.pending.done():
                    member.pending.set_result(False)
        if self._health is not None:
            self._health.cancel()
            self._health = None

    def _arm_health(self) -> None:
        if self._health is None:
            loop = asyncio.get_running_loop()
            self._health = loop.call_later(self._health_interval, self._check)

    def _check(self) -> None:
        self._health = None
        connection = self._connection
        if not self._channels or connection is None or connection.closed:
            return
        connection.send(pack("PING"))
        self._arm_health()
