"""``python -m bench [--smoke]``: start everything on loopback, measure, print, write JSON.

Every gateway figure is paired with the same requests sent straight to the fake upstream
in the same run, so the table reports ratios, not absolute numbers alone; so is the edits
scenario (:mod:`bench.edits`: multipart uploads, and the gateway's peak memory with large
uploads in flight). The request log's
cost is measured the same way: misses at c=32 on two fresh Redis-mode gateways, one with
the log on and one with it off (``GATEWAY_REQUEST_LOG_ENABLED=false``), run in turns.
The scenarios live here; :mod:`bench.gateways` starts the gateways and creates their keys,
:mod:`bench.turns` runs loads in turns, :mod:`bench.report` prints the table and writes the JSON.
"""

from __future__ import annotations

import argparse
import functools
import resource
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

from bench import edits
from bench.edits import rss_mb
from bench.gateways import GENERATIONS, UPSTREAM_KEY, create_key, create_team_key, start_gateway
from bench.report import Row, report
from bench.turns import Load, alternate, paired
from bench.wrk import run
from gateway.testing.procs import Proc, free_port, port_open, spawn, start_redis


def log_rows(upstream: Proc, redis_url: str, seconds: float, repeat: int) -> list[Row]:
    """Misses at c=32 with the request log on and off: two fresh gateways on one Redis,
    loaded in turns."""
    started: list[Proc] = []
    try:
        for enabled in ("true", "false"):
            env = {"GATEWAY_REDIS_URL": redis_url, "GATEWAY_REQUEST_LOG_ENABLED": enabled}
            started.append(start_gateway(upstream, env)[0])
        loads: list[tuple[Load, int | None]] = []
        for gateway in started:
            key = create_key(gateway, rpm=1_000_000_000, images_per_day=1_000_000_000)
            load = functools.partial(
                run,
                f"{gateway.url}{GENERATIONS}",
                key,
                connections=32,
                seconds=seconds,
                unique=True,
            )
            loads.append((load, gateway.popen.pid))
        (on, on_cpu), (off, off_cpu) = alternate(loads, repeat, swap=True)
    finally:
        for proc in started:
            proc.stop()
    return [
        Row("log on", "redis", 32, on, None, on_cpu),
        Row("log off", "redis", 32, off, None, off_cpu),
    ]


def scenarios(
    gateway: Proc,
    upstream: Proc,
    mode: str,
    seconds: float,
    slow_seconds: float,
    slow_c: int,
    full: bool,
    repeat: int,
) -> list[Row]:
    """The load scenarios for one gateway."""
    fast = create_key(gateway, rpm=1_000_000_000, images_per_day=1_000_000_000)
    budgeted = create_team_key(gateway)
    refused = create_key(gateway, rpm=1)
    httpx.post(
        f"{gateway.url}{GENERATIONS}",
        json={"model": "dall-e-2", "prompt": "warm"},
        headers={"authorization": f"Bearer {refused}"},
        timeout=10,
    )
    httpx.post(
        f"{gateway.url}{GENERATIONS}",
        json={"model": "dall-e-2", "prompt": "hit"},
        headers={"authorization": f"Bearer {fast}"},
        timeout=10,
    )
    gw, direct = f"{gateway.url}{GENERATIONS}", f"{upstream.url}{GENERATIONS}"
    rows: list[Row] = []
    # Loads in one group run in turns with the same direct load, so that a ratio between
    # them (the team's miss over the plain miss) is read from the same moments.
    groups: list[list[tuple[str, int, bool, str]]] = []
    if full:
        groups.append([("miss", 1, True, fast)])
    groups.append([("miss", 32, True, fast), ("miss team", 32, True, budgeted)])
    groups += [[("hit", c, False, fast)] for c in ((1, 32) if full else (32,))]
    if full:
        groups.append([("refused", 32, False, refused)])
    for group in groups:
        first, c, unique, _ = group[0]
        theirs_key = "wrong-key" if first == "refused" else UPSTREAM_KEY
        loads: list[tuple[Load, int | None]] = [
            (
                functools.partial(
                    run,
                    gw,
                    key,
                    connections=c,
                    seconds=seconds,
                    unique=unique,
                    prompt="hit" if name == "hit" else name.replace(" ", "-"),
                ),
                gateway.popen.pid,
            )
            for name, _, _, key in group
        ]
        loads.append(
            (
                functools.partial(
                    run, direct, theirs_key, connections=c, seconds=seconds, unique=unique
                ),
                None,
            )
        )
        *figures, (direct_run, _) = alternate(loads, repeat, swap=len(group) > 1)
        for (name, *_), (result, cpu) in zip(group, figures, strict=True):
            rows.append(Row(name, mode, c, result, direct_run, cpu))
    if full:
        httpx.post(f"{upstream.url}/_control", json={"latency": 2.0}, timeout=5)
        mine, theirs, cpu = paired(
            functools.partial(run, gw, fast, connections=slow_c, seconds=slow_seconds, unique=True),
            functools.partial(
                run, direct, UPSTREAM_KEY, connections=slow_c, seconds=slow_seconds, unique=True
            ),
            repeat,
            gateway.popen.pid,
        )
        httpx.post(f"{upstream.url}/_control", json={"latency": 0.0}, timeout=5)
        rows.append(Row("slow 2s", mode, slow_c, mine, theirs, cpu))
    return rows


