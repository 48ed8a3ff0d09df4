"""``python -m bench.compare --before CHECKOUT``: this commit against an older one, in turns.

The "within 5 % of before" figures need the old and the new gateway measured on the same
machine at the same moment: on a shared machine the same code varies more than 5 % between
runs minutes apart. So both gateways run side by side (each on a Redis of its own, both on
one fake upstream), and every round drives one then the other (the order swapped every
other round), for misses and then hits at c=32; each side keeps its median run. The older
checkout runs from its own directory with its own ``.venv`` (``make`` there creates it);
both use their default settings, so what the newer one does by default (the request log,
say) is in its figures.
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.gateways import GENERATIONS, UPSTREAM_KEY, create_key, start_gateway
from bench.machine import commit_of, machine
from bench.turns import alternate
from bench.wrk import WrkResult, run
from gateway.testing.procs import Proc, free_port, port_open, spawn, start_redis


def compare(before: Path, seconds: float, repeat: int, after: Path | None = None) -> dict[str, Any]:
    """Misses and hits at c=32 on the ``before`` checkout's gateway and on ``after``'s
    (this one's when None)."""
    procs: list[Proc] = []
    try:
        port = free_port()
        upstream = spawn(
            [
                sys.executable,
                "-m",
                "gateway",
                "fake-upstream",
                "--port",
                str(port),
                "--api-key",
                UPSTREAM_KEY,
            ],
            port,
            lambda: port_open(port),
        )
        procs.append(upstream)
        gateways: dict[str, Proc] = {}
        for side, checkout in (("before", before), ("after", after)):
            redis = start_redis()
            procs.append(redis)
            url = f"redis://127.0.0.1:{redis.port}/0"
            gateways[side], _ = start_gateway(upstream, {"GATEWAY_REDIS_URL": url}, checkout)
            procs.append(gateways[side])
        keys = {
            side: create_key(gw, rpm=1_000_000_000, images_per_day=1_000_000_000)
            for side, gw in gateways.items()
        }
        for side, gw in gateways.items():
            httpx.post(
                f"{gw.url}{GENERATIONS}",
                json={"model": "dall-e-2", "prompt": "hit"},
                headers={"authorization": f"Bearer {keys[side]}"},
                timeout=10,
            ).raise_for_status()
        found: dict[str, Any] = {}
        for scenario, unique in (("miss", True), ("hit", False)):
            loads = [
                (
                    functools.partial(
                        run,
                        f"{gw.url}{GENERATIONS}",
                        keys[side],
                        connections=32,
                        seconds=seconds,
                        unique=unique,
                        prompt="hit" if scenario == "hit" else "compare",
                    ),
                    gw.popen.pid,
                )
                for side, gw in gateways.items()
            ]
            (old, old_cpu), (new, new_cpu) = alternate(loads, repeat, swap=True)
            found[scenario] = {
                "before": _figures(old, old_cpu),
                "after": _figures(new, new_cpu),
                "rps_ratio": new.rps / old.rps if old.rps else None,
                "cpu_ratio": new_cpu / old_cpu if old_cpu else None,
            }
        return found
    finally:
        for proc in reversed(procs):
            proc.stop()


def _figures(result: WrkResult, cpu_us: float) -> dict[str, float | int]:
    return {
        "rps": result.rps,
        "p50_ms": result.p50_ms,
        "p99_ms": result.p99_ms,
        "cpu_us": cpu_us,
        "errors": result.non_2xx + result.socket_errors,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the comparison, print it, write the JSON; non-zero when a run had errors."""
    parser = argparse.ArgumentParser(prog="python -m bench.compare")
    parser.add_argument("--before", type=Path, required=True, help="the older checkout")
    parser.add_argument(
        "--after", type=Path, default=None, help="the newer checkout (default: this one)"
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="length of one run")
    parser.add_argument("--repeat", type=int, default=5, help="rounds (median kept)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/compare.json"))
    args = parser.parse_args(argv)
    for checkout in (args.before, args.after):
        if checkout is not None and not (checkout / ".venv" / "bin" / "python").exists():
            print(f"{checkout} has no .venv: run make there first", file=sys.stderr)
            return 2
    after = args.after.resolve() if args.after is not None else None
    found = compare(args.before.resolve(), args.seconds, args.repeat, after)
    where = machine()
    old_commit = commit_of(args.before)
    if args.after is not None:
        where["commit"] = commit_of(args.after)
    print(f"{'c=32':<6} {'before rps':>10} {'after rps':>10} {'ratio':>6} {'cpu us':>13}")
    for scenario, row in found.items():
        old, new = row["before"], row["after"]
        print(
            f"{scenario:<6} {old['rps']:>10.0f} {new['rps']:>10.0f} {row['rps_ratio']:>6.3f} "
            f"{old['cpu_us']:>6.0f} {new['cpu_us']:>6.0f}"
        )
    print(
        f"after / before, medians of {args.repeat} alternating runs of {args.seconds:g} s; "
        f"commit {old_commit} -> {where['commit']}, {where['cpus']} x {where['cpu']}"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(
        orjson.dumps(
            {"before": str(args.before), "before_commit": old_commit, **where, "scenarios": found},
            option=orjson.OPT_INDENT_2,
        )
    )
    errors = sum(row[side]["errors"] for row in found.values() for side in ("before", "after"))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
