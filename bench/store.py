"""``python -m bench.store``: the longest event-loop turn while the embedded store persists.

Builds a database of ``--keys`` keys with ``--days`` days of usage history (through the
store's own API, a day at a time), then measures two phases of the same load, alternated
``--rounds`` times so that a shared machine's load weighs on both alike: every key
admitted and settled once a second, one request a millisecond as they would arrive.

- ``idle disk``: the load alone, nothing written: what the machine and the hot path cost.
- ``persisting``: the load while the store flushes every second (each flush carries every
  key's changed counters and usage), prunes every 5 s (the first prune finds the oldest
  history day expired and deletes it from the database) and creates a key every 100 ms
  (each committed and fsynced before it returns).

A monitor coroutine yields to the loop continuously and records how long each turn took
(the time between two of its steps): the longest is the longest the loop was blocked, by
the hot path, the store's work on the loop, or the writer thread holding the GIL. The
monitor keeps the loop saturated, the worst case for sharing the GIL with the writer. On a
shared machine turns also include time the loop thread waited for a CPU (another process
had it); the kernel counts that time per thread, and the ``own`` figures leave it out.
Then each write runs alone, repeatedly, for its own longest turn. Runs on uvloop, as
``gateway serve`` does.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import uvloop

from gateway.store.memory import MemoryStore
from gateway.store.types import USAGE_TTL, AdmitRequest, KeyRecord, Limits, Window
from gateway.web.app import YOUNG_COLLECTION_EVERY

T0 = 1_800_000_000.0
DAY = 86400.0


class Clock:
    """Wall time moved to wherever the benchmark needs the calendar to be."""

    def __init__(self) -> None:
        self.offset = 0.0

    def set(self, now: float) -> None:
        self.offset = now - time.time()

    def __call__(self) -> float:
        return time.time() + self.offset


def window(clock: Clock, day: int) -> Window:
    now = clock()
    return Window(
        now=now,
        day=time.strftime("%Y-%m-%d", time.gmtime(T0 + day * DAY)),
        month="2027-01",
        day_ends_in=3600.0,
        month_ends_in=20 * DAY,
    )


def record(i: int) -> KeyRecord:
    return KeyRecord(
        id=f"key_{i:06d}",
        name="bench",
        key_hash=f"{i:064x}",
        prefix="gwk_bench",
        created_at=T0 + i,
        limits=Limits(rpm=1000, images_per_day=1_000_000),
    )


async def request(store: MemoryStore, key: KeyRecord, rid: str, win: Window) -> None:
    """One cache miss as the pipeline makes it: an admission, then its settlement."""
    await store.admit(AdmitRequest(key.id, key.version, key.limits, 1, rid, 300.0, win, None, None))
    await store.settle(key.id, rid, 1, win, {"cache_misses": 1}, key.limits)


@dataclass
class Busy:
    """Which background writes are in flight, and how long each flush took."""

    flush: int = 0
    prune: int = 0
    key: int = 0
    made: int = 0
    flushes: list[float] = field(default_factory=list)

    def any(self) -> bool:
        return bool(self.flush or self.prune or self.key)


class Histogram:
    """Durations in log buckets (20 a decade): recording one allocates nothing, so the
    monitor never makes a turn long itself (a growing list's reallocation would)."""

    def __init__(self) -> None:
        self.buckets = [0] * 200
        self.count = 0
        self.max = 0.0
        self.over_ms = 0

    def add(self, seconds: float) -> None:
        index = int(20 * math.log10(max(seconds, 1e-9) * 1e9))
        self.buckets[min(index, 199)] += 1
        self.count += 1
        self.max = max(self.max, seconds)
        if seconds > 0.001:
            self.over_ms += 1

    def percentile(self, p: float) -> float:
        """Upper edge of the bucket holding the ``p`` quantile."""
        wanted, seen = p * self.count, 0
        for index, n in enumerate(self.buckets):
            seen += n
            if seen >= wanted:
                return float(10 ** ((index + 1) / 20) / 1e9)
        return self.max


@dataclass
class Phase:
    """Loop turns of one phase, as measured and without the time spent waiting for a CPU."""

    name: str
    turns: Histogram = field(default_factory=Histogram)
    own: Histogram = field(default_factory=Histogram)
    own_writing: Histogram = field(default_factory=Histogram)

    def row(self) -> str:
        return (
            f"{self.name:<11} {self.turns.count:>8} {self.turns.percentile(0.5) * 1e6:>6.1f}"
            f" {self.turns.percentile(0.999) * 1e6:>8.1f} {self.turns.max * 1000:>7.2f}"
            f" {self.own.percentile(0.999) * 1e6:>9.1f} {self.own.max * 1000:>8.3f}"
            f" {self.own_writing.max * 1000:>11.3f} {self.own.over_ms:>8}"
        )


HEADER = (
    f"{'phase':<11} {'turns':>8} {'p50 us':>6} {'p99.9 us':>8} {'max ms':>7}"
    f" {'own p99.9':>9} {'own max':>8} {'own writing':>11} {'own >1ms':>8}"
)
"""Columns: loop turns measured; their median, 99.9th percentile and longest; then the same
turns less the time the loop thread spent waiting for a CPU (``own``: what the process
itself held the loop for, the GIL waits included), overall and while a flush, prune or
key write was in flight, and how many of those exceeded 1 ms."""


class RunQueue:
    """How long the calling thread has waited for a CPU so far (``schedstat``): on a shared
    machine, time another process had the CPU, or a woken thread waited to get one."""

    def __init__(self) -> None:
        path = f"/proc/self/task/{threading.get_native_id()}/schedstat"
        self._fd = os.open(path, os.O_RDONLY)

    def __call__(self) -> float:
        return int(os.pread(self._fd, 128, 0).split()[1]) / 1e9

    def close(self) -> None:
        os.close(self._fd)


async def monitor(phase: Phase, busy: Busy, stop: asyncio.Event) -> None:
    """Record every loop turn, and the part of it the loop thread did not spend waiting
    for a CPU."""
    waited = RunQueue()
    last, queued = time.perf_counter(), waited()
    writing = busy.any()
    while not stop.is_set():
        await asyncio.sleep(0)
        now, queued_now = time.perf_counter(), waited()
        turn = now - last
        phase.turns.add(turn)
        own = turn - (queued_now - queued)
        phase.own.add(own)
        if writing or busy.any():
            phase.own_writing.add(own)
        last, queued, writing = now, queued_now, busy.any()
    waited.close()


async def every(seconds: float, stop: asyncio.Event, job: Callable[[], Awaitable[None]]) -> None:
    while not stop.is_set():
        await asyncio.sleep(seconds)
        await job()


async def run_phase(
    store: MemoryStore,
    keys: list[KeyRecord],
    clock: Clock,
    day: int,
    seconds: float,
    phase: Phase,
    busy: Busy | None,
) -> None:
    """``seconds`` of the load, measured into ``phase``; with ``busy``, the store's writes
    too."""
    persist, stop = busy is not None, asyncio.Event()
    busy = busy or Busy()

    async def load() -> None:
        tick, per_tick = 0, max(1, len(keys) // 1000)
        while not stop.is_set():
            win = window(clock, day)
            for key in keys[tick * per_tick % len(keys) :][:per_tick]:
                await request(store, key, f"r{tick}-{key.id}", win)
            tick += 1
            await asyncio.sleep(0.001)

    async def flush() -> None:
        busy.flush += 1
        started = time.perf_counter()
        await store.flush()
        busy.flushes.append(time.perf_counter() - started)
        busy.flush -= 1

    async def prune() -> None:
        busy.prune += 1
        await store.prune()
        busy.prune -= 1

    async def create() -> None:
        busy.key += 1
        busy.made += 1
        await store.insert_key(record(len(keys) + busy.made))
        busy.key -= 1

    tasks = [asyncio.create_task(monitor(phase, busy, stop)), asyncio.create_task(load())]
    if persist:
        tasks += [
            asyncio.create_task(every(1.0, stop, flush)),
            asyncio.create_task(every(5.0, stop, prune)),
            asyncio.create_task(every(0.1, stop, create)),
        ]
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.gather(*tasks)


async def longest_turn(work: Awaitable[None]) -> float:
    """Run ``work`` while spinning the loop: its longest turn, less CPU waits (seconds)."""
    task = asyncio.ensure_future(work)
    waited = RunQueue()
    longest, last, queued = 0.0, time.perf_counter(), waited()
    while not task.done():
        await asyncio.sleep(0)
        now, queued_now = time.perf_counter(), waited()
        longest = max(longest, now - last - (queued_now - queued))
        last, queued = now, queued_now
    waited.close()
    await task
    return longest


async def alone(
    store: MemoryStore, keys: list[KeyRecord], clock: Clock, day: int, repeat: int
) -> None:
    """Each background write on its own, ``repeat`` times, after a second's worth of
    requests (every key's counters changed): the longest loop turn it makes. The minimum
    over the repetitions is what it costs the loop on a quiet machine; the median, on this
    one as it was while measuring. ``nothing`` is the control: the loop spinning alone for
    as long as the flush took, so what the machine alone does to a turn."""
    found: dict[str, list[float]] = {"flush": [], "prune": [], "key write": [], "nothing": []}
    for i in range(repeat):
        win = window(clock, day)
        for key in keys:
            await request(store, key, f"a{i}-{key.id}", win)
        started = time.perf_counter()
        found["flush"].append(await longest_turn(store.flush()))
        took = time.perf_counter() - started
        found["prune"].append(await longest_turn(store.prune()))
        found["key write"].append(await longest_turn(store.insert_key(record(10**6 + i))))
        found["nothing"].append(await longest_turn(asyncio.sleep(took)))
    print(f"each write alone, {repeat} times: its longest own loop turn in ms")
    for name, runs in found.items():
        print(
            f"  {name:<10} min {min(runs) * 1000:.3f}  median {statistics.median(runs) * 1000:.3f}"
            f"  max {max(runs) * 1000:.3f}"
        )


async def main(args: argparse.Namespace) -> None:
    path = Path(tempfile.mkdtemp(prefix="bench-store-")) / "store.db"
    clock = Clock()
    clock.set(T0)
    store = MemoryStore(path, cache_max_bytes=1 << 20, clock=clock)
    store.open()
    started = time.perf_counter()
    keys = [record(i) for i in range(args.keys)]
    for key in keys:
        await store.insert_key(key)
    for day in range(args.days):
        clock.set(T0 + day * DAY + DAY / 2)
        win = window(clock, day)
        for key in keys:
            await request(store, key, f"h{day}", win)
        await store.flush()
        if day % 10 == 9:
            await store.prune()
    size = sum(p.stat().st_size for p in path.parent.iterdir()) / 1e6
    print(
        f"database: {args.keys} keys, {args.days} days of history, {size:.1f} MB,"
        f" built in {time.perf_counter() - started:.0f} s"
    )
    clock.set(T0 + DAY / 2 + USAGE_TTL - 2)
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, 10, 10)
    idle, persisting, busy = Phase("idle disk"), Phase("persisting"), Busy()
    for _ in range(args.rounds):
        share = args.seconds / args.rounds
        await run_phase(store, keys, clock, args.days, share / 2, idle, None)
        await run_phase(store, keys, clock, args.days, share, persisting, busy)
    print(HEADER)
    print(idle.row())
    print(persisting.row())
    rows = args.keys * 5
    print(
        f"flushes: {len(busy.flushes)} of ~{rows} rows each, wall time median"
        f" {statistics.median(busy.flushes) * 1000:.1f} ms, max {max(busy.flushes) * 1000:.1f} ms"
    )
    await alone(store, keys, clock, args.days, args.repeat)
    await store.aclose()


def cli() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.store", description=__doc__)
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--days", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=30.0, help="of persisting, in all")
    parser.add_argument("--rounds", type=int, default=3, help="idle/persisting alternations")
    parser.add_argument("--repeat", type=int, default=15, help="runs of each write alone")
    uvloop.run(main(parser.parse_args()))


if __name__ == "__main__":
    cli()
