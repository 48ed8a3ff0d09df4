"""Stop work for a client that has gone away, so its reservation is given back at once.

Only the slow part of a request (the upstream call, or waiting for another caller's) is
guarded: a cache hit or a refusal finishes before a disconnect could matter. The guard
costs one watcher task; the work itself runs in the request's own task, which the watcher
cancels when the client disconnects.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

Gone = Callable[[], Awaitable[None]]


CLIENT_CLOSED = 499


class ClientGone(Exception):
    """The client disconnected before its answer was ready (logged and counted with the
    status ``CLIENT_CLOSED``, nginx's 499: nobody is there to receive one)."""


async def unless_gone(gone: Gone | None, work: Awaitable[T]) -> T:
    """Await ``work``, raising :class:`ClientGone` instead if ``gone`` completes first.

    The watcher may cancel this task only while it is suspended inside ``work``: once
    ``work`` has returned, ``finished`` is set before the loop can run the callback.
    """
    if gone is None:
        return await work
    task = asyncio.current_task()
    assert task is not None
    watcher = asyncio.ensure_future(gone())
    finished = False
    cancelled = False

    def on_gone(done: asyncio.Future[None]) -> None:
        nonlocal cancelled
        if not finished and not done.cancelled() and done.exception() is None:
            cancelled = True
            task.cancel()

    watcher.add_done_callback(on_gone)
    try:
        result = await work
        finished = True
        return result
    except asyncio.CancelledError:
        finished = True
        if cancelled and task.uncancel() == 0:
            raise ClientGone from None
        raise
    finally:
        finished = True
        watcher.remove_done_callback(on_gone)
        watcher.cancel()