def edit_figures(upstream: Proc, seconds: float, repeat: int, smoke: bool) -> dict[str, Any]:
    """The edits scenario on a gateway of its own (so its peak memory is the edits')."""
    store = Path(tempfile.mkdtemp(prefix="bench-edits-")) / "store.json"
    gateway, _ = start_gateway(upstream, {"GATEWAY_STORE_PATH": str(store)})
    try:
        key = create_key(gateway, rpm=1_000_000_000, images_per_day=1_000_000_000)
        return edits.run(
            gateway.url,
            gateway.popen.pid,
            key,
            upstream.url,
            UPSTREAM_KEY,
            seconds=seconds,
            repeat=repeat,
            hold=0.5 if smoke else 2.0,
        )
    finally:
        gateway.stop()


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit non-zero when an expected-clean scenario had errors."""
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--smoke", action="store_true", help="about a second per scenario")
    parser.add_argument(
        "--core",
        action="store_true",
        help="only miss and hit at c=32 on Redis, full length: for before/after comparisons",
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results/latest.json"))
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="runs per figure, median kept (default 3; 1 with --smoke)",
    )
    args = parser.parse_args(argv)
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    full = not (args.smoke or args.core)
    repeat = args.repeat or (1 if args.smoke else 3)
    seconds, slow_seconds, slow_c = (1.0, 3.0, 50) if args.smoke else (10.0, 20.0, 1000)
    idle = after = startup = float("nan")
    rows: list[Row] = []
    procs: list[Proc] = []
    edited: dict[str, Any] | None = None
    try:
        redis = start_redis()
        procs.append(redis)
        up_port = free_port()
        upstream = spawn(
            [
                sys.executable,
                "-m",
                "gateway",
                "fake-upstream",
                "--port",
                str(up_port),
                "--api-key",
                UPSTREAM_KEY,
            ],
            up_port,
            lambda: port_open(up_port),
        )
        procs.append(upstream)
        redis_url = f"redis://127.0.0.1:{redis.port}/0"
        gateway, startup = start_gateway(upstream, {"GATEWAY_REDIS_URL": redis_url})
        procs.append(gateway)
        idle = rss_mb(gateway.popen.pid)
        rows += scenarios(gateway, upstream, "redis", seconds, slow_seconds, slow_c, full, repeat)
        after = rss_mb(gateway.popen.pid)
        if not args.core:
            rows += log_rows(upstream, redis_url, seconds, repeat)
        if not args.core:
            store = Path(tempfile.mkdtemp(prefix="bench-store-")) / "store.json"
            embedded, _ = start_gateway(upstream, {"GATEWAY_STORE_PATH": str(store)})
            procs.append(embedded)
            rows += scenarios(
                embedded, upstream, "embedded", seconds, slow_seconds, slow_c, False, repeat
            )
            edited = edit_figures(upstream, seconds, repeat, args.smoke)
    finally:
        for proc in reversed(procs):
            proc.stop()
    return report(args, rows, repeat, idle, after, startup, edited)


if __name__ == "__main__":
    sys.exit(main())
