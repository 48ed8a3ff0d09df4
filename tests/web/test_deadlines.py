"""Coarse deadlines: a stalled wait is cut off, a quick one leaves nothing behind."""

from __future__ import annotations

import asyncio

import pytest

from gateway.web.deadlines import Deadlines


async def test_quick_waits_are_never_cut_off_and_a_stalled_one_is() -> None:
    deadlines = Deadlines(resolution=0.01)
    for _ in range(3):
        with deadlines.guard(0.02):
            await asyncio.sleep(0)
    never = asyncio.get_running_loop().create_future()
    with pytest.raises(TimeoutError), deadlines.guard(0.05):
        await never
    # The sweeps that cut the stalled wait off ran past the quick waits' deadlines too:
    # had they cancelled this task, the next await would raise.
    await asyncio.sleep(0)
    with deadlines.guard(5):
        await asyncio.sleep(0)


async def test_an_outside_cancellation_stays_a_cancellation() -> None:
    deadlines = Deadlines(resolution=0.01)
    started = asyncio.Event()

    async def waits() -> None:
        with deadlines.guard(60):
            started.set()
            await asyncio.get_running_loop().create_future()

    task = asyncio.ensure_future(waits())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
