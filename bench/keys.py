"""``python -m bench.keys [--smoke]``: key search latency with 100,000 keys in the store.

For each store (embedded, then Redis) the keys are written straight into the store
(:mod:`gateway.testing.seed_keys`: one SQLite transaction, or the Redis store's own writes
pipelined), a real ``gateway serve`` is started on it, and ``GET /admin/keys?limit=50&q=…``
is asked ``--requests`` times per query, one at a time over one keep-alive connection,
after a few unmeasured warm-up requests. Queries: a broad prefix (``q=golf``, a tenth of the
keys), a narrow one (``q=golf-0421``, one key in 10,000) and a prefix nothing matches;
plus, for comparison, the first page without ``q`` and with ``status=disabled`` (which no
seeded key is: the page reads its bounded stretch and says where to go on). Each figure is
the client-side time of the whole answer (the JSON parsed), p50 and p99; the target is a
p99 under 50 ms for the ``q`` queries. Printed, and written to ``--out`` as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.gateways import ADMIN, UPSTREAM_KEY
from bench.machine import machine
from gateway.testing.procs import Proc, free_port, spawn, start_redis
from gateway.testing.seed_keys import seed_embedded, seed_redis

QUERIES: dict[str, dict[str, Any]] = {
    "q broad (golf)": {"limit": 50, "q": "golf"},
    "q narrow (golf-0421)": {"limit": 50, "q": "golf-0421"},
    "q no match (zulu)": {"limit": 50, "q": "zulu"},
    "first page, no q": {"limit": 50},
    "status=disabled (bounded)": {"limit": 50, "status": "disabled"},
}
TARGET_MS = 50.0
WARM_UP = 5
OVERVIEW_REQUESTS = 5
"""The overview sums the day over every key: a few requests say what it costs at scale."""


def percentile(samples: list[float], fraction: float) -> float:
    """The nearest-rank percentile of ``samples``."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def serve(env: dict[str, str]) -> Proc:
    """``gateway serve`` on ``env``'s store, once /readyz answers."""
    port = free_port()

    def ready() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=0.5).is_success
        except httpx.HTTPError:
            return False

    return spawn(
        [sys.executable, "-m", "gateway", "serve", "--port", str(port)],
        port,
        ready,
        env={
            "GATEWAY_UPSTREAM_URL": "http://127.0.0.1:9",
            "GATEWAY_UPSTREAM_API_KEY": UPSTREAM_KEY,
            "GATEWAY_ADMIN_TOKEN": ADMIN,
            "GATEWAY_LOG_LEVEL": "warning",
            **env,
        },
        timeout=120,
    )


def measure(url: str, requests: int) -> dict[str, dict[str, Any]]:
    """p50 and p99 (ms) of each query, asked ``requests`` times."""
    found: dict[str, dict[str, Any]] = {}
    with httpx.Client(
        base_url=url, headers={"authorization": f"Bearer {ADMIN}"}, timeout=30
    ) as client:
        for name, params in QUERIES.items():
            samples: list[float] = []
            page: Any = None
            for i in range(WARM_UP + requests):
                started = time.perf_counter()
                answer = client.get("/admin/keys", params=params)
                answer.raise_for_status()
                page = answer.json()
                if i >= WARM_UP:
                    samples.append((time.perf_counter() - started) * 1000)
            found[name] = {
                "params": params,
                "p50_ms": round(statistics.median(samples), 2),
                "p99_ms": round(percentile(samples, 0.99), 2),
                "keys_on_page": len(page["data"]),
                "has_more": page["has_more"],
            }
        samples = []
        for _ in range(OVERVIEW_REQUESTS):
            started = time.perf_counter()
            client.get("/admin/overview").raise_for_status()
            samples.append((time.perf_counter() - started) * 1000)
        found["overview (every key's day)"] = {
            "params": {},
            "p50_ms": round(statistics.median(samples), 2),
            "p99_ms": round(max(samples), 2),
        }
    return found


def run_store(mode: str, keys: int, requests: int) -> dict[str, Any]:
    """Seed ``keys`` keys into a fresh store of ``mode``, serve it, measure."""
    now = time.time()
    procs: list[Proc] = []
    try:
        seeding = time.perf_counter()
        if mode == "embedded":
            path = Path(tempfile.mkdtemp(prefix="bench-keys-")) / "store.db"
            seed_embedded(path, keys, now)
            env = {"GATEWAY_STORE_PATH": str(path)}
        else:
            redis = start_redis()
            procs.append(redis)
            url = f"redis://127.0.0.1:{redis.port}/0"
            asyncio.run(seed_redis(url, keys, now))
            env = {"GATEWAY_REDIS_URL": url}
        seeded = time.perf_counter() - seeding
        starting = time.perf_counter()
        gateway = serve(env)
        procs.append(gateway)
        started = time.perf_counter() - starting
        return {
            "mode": mode,
            "keys": keys,
            "seed_seconds": round(seeded, 2),
            "start_seconds": round(started, 2),
            "queries": measure(gateway.url, requests),
        }
    finally:
        for proc in reversed(procs):
            proc.stop()


def main(argv: list[str] | None = None) -> int:
    """Run the key search benchmark; non-zero when a ``q`` query misses the target."""
    parser = argparse.ArgumentParser(prog="python -m bench.keys")
    parser.add_argument("--smoke", action="store_true", help="2,000 keys, 20 requests a query")
    parser.add_argument("--keys", type=int, default=None, help="keys in the store (100,000)")
    parser.add_argument("--requests", type=int, default=None, help="per query (300)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/keys.json"))
    args = parser.parse_args(argv)
    keys = args.keys or (2_000 if args.smoke else 100_000)
    requests = args.requests or (20 if args.smoke else 300)
    runs = [run_store(mode, keys, requests) for mode in ("embedded", "redis")]
    missed = []
    print(f"GET /admin/keys with {keys:,} keys, {requests} requests a query, ms")
    print(f"{'store':<9} {'query':<28} {'p50':>7} {'p99':>7} {'keys':>5}  more")
    for run in runs:
        for name, figures in run["queries"].items():
            print(
                f"{run['mode']:<9} {name:<28} {figures['p50_ms']:>7.2f} {figures['p99_ms']:>7.2f} "
                f"{figures.get('keys_on_page', ''):>5}  {figures.get('has_more', '')}"
            )
            if name.startswith("q ") and figures["p99_ms"] >= TARGET_MS:
                missed.append(f"{run['mode']} {name}")
        print(
            f"{run['mode']:<9} seeded in {run['seed_seconds']} s, "
            f"gateway ready in {run['start_seconds']} s"
        )
    print(
        f"target: p99 < {TARGET_MS:.0f} ms for the q queries"
        + (f"; missed: {missed}" if missed else "")
    )
    result = {"machine": machine(), "smoke": args.smoke, "target_p99_ms": TARGET_MS, "runs": runs}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    return 1 if missed and not args.smoke else 0


if __name__ == "__main__":
    sys.exit(main())
