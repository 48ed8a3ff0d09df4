"""Coarse timeouts for waits that nearly always end at once.

A request body has almost always arrived with its headers, so reading it needs a timeout
only against the rare client that stalls. ``asyncio.timeout`` arms and disarms an event
loop timer for every request, which cost a few percent of a cache hit; here the waiting
tasks sit in a dict, one timer sweeps it every ``resolution`` seconds while anything
waits, and a task past its deadline is cancelled and sees :class:`TimeoutError`. A wait
is cut off between its deadline and ``resolution`` seconds later.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any


class Deadlines:
    """Shared by every request of a process; ``guard(seconds)`` bounds one wait."""

    def __init__(self, resolution: float = 0.25) -> None:
        self._resolution = resolution
        self._waiting: dict[asyncio.Task[Any], float] = {}
        self._expired: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.TimerHandle | None = None

    def guard(self, seconds: float) -> Guard:
        """A ``with`` block around one wait of the current task."""
        return Guard(self, seconds)

    def _start(self, task: asyncio.Task[Any], seconds: float) -> None:
        loop = task.get_loop()
        self._waiting[task] = loop.time() + seconds
        if self._timer is None:
            self._timer = loop.call_later(self._resolution, self._sweep, loop)

    def _stop(self, task: asyncio.Task[Any]) -> bool:
        """Forget ``task``; whether its deadline had passed."""
        self._waiting.pop(task, None)
        if task in self._expired:
            self._expired.discard(task)
            return True
        return False

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        now = loop.time()
        for task, deadline in list(self._waiting.items()):
            if deadline <= now:
                del self._waiting[task]
                self._expired.add(task)
                task.cancel()
        if self._waiting:
            self._timer = loop.call_later(self._resolution, self._sweep, loop)


class Guard:
    """One bounded wait: raises :class:`TimeoutError` when its deadline cut it off."""

    __slots__ = ("_deadlines", "_seconds", "_task")

    def __init__(self, deadlines: Deadlines, seconds: float) -> None:
        self._deadlines = deadlines
        self._seconds = seconds
        self._task: asyncio.Task[Any] | None = None

    def __enter__(self) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._task = task
        self._deadlines._start(task, self._seconds)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        assert self._task is not None
        if (
            self._deadlines._stop(self._task)
            and self._task.uncancel() == 0
            and (kind is asyncio.CancelledError)
        ):
            raise TimeoutError from None
