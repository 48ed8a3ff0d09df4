"""The edits scenario: multipart uploads through the gateway and straight to the fake.

wrk cannot easily send a fresh multipart body per request, so this is a small asyncio load
loop with httpx; the same loop, client and bodies load both sides, so the ratio is fair.
Every request has its own prompt (a cache miss on the gateway). Memory: 20 edits of 10 MiB
each held in flight at once (the fake answers after a delay) while the gateway's resident
memory is sampled; its peak is reported (the target is under 400 MB).
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from gateway.testing.fake_answers import tiny_png

MODEL = "openai/gpt-image-1"
EDITS = "/v1/images/edits"
MIB = 1024 * 1024


def png_of(size: int) -> bytes:
    """A ``size``-byte upload the gateway takes for a PNG (its bytes start as one)."""
    head = tiny_png(1)
    return head + os.urandom(size - len(head))


@dataclass
class EditLoad:
    """What one side of the scenario did."""

    rps: float
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float


async def _load(url: str, key: str, image: bytes, concurrency: int, seconds: float) -> EditLoad:
    latencies: list[float] = []
    errors = 0
    counter = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors, counter
            while time.perf_counter() < deadline:
                counter += 1
                started = time.perf_counter()
                try:
                    response = await client.post(
                        url,
                        headers={"authorization": f"Bearer {key}"},
                        data={"model": MODEL, "prompt": f"bench edit {counter}"},
                        files=[("image", ("in.png", image, "image/png"))],
                    )
                    ok = response.is_success
                except httpx.HTTPError:
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()

    def at(q: float) -> float:
        return (
            latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else 0
        )

    return EditLoad(len(latencies) / elapsed, len(latencies), errors, at(0.5), at(0.99))


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _peak_rss(
    gateway_url: str, key: str, pid: int, image: bytes, count: int
) -> tuple[float, int, int]:
    """Peak RSS (MB) while ``count`` edits are in flight; the answers and the most in flight
    at the fake."""
    peak = rss_mb(pid)
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_mb(pid))
            await asyncio.sleep(0.01)

    limits = httpx.Limits(max_connections=count)
    async with httpx.AsyncClient(limits=limits, timeout=120) as client:

        async def one(index: int) -> bool:
            response = await client.post(
                gateway_url,
                headers={"authorization": f"Bearer {key}"},
                data={"model": MODEL, "prompt": f"rss edit {index}"},
                files=[("image", (f"big{index}.png", image, "image/png"))],
            )
            return response.is_success

        sampler = asyncio.ensure_future(sample())
        results = await asyncio.gather(*(one(i) for i in range(count)))
        done.set()
        await sampler
    return peak, sum(results), count - sum(results)


def run(
    gateway_url: str,
    gateway_pid: int,
    key: str,
    upstream_url: str,
    upstream_key: str,
    *,
    seconds: float,
    repeat: int,
    hold: float,
) -> dict[str, Any]:
    """Both edit figures: throughput through the gateway vs direct (median of ``repeat``
    runs each, in turns) and the gateway's peak RSS with 20 x 10 MiB edits in flight."""
    image = png_of(MIB)
    mine: list[EditLoad] = []
    theirs: list[EditLoad] = []
    for _ in range(repeat):
        mine.append(asyncio.run(_load(gateway_url + EDITS, key, image, 8, seconds)))
        theirs.append(asyncio.run(_load(upstream_url + EDITS, upstream_key, image, 8, seconds)))
    gateway = sorted(mine, key=lambda r: r.rps)[len(mine) // 2]
    direct = sorted(theirs, key=lambda r: r.rps)[len(theirs) // 2]
    httpx.post(f"{upstream_url}/_control", json={"latency": hold}, timeout=5)
    try:
        peak, answered, failed = asyncio.run(
            _peak_rss(gateway_url + EDITS, key, gateway_pid, png_of(10 * MIB), 20)
        )
    finally:
        httpx.post(f"{upstream_url}/_control", json={"latency": 0.0}, timeout=5)
    return {
        "image_bytes": MIB,
        "concurrency": 8,
        "gateway": asdict(gateway),
        "direct": asdict(direct),
        "ratio": gateway.rps / direct.rps if direct.rps else None,
        "rss_in_flight": 20,
        "rss_image_bytes": 10 * MIB,
        "rss_peak_mb": peak,
        "rss_answered": answered,
        "rss_failed": failed,
    }


def describe(found: dict[str, Any]) -> list[str]:
    """The lines the bench prints for the edits scenario."""
    gw, direct = found["gateway"], found["direct"]
    ratio = found["ratio"]
    return [
        f"edits: 1 MiB PNG, c=8: gateway {gw['rps']:.1f} rps (p50 {gw['p50_ms']:.1f} ms, "
        f"{gw['errors']} errors) vs direct {direct['rps']:.1f} rps (p50 "
        f"{direct['p50_ms']:.1f} ms); ratio {ratio if ratio is None else f'{ratio:.2f}'} "
        "(target >= 0.5)",
        f"edits: gateway peak RSS with 20 x 10 MiB edits in flight {found['rss_peak_mb']:.1f} MB "
        f"({found['rss_answered']} answered, {found['rss_failed']} failed; target < 400 MB)",
    ]


def failed(found: dict[str, Any] | None) -> bool:
    """Whether the edits scenario had errors (a clean run has none)."""
    if found is None:
        return False
    return bool(
        found["gateway"]["errors"] or found["rss_failed"] or not found["gateway"]["requests"]
    )
